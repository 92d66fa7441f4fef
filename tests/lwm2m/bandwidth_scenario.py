"""The bandwidth acceptance scenario, shared by one server (tests/lwm2m/test_bandwidth.py) and two LwM2M processes on
one PostgreSQL database (tests/multiprocess/test_shared_bandwidth.py): a budgeted campaign whose devices download over
real CoAP, hour after simulated hour, with the bytes the devices received counted per hour of the simulated clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from fota.adapters.storage.database import make_engine
from fota.adapters.storage.tables import campaign_bandwidth
from fota.domain.bandwidth import BandwidthBudget
from fota.simulator.device import DeviceConfig, SimulatedDevice
from tests.fota_server import Account, FotaServer
from tests.lwm2m.harness import FROM, MAKE, MODEL, TO, device_report

HOUR = timedelta(hours=1)


def template(coap_url: str) -> DeviceConfig:
    return DeviceConfig(
        server=coap_url,
        make=MAKE,
        model=MODEL,
        firmware=FROM,
        checkin_interval=0.5,
        awake_seconds=4.0,
        reboot_seconds=0.3,
        lifetime=3600,
        transfer_timeout=5.0,
    )


def budget_campaign(
    account: Account, firmware: dict[str, str], imeis: list[str], day: date, bytes_per_hour: int
) -> str:
    body = {
        "firmwareName": firmware["firmwareName"],
        "firmwareFrom": FROM,
        "firmwareTo": TO,
        "protocol": "LWM2M",
        "startDate": day.isoformat(),
        "endDate": (day + timedelta(days=1)).isoformat(),
        "deviceList": imeis,
        "autoAssignLicenseFlag": True,
        "autoAddDevicesFlag": False,
        "campaignName": "bandwidth budget",
        "bandwidth": {"bytesPerHour": bytes_per_hour},
    }
    with account.client() as client:
        r = client.post(f"/campaigns/firmware/{account.name}", json=body)
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def nine_tomorrow(server: FotaServer) -> datetime:
    """09:00 UTC tomorrow: a fresh day whose hours the test can walk (the simulated clock never moves back)."""
    return datetime.combine(server.now().date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC).replace(hour=9)


async def until(predicate: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await asyncio.to_thread(predicate):
        assert loop.time() < deadline, what
        await asyncio.sleep(0.2)


async def walk_hours(
    clock: FotaServer,
    account: Account,
    campaign_id: str,
    devices: Sequence[SimulatedDevice],
    *,
    first_hour: datetime,
    bytes_per_hour: int,
    image_size: int,
) -> dict[datetime, int]:
    """Hour after hour from `first_hour` (the clock stands in it already): waits until every device the hour can
    carry has upgraded and every other one waits with the budget's reason, then moves to the next hour. Returns the
    package bytes the devices received in each hour; the clock only moves once nothing is left in flight."""
    per_hour = bytes_per_hour // image_size
    received: dict[datetime, int] = {}
    counted = 0
    hour = first_hour
    done = 0
    while done < len(devices):
        done = min(len(devices), done + per_hour)
        reason = BandwidthBudget(bytes_per_hour).wait(hour).reason

        def settled(done: int = done, reason: str = reason, hour: datetime = hour) -> bool:
            rows = list(device_report(account, campaign_id).values())
            succeeded = [r for r in rows if r["status"] == "UpgradeSuccess"]
            waiting = [
                r
                for r in rows
                if r["status"] == "UpgradePending"
                and r["resultReason"] == reason
                and r["nextAttemptTime"] is not None
                and datetime.fromisoformat(str(r["nextAttemptTime"])) == hour + HOUR
            ]
            return len(succeeded) == done and len(waiting) == len(rows) - done

        await until(settled, f"the {hour:%H}:00 hour: {done} devices upgraded, the others waiting for the budget")
        now_received = sum(d.package_bytes_received for d in devices)
        received[hour] = now_received - counted
        counted = now_received
        hour += HOUR
        await asyncio.to_thread(clock.set_clock, hour + timedelta(seconds=1))
    return received


def counters(database_url: str, campaign_id: str) -> dict[datetime, int]:
    """The bytes reserved per hour, as the counter table holds them."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(campaign_bandwidth.c.hour, campaign_bandwidth.c.bytes).where(
                    campaign_bandwidth.c.campaign_id == campaign_id
                )
            ).all()
    finally:
        engine.dispose()
    return {hour: int(amount) for hour, amount in rows}
