"""What happens after a device checks in: read what it runs and its Object 5, and carry out what the upgrade state
machine (domain/upgrade/machine.py) decides, one action at a time, while the device stays awake.

Each decision is a committed step in services/upgrades before the device is asked to act, so a crash anywhere
resumes at the next check-in without repeating an Update.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from fota.adapters import metrics
from fota.adapters.batching import Batcher
from fota.adapters.delivery.gate import DownloadGate
from fota.adapters.lwm2m.device_client import DeviceClient, DeviceUnreachable, as_int
from fota.domain.bandwidth import BudgetWait
from fota.domain.upgrade import (
    Assignment,
    Claim,
    Conclude,
    DeliveryMethod,
    ExecuteUpdate,
    HoldForInstall,
    Observation,
    OfferPackage,
    Outcome,
    ReadStatus,
    RecordDownloaded,
    ResendUpdate,
    Step,
    TransferProtocol,
    UpdateState,
    Wait,
    choose_transfer,
    next_action,
)
from fota.services import bandwidth, registrations, upgrades
from fota.services.context import ServiceContext
from fota.services.upgrades import Offer

log = logging.getLogger(__name__)

DEVICE, MANUFACTURER, MODEL, FIRMWARE_VERSION = (3, 0), (3, 0, 0), (3, 0, 1), (3, 0, 3)
TIMEZONE = (3, 0, 15)
FU = (5, 0)
PACKAGE, PACKAGE_URI, UPDATE, STATE, RESULT = (5, 0, 0), (5, 0, 1), (5, 0, 2), (5, 0, 3), (5, 0, 5)
PROTOCOL_SUPPORT, DELIVERY_METHOD = (5, 0, 8), (5, 0, 9)


@dataclass(frozen=True)
class FirmwareUpdateStatus:
    state: int
    result: int
    delivery: DeliveryMethod | None
    protocols: set[int]


@dataclass(frozen=True)
class SessionConfig:
    coap_base_url: str
    http_base_url: str
    awake_seconds: float = 60.0
    poll_seconds: float = 2.0
    node: str | None = None  # this LwM2M process's name in registrations; None skips the ownership checks
    # How long a new upgrade start waits in line for a download place while the device is awake; past it the start
    # waits for the next check-in (docs/adr/0028). Well inside a queue-mode device's awake spell.
    start_wait_seconds: float = 5.0


class StepBatches:
    """Group commit for the steps a wave of check-ins takes at once: claims, and package offers (the step to
    Downloading with its download link). Each session still waits for its own step's commit before it acts."""

    def __init__(self, services: ServiceContext) -> None:
        self.claims: Batcher[tuple[Assignment, str], bool] = Batcher(
            lambda items: upgrades.claim_many(
                uow=services.uow(), clock=services.clock, policy=services.policy, claims=items
            ),
            name="lwm2m-claims",
        )
        self.offers: Batcher[Offer, str | None] = Batcher(
            lambda items: upgrades.offer_many(
                uow=services.uow(), clock=services.clock, policy=services.policy, offers=items
            ),
            name="lwm2m-offers",
        )

    async def close(self) -> None:
        await self.claims.close()
        await self.offers.close()


class DownloadWatch:
    """Observes State and Update Result while the device stays awake, one reading at a time.

    Notifications may be lost (they are often non-confirmable), so a quiet spell falls back to a read.
    """

    def __init__(self, client: DeviceClient, config: SessionConfig) -> None:
        self.client = client
        self.config = config
        self._stack = contextlib.AsyncExitStack()
        self._result: int | None = None
        self._deadline = 0.0

    async def __aenter__(self) -> Self:
        self._states = await self._stack.enter_async_context(self.client.observe(STATE))
        self._results = await self._stack.enter_async_context(self.client.observe(RESULT))
        self._deadline = asyncio.get_running_loop().time() + self.config.awake_seconds
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self._stack.aclose()

    async def next(self) -> tuple[int, int] | None:
        """The next (State, Update Result), or None once the device's awake spell is over."""
        if asyncio.get_running_loop().time() >= self._deadline:
            return None
        try:
            state = as_int(await asyncio.wait_for(self._states.get(), self.config.poll_seconds))
        except TimeoutError:
            state = as_int(await self.client.read_value(STATE))
        while not self._results.empty():
            self._result = as_int(self._results.get_nowait())
        if state == UpdateState.IDLE and (self._result is None or self._result <= 1):
            self._result = as_int(await self.client.read_value(RESULT))  # a failure's notification may be lost
        return state, self._result or 0


