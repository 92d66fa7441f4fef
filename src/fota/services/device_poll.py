"""The HTTP device protocol: a device that does not speak LwM2M polls with its firmware and Object 5-style state,
and is told what to do next. The same upgrade steps and time-outs as LwM2M devices apply."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace

from fota.clock import Clock
from fota.domain.errors import NotFound, Unauthorized
from fota.domain.upgrade import Outcome, Step, UpdateState, UpgradePolicy, outcome_after_reboot, outcome_of_result
from fota.services import upgrades
from fota.services.ports import UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True)
class Instruction:
    """What the device should do now: `none`, `download` (from `package_url`) or `update` (install it)."""

    action: str
    campaign_id: str | None = None
    firmware_to: str | None = None
    package_url: str | None = None
    size: int | None = None
    sha256: str | None = None
    target_path: str | None = None  # a configuration file's place on the device (v2 `localTargetPath`)


NOTHING = Instruction("none")


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_device_key(*, uow: UnitOfWork, clock: Clock, account_name: str, device_id: str) -> str:
    """A new secret for the device (replacing any earlier one); only its hash is kept."""
    key = secrets.token_urlsafe(32)
    with uow:
        device = uow.devices.get(device_id)
        if device is None or device.account_name != account_name:
            raise NotFound(f"device {device_id} not found in account {account_name}")
        uow.devices.set_key(device_id, _key_hash(key), at=clock.now())
        uow.commit()
    return key


def authenticate(*, uow: UnitOfWork, device_id: str, key: str | None) -> None:
    with uow:
        stored = uow.devices.key_hash(device_id)
    if not key or stored is None or not hmac.compare_digest(stored, _key_hash(key)):
        raise Unauthorized("unknown device or wrong device key")


def check_in(
    *,
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    policy: UpgradePolicy,
    device_id: str,
    firmware: str | None,
    state: int,
    update_result: int,
    package_base_url: str,
) -> Instruction:
    upgrades.device_reported(uow=uow_factory(), clock=clock, device_id=device_id, firmware=firmware, check_in="HTTP")
    found = upgrades.current_work(uow=uow_factory(), clock=clock, device_id=device_id)
    if found is None:
        return NOTHING
    work = found

    def advance(from_steps: tuple[Step, ...], to: Step, delivery: str | None = None) -> bool:
        return upgrades.advance(
            uow=uow_factory(),
            clock=clock,
            policy=policy,
            assignment=work,
            device_id=device_id,
            from_steps=from_steps,
            to=to,
            delivery=delivery,
        )

    def conclude(outcome: Outcome | None, expected: Step) -> Instruction:
        if outcome is not None:
            upgrades.conclude(
                uow=uow_factory(),
                clock=clock,
                policy=policy,
                campaign_id=work.campaign_id,
                account_name=work.account_name,
                device_id=device_id,
                outcome=outcome,
                attempts=work.attempts,
                expected_step=expected,
            )
        return NOTHING

    if work.step is Step.UPDATING:
        if state == UpdateState.UPDATING:
            return NOTHING
        if state == UpdateState.DOWNLOADED and update_result == 0:
            return Instruction("update", work.campaign_id, work.firmware_to)  # the instruction was lost
        outcome = outcome_after_reboot(
            update_result, firmware, work.firmware_to, firmware_must_match=work.package_kind != "file"
        )
        return conclude(outcome, Step.UPDATING)
    if work.step is None:
        if not upgrades.claim_start(
            uow=uow_factory(), clock=clock, policy=policy, assignment=work, device_id=device_id
        ):
            return NOTHING
        work = replace(work, step=Step.STARTING, attempts=work.attempts + 1)
    if work.step in (Step.STARTING, Step.DOWNLOADING):
        if state == UpdateState.DOWNLOADED:
            advance((Step.STARTING, Step.DOWNLOADING), Step.DOWNLOADED)
            work = replace(work, step=Step.DOWNLOADED)
        elif state == UpdateState.DOWNLOADING:
            return NOTHING
        elif work.step is Step.DOWNLOADING and update_result > 1:
            return conclude(outcome_of_result(update_result), Step.DOWNLOADING)
        elif not work.may_download:
            return NOTHING  # the package is offered only while a download window is open
        else:
            token = upgrades.issue_download_link(
                uow=uow_factory(), clock=clock, policy=policy, assignment=work, device_id=device_id
            )
            advance((Step.STARTING, Step.DOWNLOADING), Step.DOWNLOADING, "http")
            uow = uow_factory()
            with uow:
                package = uow.firmware.get(work.firmware_name)
            return Instruction(
                "download",
                work.campaign_id,
                work.firmware_to,
                f"{package_base_url}/fw/{token}",
                package.image_size if package else None,
                package.image_sha256 if package else None,
                package.local_target_path if package else None,
            )
    if work.step is Step.DOWNLOADED and not work.may_install:
        upgrades.wait_for_install(uow=uow_factory(), clock=clock, policy=policy, assignment=work, device_id=device_id)
        return NOTHING
    if work.step is Step.DOWNLOADED and upgrades.mark_update_executing(
        uow=uow_factory(), clock=clock, policy=policy, assignment=work, device_id=device_id
    ):
        return Instruction("update", work.campaign_id, work.firmware_to)
    return NOTHING
