"""What happens after a device checks in: read what it runs, then start or resume its upgrade.

Each decision is a committed step in services/upgrades before the device is asked to act, so a crash anywhere
resumes at the next check-in without repeating an Update.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from typing import Any

from fota.adapters import metrics
from fota.adapters.lwm2m.batching import Batcher
from fota.adapters.lwm2m.device_client import DeviceClient, DeviceUnreachable, as_int
from fota.domain.upgrade import (
    DeliveryMethod,
    Outcome,
    Step,
    TransferProtocol,
    UpdateState,
    choose_delivery,
    choose_transfer,
    outcome_after_reboot,
    outcome_of_result,
)
from fota.services import registrations, upgrades
from fota.services.context import ServiceContext
from fota.services.upgrades import Assignment, Offer

log = logging.getLogger(__name__)

DEVICE, MANUFACTURER, MODEL, FIRMWARE_VERSION = (3, 0), (3, 0, 0), (3, 0, 1), (3, 0, 3)
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


class StepBatches:
    """Group commit for the steps a wave of check-ins takes at once: claims, and package offers (the step to
    Downloading with its download link). Each session still waits for its own step's commit before it acts."""

    def __init__(self, services: ServiceContext) -> None:
        self.claims: Batcher[tuple[Assignment, str], bool] = Batcher(
            lambda items: upgrades.claim_many(
                uow=services.uow(), clock=services.clock, policy=services.policy, claims=items
            )
        )
        self.offers: Batcher[Offer, str | None] = Batcher(
            lambda items: upgrades.offer_many(
                uow=services.uow(), clock=services.clock, policy=services.policy, offers=items
            )
        )

    async def close(self) -> None:
        await self.claims.close()
        await self.offers.close()


