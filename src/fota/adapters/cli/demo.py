"""`fota serve --demo`: a demo account, credentials, firmware with a real image, a fleet of simulated LwM2M
devices and a campaign whose window is open, so a newcomer watches devices upgrade in the console at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import timedelta

from rich.console import Console

from fota.domain.errors import Conflict
from fota.domain.statuses import CampaignStatus, DeviceStatus
from fota.services import admin, campaigns, insight
from fota.services.context import ServiceContext
from fota.simulator.device import DeviceConfig
from fota.simulator.fleet import Fleet
from fota.simulator.package import build_image

log = logging.getLogger(__name__)

ACCOUNT = "0000123456-00001"
CLIENT_ID = "demo-client"
CLIENT_SECRET = "demo-client-secret"  # noqa: S105 - a published demo credential, local only
USERNAME = "demo"
PASSWORD = "demo-password"  # noqa: S105 - a published demo credential, local only
MAKE, MODEL = "SEQUANS Communications", "GM01Q"
FIRMWARE_FROM, FIRMWARE_TO = "SR1.2.0.0-10512", "SR1.2.0.0-10657"
FIRMWARE_NAME = f"SEQUANSCommunications_{MODEL}_{FIRMWARE_FROM}_{FIRMWARE_TO}"
IMAGE_BYTES = 16 * 1024
DEVICES = 300
IMEI_START = 350000000000001
PROGRESS_SECONDS = 5.0


def provision_demo(services: ServiceContext, *, admin_token: str, base_url: str) -> str:
    """Idempotent: a second run finds the account in place, re-arms the devices and starts a fresh campaign.

    Returns the id of the live demo campaign.
    """
    steps: list[Callable[[], object]] = [
        lambda: admin.create_account(
            uow=services.uow(), clock=services.clock, name=ACCOUNT, license_count=1000, purchase_type="TS-HFOTA-EVNT"
        ),
        lambda: admin.create_client(
            uow=services.uow(),
            clock=services.clock,
            hasher=services.hasher,
            account_name=ACCOUNT,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
        ),
        lambda: admin.create_user(
            uow=services.uow(),
            clock=services.clock,
            hasher=services.hasher,
            account_name=ACCOUNT,
            username=USERNAME,
            password=PASSWORD,
        ),
        lambda: admin.create_firmware(
            uow=services.uow(),
            clock=services.clock,
            name=FIRMWARE_NAME,
            make=MAKE,
            model=MODEL,
            firmware_from=FIRMWARE_FROM,
            firmware_to=FIRMWARE_TO,
            protocol="LWM2M",
            release_note="Demo release",
            launch_date=None,
        ),
    ]
    for step in steps:
        with contextlib.suppress(Conflict):
            step()
    admin.store_firmware_image(
        uow=services.uow(),
        verifier=services.verifier,
        name=FIRMWARE_NAME,
        data=build_image(FIRMWARE_TO, IMAGE_BYTES),
        signing_required=services.require_signed_firmware,  # the demo's image is unsigned: it refuses to run then
    )
    imeis = [str(IMEI_START + n) for n in range(DEVICES)]
    # The simulated devices boot on the old firmware every run; the server learns so at their registration.
    admin.provision_devices(
        uow=services.uow(),
        clock=services.clock,
        account_name=ACCOUNT,
        specs=[
            admin.DeviceSpec(imei, MAKE, MODEL, FIRMWARE_FROM, "LWM2M", f"555{n:07d}") for n, imei in enumerate(imeis)
        ],
    )
    today = services.clock.now().date()
    campaign = campaigns.create_campaign(
        uow=services.uow(),
        clock=services.clock,
        account_name=ACCOUNT,
        signing_required=services.require_signed_firmware,
        request=campaigns.CampaignCreate(
            firmware_name=FIRMWARE_NAME,
            firmware_from=FIRMWARE_FROM,
            firmware_to=FIRMWARE_TO,
            protocol="LWM2M",
            start_date=today,
            end_date=today + timedelta(days=7),
            device_ids=imeis,
            auto_assign_license=True,
            auto_add_devices=False,
            campaign_name=f"Demo rollout {FIRMWARE_TO}",
        ),
    )
    _retire_older_demo_campaigns(services, keep=campaign.id)
    lines = [
        f"fota demo on {base_url}",
        f"  console        {base_url}/console   account {ACCOUNT}, user {USERNAME} / {PASSWORD}",
        f"  campaign       {base_url}/console/campaigns/{campaign.id}",
        f"  OAuth client   {CLIENT_ID} / {CLIENT_SECRET}    POST {base_url}/api/ts/v1/oauth2/token",
        f"  M2M session    {USERNAME} / {PASSWORD}    POST {base_url}/api/m2m/v1/session/login",
        f"  firmware       {FIRMWARE_NAME} ({IMAGE_BYTES // 1024} KiB image)",
        f"  devices        {DEVICES} simulated LwM2M devices {imeis[0]} .. {imeis[-1]} on {FIRMWARE_FROM}",
        f"  admin token    {admin_token}",
        f"  API docs       {base_url}/docs",
    ]
    Console(soft_wrap=True).print("\n".join(lines), highlight=False, markup=False)
    return campaign.id


def _retire_older_demo_campaigns(services: ServiceContext, *, keep: str) -> None:
    """Earlier runs' demo campaigns would hold the devices: cancel or abort them."""
    uow = services.reader()
    with uow:
        live = [
            x
            for status in (CampaignStatus.QUEUED, CampaignStatus.PRE_SCHEDULED, CampaignStatus.SCHEDULED)
            for x in uow.campaigns.page_by_status(ACCOUNT, status, after=None, limit=1000)
        ]
    for campaign in live:
        if campaign.id != keep:
            campaigns.cancel_campaign(
                uow=services.uow(), clock=services.clock, account_name=ACCOUNT, campaign_id=campaign.id
            )


