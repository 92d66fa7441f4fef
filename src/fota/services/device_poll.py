"""The HTTP device protocol: a device that does not speak LwM2M polls with its firmware and Object 5-style state,
and is told what to do next. The same upgrade steps and time-outs as LwM2M devices apply."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fota.clock import Clock
from fota.domain.errors import NotFound, Unauthorized
from fota.domain.upgrade import (
    Assignment,
    Claim,
    Conclude,
    ExecuteUpdate,
    HoldForInstall,
    Observation,
    OfferPackage,
    ReadStatus,
    RecordDownloaded,
    ResendUpdate,
    Step,
    UpgradePolicy,
    Wait,
    next_action,
)
from fota.services import upgrades
from fota.services.check_in_batch import Report, reported_in_batch
from fota.services.ports import CheckInFacts, UnitOfWork, UnitOfWorkFactory


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
_REFUSED = "unknown device or wrong device key"  # the same for both: an unknown id is not told apart


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
        _authenticate_in(uow, device_id, key)


def _authenticate_in(uow: UnitOfWork, device_id: str, key: str | None) -> None:
    if not _key_matches(uow.devices.key_hash(device_id), key):
        raise Unauthorized(_REFUSED)


def _stored_key(facts: Mapping[str, CheckInFacts], device_id: str) -> str | None:
    found = facts.get(device_id)
    return found.key_hash if found is not None else None


def _key_matches(stored: str | None, key: str | None) -> bool:
    return key is not None and key != "" and stored is not None and hmac.compare_digest(stored, _key_hash(key))


@dataclass(frozen=True)
class Poll:
    """One HTTP check-in as the device sent it: its key, its firmware and its Object 5-style state."""

    device_id: str
    key: str | None
    firmware: str | None
    state: int = 0
    update_result: int = 0


@dataclass(frozen=True)
class Recorded:
    """A poll after its transaction: refused (nothing was written for it), or recorded with the assignment it left."""

    refused: bool = False
    assignment: Assignment | None = None


_REFUSED_POLL = Recorded(refused=True)


def record_polls(*, uow: UnitOfWork, clock: Clock, polls: Sequence[Poll]) -> list[Recorded]:
    """Checks each poll's key, records the check-in and reads the assignment it leaves, all polls in one transaction
    (group commit: most check-ins end here, with nothing to do) with a few statements for the whole batch
    (services/check_in_batch.py); results in input order. A poll with a wrong key writes nothing, and a batch in
    which no poll has a key opens no transaction."""
    if not any(poll.key for poll in polls):
        return [_REFUSED_POLL] * len(polls)
    now = clock.now()
    results: list[Recorded] = [_REFUSED_POLL] * len(polls)
    with uow:
        facts = uow.devices.check_in_facts(sorted({poll.device_id for poll in polls if poll.key}), now=now)
        # In device order, so that two processes' batches take the devices' row locks in one order.
        accepted = sorted(
            (i for i, poll in enumerate(polls) if _key_matches(_stored_key(facts, poll.device_id), poll.key)),
            key=lambda i: polls[i].device_id,
        )
        reports = [Report(polls[i].device_id, polls[i].firmware) for i in accepted]
        assignments = reported_in_batch(uow, reports, facts=facts, now=now, client_type="HTTP")
        for i, assignment in zip(accepted, assignments, strict=True):
            results[i] = Recorded(assignment=assignment)
        uow.commit()
    return results


def carry_on(
    *,
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    policy: UpgradePolicy,
    poll: Poll,
    recorded: Recorded,
    package_base_url: str,
) -> Instruction:
    """After `record_polls`: what the upgrade state machine decides for what the device reports, carried out up to
    the first action that needs the device. Raises Unauthorized for a refused poll."""
    if recorded.refused:
        raise Unauthorized(_REFUSED)
    assignment = recorded.assignment
    if assignment is None:
        return NOTHING
    device_id = poll.device_id
    observed = Observation(poll.state, poll.update_result, poll.firmware)
    while True:
        now = clock.now()
        match next_action(assignment, observed, now=now):
            case Claim():
                if not upgrades.claim_start(
                    uow=uow_factory(), clock=clock, policy=policy, assignment=assignment, device_id=device_id
                ):
                    return NOTHING
                assignment = assignment.claimed(policy, now)
            case RecordDownloaded():
                if not upgrades.advance(
                    uow=uow_factory(),
                    clock=clock,
                    policy=policy,
                    assignment=assignment,
                    device_id=device_id,
                    to=Step.DOWNLOADED,
                ):
                    return NOTHING
                assignment = assignment.moved_to(Step.DOWNLOADED, policy, now)
            case OfferPackage():
                token = upgrades.offer_package(
                    uow=uow_factory(),
                    clock=clock,
                    policy=policy,
                    assignment=assignment,
                    device_id=device_id,
                    delivery="http",  # an HTTP device always pulls, over HTTP
                )
                return NOTHING if token is None else _download(uow_factory(), assignment, package_base_url, token)
            case ExecuteUpdate():
                if not upgrades.mark_update_executing(
                    uow=uow_factory(), clock=clock, policy=policy, assignment=assignment, device_id=device_id
                ):
                    return NOTHING
                return Instruction("update", assignment.campaign_id, assignment.firmware_to)
            case ResendUpdate():
                return Instruction("update", assignment.campaign_id, assignment.firmware_to)  # the last one was lost
            case HoldForInstall():
                upgrades.wait_for_install(
                    uow=uow_factory(), clock=clock, policy=policy, assignment=assignment, device_id=device_id
                )
                return NOTHING
            case Conclude(outcome=outcome, timed_out=timed_out):
                upgrades.conclude(
                    uow=uow_factory(),
                    clock=clock,
                    policy=policy,
                    campaign_id=assignment.campaign_id,
                    account_name=assignment.account_name,
                    device_id=device_id,
                    outcome=outcome,
                    attempts=assignment.attempts,
                    expected_step=assignment.step,
                    expired_by=now if timed_out else None,
                )
                return NOTHING
            case Wait() | ReadStatus():  # the poll carries its status: nothing is left to read
                return NOTHING


def _download(uow: UnitOfWork, assignment: Assignment, package_base_url: str, token: str) -> Instruction:
    with uow:
        package = uow.firmware.get(assignment.firmware_name)
    return Instruction(
        "download",
        assignment.campaign_id,
        assignment.firmware_to,
        f"{package_base_url}/fw/{token}",
        package.image_size if package else None,
        package.image_sha256 if package else None,
        package.local_target_path if package else None,
    )