class DeviceSession:
    def __init__(
        self,
        services: ServiceContext,
        client: DeviceClient,
        device_id: str,
        config: SessionConfig,
        batches: StepBatches,
    ) -> None:
        self.services = services
        self.client = client
        self.device_id = device_id
        self.config = config
        self.batches = batches
        self._here = False

    async def _call(self, function: Any, **kwargs: Any) -> Any:
        """Runs a (synchronous, transactional) service function off the event loop."""
        return await asyncio.to_thread(function, clock=self.services.clock, **kwargs)

    async def run(
        self, *, registered: bool, work: Assignment | None = None, work_known: bool = False, here: bool = False
    ) -> None:
        """`work_known`: `work` was read with the check-in that started this exchange, so it is not read again.
        `here`: that check-in found the device's registration held by this process (no need to ask again)."""
        self._here = here
        try:
            await self._run(registered=registered, work=work, work_known=work_known)
        except DeviceUnreachable as error:
            # The device went back to sleep or lost its link; its step is stored and time-outs guard it.
            log.info("device %s unreachable: %s", self.device_id, error)

    async def _run(self, *, registered: bool, work: Assignment | None, work_known: bool) -> None:
        if not work_known:
            work = await self._call(upgrades.current_work, uow=self.services.reader(), device_id=self.device_id)
        firmware: str | None = None
        if registered or (work is not None and work.step is Step.UPDATING):
            firmware = await self._read_firmware()
        # The check-in itself was recorded with the registration; only a reported firmware needs a write here,
        # and only a changed one can change the work (an auto-add campaign may have enrolled the device).
        if firmware is not None and await self._call(
            upgrades.device_reported, uow=self.services.uow(), device_id=self.device_id, firmware=firmware
        ):
            work = await self._call(upgrades.current_work, uow=self.services.reader(), device_id=self.device_id)
        if work is None:
            return
        log.info(
            "device %s: %s check-in, upgrade step %s",
            self.device_id,
            "registration" if registered else "update",
            work.step.value if work.step else "pending",
        )
        await self._drive(work, firmware)

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

    async def _drive(self, work: Assignment, firmware: str | None) -> None:
        if await self._moved_away():
            return
        if work.step is None:
            claimed = await self.batches.claims.submit((work, self.device_id))
            if not claimed:
                return
            metrics.UPGRADE_STEPS.labels(Step.STARTING.value).inc()
            work = replace(work, step=Step.STARTING, attempts=work.attempts + 1)
        status = await self._read_status()
        log.info(
            "device %s: state %d, update result %d, delivery %s",
            self.device_id,
            status.state,
            status.result,
            status.delivery,
        )
        if work.step is Step.UPDATING:
            await self._after_update(work, status, firmware)
            return
        if work.step in (Step.STARTING, Step.DOWNLOADING):
            if status.state == UpdateState.DOWNLOADED:
                await self._advance(work, (Step.STARTING, Step.DOWNLOADING), Step.DOWNLOADED)
            elif status.state == UpdateState.DOWNLOADING:
                if not await self._wait_for_download(work):
                    return
            elif status.state == UpdateState.IDLE:
                if work.step is Step.DOWNLOADING and status.result > 1:
                    await self._conclude(work, outcome_of_result(status.result), Step.DOWNLOADING)
                    return
                if not work.may_download:
                    return  # the package is offered (again) only while a download window is open
                await self._deliver(work, status)
                if not await self._wait_for_download(work):
                    return
            else:
                return  # Updating without our Execute: let it finish and report at the next check-in
            work = replace(work, step=Step.DOWNLOADED)
        if work.step is Step.DOWNLOADED:
            await self._execute(work)

    async def _read_firmware(self) -> str | None:
        """Reads the Device object (/3/0: manufacturer, model, firmware version), or /3/0/3 alone if /3/0 fails."""
        try:
            values = await self.client.read(DEVICE)
            firmware = values.get(FIRMWARE_VERSION)
        except DeviceUnreachable:
            values = {}
            firmware = await self.client.read_value(FIRMWARE_VERSION)
        log.debug(
            "device %s reports %s %s firmware %s", self.device_id, values.get(MANUFACTURER), values.get(MODEL), firmware
        )
        return firmware if isinstance(firmware, str) else None

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

    async def _advance(
        self, work: Assignment, from_steps: tuple[Step, ...], to: Step, delivery: str | None = None
    ) -> bool:
        moved: bool = await self._call(
            upgrades.advance,
            uow=self.services.uow(),
            policy=self.services.policy,
            assignment=work,
            device_id=self.device_id,
            from_steps=from_steps,
            to=to,
            delivery=delivery,
        )
        if moved:
            metrics.UPGRADE_STEPS.labels(to.value).inc()
        return moved

    async def _conclude(self, work: Assignment, outcome: Outcome | None, expected: Step) -> None:
        if outcome is None:
            return
        log.info("device %s: %s", self.device_id, outcome.reason)
        status = await self._call(
            upgrades.conclude,
            uow=self.services.uow(),
            policy=self.services.policy,
            campaign_id=work.campaign_id,
            account_name=work.account_name,
            device_id=self.device_id,
            outcome=outcome,
            attempts=work.attempts,
            expected_step=expected,
        )
        metrics.record_outcome(status)

    async def _deliver(self, work: Assignment, status: FirmwareUpdateStatus) -> None:
        method = choose_delivery(status.delivery)
        push = method is DeliveryMethod.PUSH
        token = await self.batches.offers.submit(Offer(work, self.device_id, "push" if push else "pull"))
        if token is None:
            return  # the attempt moved on meanwhile (timed out, or concluded elsewhere)
        metrics.UPGRADE_STEPS.labels(Step.DOWNLOADING.value).inc()
        if push:
            found = await self._call(upgrades.resolve_download, uow=self.services.reader(), token=token)
            if found is None or found[1] is None:
                raise DeviceUnreachable(
                    "the firmware image is missing: upload it with PUT /admin/v1/firmware/{name}/image"
                )
            await self.client.push(PACKAGE, found[1])
            metrics.record_download("coap", len(found[1]), complete=True)  # a push is a CoAP delivery too
            return
        transfer = choose_transfer(status.protocols)
        base = self.config.http_base_url if transfer is TransferProtocol.HTTP else self.config.coap_base_url
        await self.client.write_text(PACKAGE_URI, f"{base}/fw/{token}")

    async def _wait_for_download(self, work: Assignment) -> bool:
        """Observes State and Update Result while the device stays awake; True once Downloaded is recorded.

        Notifications may be lost (they are often non-confirmable), so a quiet spell falls back to a read.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.awake_seconds
        result: int | None = None
        async with self.client.observe(STATE) as states, self.client.observe(RESULT) as results:
            while loop.time() < deadline:
                try:
                    state = as_int(await asyncio.wait_for(states.get(), self.config.poll_seconds))
                except TimeoutError:
                    state = as_int(await self.client.read_value(STATE))
                while not results.empty():
                    result = as_int(results.get_nowait())
                if state == UpdateState.DOWNLOADED:
                    return await self._advance(work, (Step.STARTING, Step.DOWNLOADING), Step.DOWNLOADED)
                if state == UpdateState.IDLE:
                    if result is None or result <= 1:
                        result = as_int(await self.client.read_value(RESULT))
                    if result > 1:
                        await self._conclude(work, outcome_of_result(result), Step.DOWNLOADING)
                        return False
        return False

    async def _execute(self, work: Assignment) -> None:
        # Checked again here: a download can take the whole awake spell, long enough to have moved meanwhile.
        # (Only one process can mark Updating in any case; this keeps the other from even trying.)
        if await self._moved_away():
            return
        if work.install_gated and not await self._call(
            upgrades.ready_to_install,
            uow=self.services.uow(),
            policy=self.services.policy,
            assignment=work,
            device_id=self.device_id,
        ):
            log.info("device %s: package downloaded; the Update waits for the install window", self.device_id)
            return
        marked = await self._call(
            upgrades.mark_update_executing,
            uow=self.services.uow(),
            policy=self.services.policy,
            assignment=work,
            device_id=self.device_id,
        )
        if marked:
            metrics.UPGRADE_STEPS.labels(Step.UPDATING.value).inc()
            log.info("device %s: executing Update", self.device_id)
            await self.client.execute(UPDATE)

    async def _after_update(self, work: Assignment, status: FirmwareUpdateStatus, firmware: str | None) -> None:
        if status.state == UpdateState.UPDATING:
            return  # still flashing; it will check in again
        if status.state == UpdateState.DOWNLOADED and status.result == 0:
            # The Execute never arrived (the device still holds the package and has not run it): send it now.
            await self.client.execute(UPDATE)
            return
        if firmware is None:
            firmware = await self._read_firmware()
            await self._call(
                upgrades.device_reported, uow=self.services.uow(), device_id=self.device_id, firmware=firmware
            )
        outcome = outcome_after_reboot(
            status.result, firmware, work.firmware_to, firmware_must_match=work.package_kind != "file"
        )
        await self._conclude(work, outcome, Step.UPDATING)