class DemoFleet:
    """The simulated devices, run inside the server's own event loop."""

    def __init__(self, coap_url: str) -> None:
        template = DeviceConfig(
            server=coap_url,
            make=MAKE,
            model=MODEL,
            firmware=FIRMWARE_FROM,
            checkin_interval=20.0,
            awake_seconds=15.0,
            reboot_seconds=3.0,
            lifetime=300,
        )
        self.fleet = Fleet(DEVICES, template, imei_start=IMEI_START, stagger=0.05)
        self._booting: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # Boot in the background: the devices' staggered registrations must not hold up the server's start-up.
        self._booting = asyncio.create_task(self.fleet.start(), name="demo-fleet")
        log.info("demo fleet of %d simulated devices starting", DEVICES)

    async def stop(self) -> None:
        if self._booting is not None and not self._booting.done():
            self._booting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._booting
        await self.fleet.stop()


class DemoProgress:
    """One line of per-status counts every few seconds until every device's upgrade is over, then a last line.

    The default demo log is at WARNING, so this is what a newcomer watches on the terminal; `--log-level info` adds
    the full log of every device step.
    """

    def __init__(self, services: ServiceContext, campaign_id: str, *, every: float = PROGRESS_SECONDS) -> None:
        self.services = services
        self.campaign_id = campaign_id
        self.every = every
        self.console = Console(soft_wrap=True, highlight=False)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="demo-progress")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        started = self.services.clock.now()
        while True:
            await asyncio.sleep(self.every)
            counts = await asyncio.to_thread(self._counts)
            elapsed = int((self.services.clock.now() - started).total_seconds())
            self.console.print(f"  {elapsed:4d} s  {summary_line(counts)}", markup=False)
            if counts.enrolled and counts.concluded == counts.enrolled:
                self.console.print(
                    f"  all {counts.enrolled} devices done: {counts.succeeded} upgraded to {FIRMWARE_TO}; "
                    "the console keeps the history (make run RUN_ARGS='--log-level info' for the full log)",
                    markup=False,
                )
                return

    def _counts(self) -> insight.StatusCounts:
        summary = insight.campaign_summary(
            uow=self.services.reader(), account_name=ACCOUNT, campaign_id=self.campaign_id
        )
        return summary.counts


def summary_line(counts: insight.StatusCounts) -> str:
    """`UpgradePending 120 · UpgradeInProgress 150 · UpgradeSuccess 30`: the statuses that have devices, in order."""
    present = [f"{status.value} {counts.of(status)}" for status in DeviceStatus if counts.of(status)]
    return " · ".join(present) or "no devices enrolled yet"