class DeviceSession:
    def __init__(
        self,
        services: ServiceContext,
        client: DeviceClient,
        device_id: str,
        config: SessionConfig,
        batches: StepBatches,
        places: DownloadGate | None = None,
    ) -> None:
        self.services = services
        self.client = client
        self.device_id = device_id
        self.config = config
        self.batches = batches
        self.places = places
        self._here = False
        self._reserved = False  # holds a download place not yet handed to a download's token

    async def _call(self, function: Any, **kwargs: Any) -> Any:
        """Runs a (synchronous, transactional) service function off the event loop."""
        return await asyncio.to_thread(function, clock=self.services.clock, **kwargs)

    async def run(
        self,
        *,
        registered: bool,
        assignment: Assignment | None = None,
        assignment_known: bool = False,
        here: bool = False,
    ) -> None:
        """`assignment_known`: `assignment` was read with the check-in that started this exchange, so it is not read
        again. `here`: that check-in found the device's registration held by this process (no need to ask again)."""
        self._here = here
        try:
            await self._run(registered=registered, assignment=assignment, assignment_known=assignment_known)
        except DeviceUnreachable as error:
            # The device went back to sleep or lost its link; its step is stored and time-outs guard it.
            log.info("device %s unreachable: %s", self.device_id, error)
        finally:
            self._give_back_place()

    @property
    def _place_key(self) -> str:
        return f"start:{self.device_id}"

    async def _take_place(self) -> bool:
        """A download place for the upgrade this device exchange is about to start (or offer again); False when the
        process has none for it within the start's wait, and the start waits for the device's next check-in."""
        if self.places is None or self._reserved:
            return True
        if await self.places.reserve(self._place_key, timeout=self.config.start_wait_seconds):
            self._reserved = True
            return True
        metrics.DOWNLOAD_STARTS_DEFERRED.inc()
        log.info("device %s: no download place free; the start waits for its next check-in", self.device_id)
        return False

    def _give_back_place(self) -> None:
        if self.places is not None and self._reserved:
            self.places.release(self._place_key)
        self._reserved = False

    def _hand_place_to(self, token: str | None) -> None:
        """The download by `token` (a pull) keeps the place its start took; a push or no offer gives it back."""
        if self.places is not None and self._reserved and token is not None:
            self.places.bind(self._place_key, token)
            self._reserved = False
        self._give_back_place()

    async def _run(self, *, registered: bool, assignment: Assignment | None, assignment_known: bool) -> None:
        if not assignment_known:
            assignment = await self._current_assignment()
        firmware: str | None = None
        zone: str | None = None
        read_at = self.services.clock.now()
        if registered or (assignment is not None and assignment.step is Step.UPDATING):
            firmware, zone = await self._read_firmware()
        # The check-in itself was recorded with the registration; only a reported firmware (and the zone read with
        # it) needs a write here, and only a changed firmware can change the assignment (an auto-add campaign may
        # have enrolled the device).
        if (firmware is not None or zone is not None) and await self._call(
            upgrades.device_reported,
            uow=self.services.uow(),
            device_id=self.device_id,
            firmware=firmware,
            time_zone=zone,
            read_at=read_at,
        ):
            assignment = await self._current_assignment()
        if assignment is None:
            return
        log.info(
            "device %s: %s check-in, upgrade step %s",
            self.device_id,
            "registration" if registered else "update",
            assignment.step.value if assignment.step else "pending",
        )
        if await self._moved_away():
            return
        await self._drive(assignment, firmware)

    async def _current_assignment(self) -> Assignment | None:
        found: Assignment | None = await self._call(
            upgrades.current_assignment, uow=self.services.reader(), device_id=self.device_id
        )
        return found

    async def _moved_away(self) -> bool:
        """True when the device has since registered at another LwM2M process, which now drives its upgrade."""
        if self.config.node is None:
            return False
        if self._here:
            self._here = False  # true when the check-in was read; a later step asks again
            return False
        moved: bool = await asyncio.to_thread(
            registrations.held_elsewhere, uow=self.services.reader(), device_id=self.device_id, node=self.config.node
        )
        if moved:
            log.info("device %s: registered at another LwM2M process; stopping here", self.device_id)
        return moved

    async def _drive(self, assignment: Assignment, firmware: str | None) -> None:
        """Carries out the machine's actions until one leaves the next move to the device's next check-in."""
        status: FirmwareUpdateStatus | None = None
        observed: Observation | None = None
        watch: DownloadWatch | None = None  # open while the device is watched taking up the package
        gates_fresh = False
        async with contextlib.AsyncExitStack() as watching:
            while True:
                now = self.services.clock.now()
                match next_action(assignment, observed, now=now, awaiting_download=watch is not None):
                    case Claim():
                        if not await self._take_place():
                            return
                        if not await self.batches.claims.submit((assignment, self.device_id)):
                            return
                        metrics.UPGRADE_STEPS.labels(Step.STARTING.value).inc()
                        assignment = assignment.claimed(self.services.policy, now)
                    case ReadStatus():
                        status = await self._read_status()
                        log.info(
                            "device %s: state %d, update result %d, delivery %s",
                            self.device_id,
                            status.state,
                            status.result,
                            status.delivery,
                        )
                        if assignment.step is Step.UPDATING and firmware is None:
                            read_at = self.services.clock.now()
                            firmware, zone = await self._read_firmware()  # the verdict after an Update needs it
                            await self._call(
                                upgrades.device_reported,
                                uow=self.services.uow(),
                                device_id=self.device_id,
                                firmware=firmware,
                                time_zone=zone,
                                read_at=read_at,
                            )
                        observed = Observation(status.state, status.result, firmware, status.delivery)
                    case OfferPackage(method=method):
                        assert status is not None
                        if not await self._take_place():
                            return
                        if not await self._deliver(assignment, status, method):
                            return
                        assignment = assignment.moved_to(Step.DOWNLOADING, self.services.policy, now)
                        if watch is None:
                            watch = await watching.enter_async_context(DownloadWatch(self.client, self.config))
                        observed = await self._watched(watch, firmware)
                    case Wait(why=why) if why.device_busy:
                        if watch is None:
                            watch = await watching.enter_async_context(DownloadWatch(self.client, self.config))
                        observed = await self._watched(watch, firmware)
                    case RecordDownloaded():
                        if not await self._advance(assignment, Step.DOWNLOADED):
                            return
                        assignment = assignment.moved_to(Step.DOWNLOADED, self.services.policy, now)
                        await watching.aclose()  # the download is over: nothing left to watch
                        watch = None
                    case ExecuteUpdate() | HoldForInstall() if assignment.install_gated and not gates_fresh:
                        # A download can take the whole awake spell: the install gate is read afresh before it counts.
                        assignment = await self._call(
                            upgrades.fresh_gates, uow=self.services.reader(), assignment=assignment
                        )
                        gates_fresh = True
                    case ExecuteUpdate():
                        await self._execute(assignment)
                        return
                    case ResendUpdate():
                        # The Execute never arrived (the device still holds the package, not run): send it again.
                        await self.client.execute(UPDATE)
                        return
                    case HoldForInstall():
                        await self._call(
                            upgrades.wait_for_install,
                            uow=self.services.uow(),
                            policy=self.services.policy,
                            assignment=assignment,
                            device_id=self.device_id,
                        )
                        log.info(
                            "device %s: package downloaded; the Update waits for the install window", self.device_id
                        )
                        return
                    case Conclude(outcome=outcome, timed_out=timed_out):
                        await self._conclude(assignment, outcome, expired_by=now if timed_out else None)
                        return
                    case Wait(why=why):
                        log.info("device %s: %s", self.device_id, why.value)
                        return
                if observed is None and watch is not None:
                    return  # the awake spell is over; the next check-in resumes from the stored step

    async def _watched(self, watch: DownloadWatch, firmware: str | None) -> Observation | None:
        reading = await watch.next()
        return None if reading is None else Observation(reading[0], reading[1], firmware)

    async def _read_firmware(self) -> tuple[str | None, str | None]:
        """Reads the Device object (/3/0: manufacturer, model, firmware version, Timezone), or /3/0/3 alone if /3/0
        fails; returns the firmware version and the Timezone (IANA, /3/0/15), each None when the device has none.
        The zone comes with the same read: a device without the resource costs no extra request."""
        try:
            values = await self.client.read(DEVICE)
            firmware = values.get(FIRMWARE_VERSION)
        except DeviceUnreachable:
            values = {}
            firmware = await self.client.read_value(FIRMWARE_VERSION)
        zone = values.get(TIMEZONE)
        log.debug(
            "device %s reports %s %s firmware %s zone %s",
            self.device_id,
            values.get(MANUFACTURER),
            values.get(MODEL),
            firmware,
            zone,
        )
        return (firmware if isinstance(firmware, str) else None), (zone if isinstance(zone, str) and zone else None)

    async def _read_status(self) -> FirmwareUpdateStatus:
        try:
            values = await self.client.read(FU)
        except DeviceUnreachable:
            values = {}
            for path in (STATE, RESULT):
                values[path] = await self.client.read_value(path) or 0
        delivery_value = values.get(DELIVERY_METHOD)
        delivery = DeliveryMethod(as_int(delivery_value)) if delivery_value is not None else None
        protocols = {as_int(v) for p, v in values.items() if p[:3] == PROTOCOL_SUPPORT}
        return FirmwareUpdateStatus(as_int(values.get(STATE)), as_int(values.get(RESULT)), delivery, protocols)

    async def _advance(self, assignment: Assignment, to: Step) -> bool:
        moved: bool = await self._call(
            upgrades.advance,
            uow=self.services.uow(),
            policy=self.services.policy,
            assignment=assignment,
            device_id=self.device_id,
            to=to,
        )
        if moved:
            metrics.UPGRADE_STEPS.labels(to.value).inc()
        return moved

    async def _conclude(self, assignment: Assignment, outcome: Outcome, *, expired_by: datetime | None) -> None:
        log.info("device %s: %s", self.device_id, outcome.reason)
        status = await self._call(
            upgrades.conclude,
            uow=self.services.uow(),
            policy=self.services.policy,
            campaign_id=assignment.campaign_id,
            account_name=assignment.account_name,
            device_id=self.device_id,
            outcome=outcome,
            attempts=assignment.attempts,
            expected_step=assignment.step,
            expired_by=expired_by,
        )
        metrics.record_outcome(status)

    async def _deliver(self, assignment: Assignment, status: FirmwareUpdateStatus, method: DeliveryMethod) -> bool:
        """Sends the package offer the machine chose; False when the attempt moved on meanwhile (timed out, or
        concluded elsewhere) and nothing was sent."""
        push = method is DeliveryMethod.PUSH
        token = await self.batches.offers.submit(Offer(assignment, self.device_id, "push" if push else "pull"))
        # Before the Package URI goes out: the device's first block finds its place held.
        self._hand_place_to(None if push else token)
        if token is None:
            return False
        metrics.UPGRADE_STEPS.labels(Step.DOWNLOADING.value).inc()
        if push:
            found = await self._call(upgrades.resolve_download, uow=self.services.reader(), token=token)
            if found is None or found[1] is None:
                raise DeviceUnreachable(
                    "the firmware image is missing: upload it with PUT /admin/v1/firmware/{name}/image"
                )
            link, image = found
            if link.bandwidth is not None:
                # A push writes the whole image at once: the hour's budget must carry all of it (docs/adr/0024).
                reserved = await self._call(
                    bandwidth.reserve_for_download,
                    uow=self.services.uow(),
                    link=link,
                    remaining=len(image),
                    image_size=len(image),
                    first=True,
                )
                if isinstance(reserved, BudgetWait) or reserved.bytes < len(image):
                    raise DeviceUnreachable("the push waits for the campaign's bandwidth budget")
            await self.client.push(PACKAGE, image)
            metrics.record_download("coap", len(found[1]), complete=True)  # a push is a CoAP delivery too
            return True
        transfer = choose_transfer(status.protocols)
        base = self.config.http_base_url if transfer is TransferProtocol.HTTP else self.config.coap_base_url
        await self.client.write_text(PACKAGE_URI, f"{base}/fw/{token}")
        return True

    async def _execute(self, assignment: Assignment) -> None:
        # Checked again here: a download can take the whole awake spell, long enough to have moved meanwhile.
        # (Only one process can mark Updating in any case; this keeps the other from even trying.)
        if await self._moved_away():
            return
        marked = await self._call(
            upgrades.mark_update_executing,
            uow=self.services.uow(),
            policy=self.services.policy,
            assignment=assignment,
            device_id=self.device_id,
        )
        if marked:
            metrics.UPGRADE_STEPS.labels(Step.UPDATING.value).inc()
            log.info("device %s: executing Update", self.device_id)
            await self.client.execute(UPDATE)
