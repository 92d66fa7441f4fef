"""LwM2M registrations: register, check in (the Update), de-register, expiry; unknown endpoints are refused and
counted."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from fota.clock import Clock
from fota.domain.security import SecurityMode, channel_refusal, refusal
from fota.domain.upgrade import Assignment
from fota.services import rollouts
from fota.services.check_in_batch import Report, reported_in_batch
from fota.services.device_logging import note_check_in
from fota.services.ports import Registration, UnitOfWork, UnitOfWorkFactory


def register(
    *,
    uow: UnitOfWork,
    clock: Clock,
    endpoint: str,
    device_id: str,
    lifetime: int,
    lwm2m_version: str,
    binding: str,
    address: str,
    objects: str,
    node: str,
) -> Registration | None:
    """Stores the registration of a provisioned device; None (and the attempt counted) for anything else."""
    now = clock.now()
    with uow:
        if uow.devices.get(device_id) is None:
            uow.registrations.count_unknown(endpoint, address=address, now=now)
            uow.commit()
            return None
        registration = Registration(
            location=secrets.token_hex(5),
            endpoint=endpoint,
            device_id=device_id,
            lifetime=lifetime,
            lwm2m_version=lwm2m_version,
            binding=binding,
            address=address,
            objects=objects,
            node=node,
            registered_at=now,
            updated_at=now,
            expires_at=now + timedelta(seconds=lifetime),
        )
        uow.registrations.save(registration)
        rollouts.judge_check_in(uow, device_id, firmware=None, now=now)  # reads the previous check-in
        uow.devices.touch(device_id, at=now)
        note_check_in(uow, device_id, "LWM2M", f"LwM2M Register from {address}, lifetime {lifetime} s", now=now)
        uow.commit()
    return registration


def refuse_unknown(*, uow: UnitOfWork, clock: Clock, endpoint: str, address: str) -> None:
    with uow:
        uow.registrations.count_unknown(endpoint, address=address, now=clock.now())
        uow.commit()


@dataclass(frozen=True)
class CheckIn:
    """One registration Update as it arrived: the registration's location, what it changes, and its channel."""

    location: str
    lifetime: int | None
    binding: str | None
    address: str
    objects: str | None
    over_dtls: bool = False
    dtls_device_id: str | None = None  # the device whose PSK authenticated the DTLS session


@dataclass(frozen=True)
class CheckInResult:
    """`refused`: why the channel may not check in for the device (nothing was written). Otherwise `registration`
    is the refreshed registration (None: unknown or expired, the client must register again) and `assignment` the
    device's current campaign assignment (its upgrade to start or resume), read in the same transaction."""

    registration: Registration | None = None
    refused: str | None = None
    assignment: Assignment | None = None


def check_in_many(
    *, uow: UnitOfWork, clock: Clock, check_ins: Sequence[CheckIn], allow_nosec: bool
) -> list[CheckInResult]:
    """Admits and records many Updates in one transaction and reads each device's assignment; results in input order.

    Each check-in is admitted as `device_security.admission_refusal_in` admits it, its registration refreshed, and
    its device's check-in recorded set-wise (services/check_in_batch.py) with the assignment it leaves: a refused
    check-in writes nothing, an unknown or expired registration is left alone.
    """
    now = clock.now()
    results = [CheckInResult()] * len(check_ins)
    to_read = []
    for i, check_in in enumerate(check_ins):
        early = channel_refusal(over_dtls=check_in.over_dtls, allow_nosec=allow_nosec)
        if early is not None:
            results[i] = CheckInResult(refused=early)  # nothing to read
        else:
            to_read.append(i)
    if not to_read:
        return results
    with uow:
        current = uow.registrations.get_many([check_ins[i].location for i in to_read])
        facts = uow.devices.check_in_facts(sorted({r.device_id for r in current.values()}), now=now)
        admitted: list[tuple[int, Registration]] = []
        for i in to_read:
            check_in, registration = check_ins[i], current.get(check_ins[i].location)
            if registration is None:
                continue
            found = facts.get(registration.device_id)
            reason = refusal(
                device_id=registration.device_id,
                mode=found.security if found is not None else SecurityMode.NOSEC,
                dtls_device_id=check_in.dtls_device_id,
                over_dtls=check_in.over_dtls,
                allow_nosec=allow_nosec,
            )
            if reason is not None:
                results[i] = CheckInResult(refused=reason)
            elif registration.expires_at > now:
                admitted.append((i, _refreshed(now, registration, check_in)))
        # In device order, so that two processes' batches take the rows' locks in one order.
        admitted.sort(key=lambda item: item[1].device_id)
        _save(uow, [(check_ins[i], refreshed) for i, refreshed in admitted])
        reports = [
            Report(r.device_id, None, event=f"LwM2M registration Update from {check_ins[i].address}")
            for i, r in admitted
        ]
        assignments = reported_in_batch(uow, reports, facts=facts, now=now, client_type="LWM2M")
        for (i, refreshed), assignment in zip(admitted, assignments, strict=True):
            results[i] = CheckInResult(registration=refreshed, assignment=assignment)
        uow.commit()
    return results


def _refreshed(now: datetime, current: Registration, check_in: CheckIn) -> Registration:
    lifetime = check_in.lifetime or current.lifetime
    return replace(
        current,
        lifetime=lifetime,
        binding=check_in.binding or current.binding,
        address=check_in.address,
        objects=check_in.objects if check_in.objects is not None else current.objects,
        updated_at=now,
        expires_at=now + timedelta(seconds=lifetime),
    )


def _save(uow: UnitOfWork, refreshed: Sequence[tuple[CheckIn, Registration]]) -> None:
    """The common Update (no objects, no binding) is a small UPDATE, run for all of them at once; any other is saved
    on its own, in turn, so that the rows are still taken in the order given."""
    touched: list[Registration] = []
    for check_in, registration in refreshed:
        if check_in.objects is None and check_in.binding is None:
            touched.append(registration)
            continue
        uow.registrations.touch_many(touched)
        touched = []
        uow.registrations.save(registration)
    uow.registrations.touch_many(touched)


def held_elsewhere(*, uow: UnitOfWork, device_id: str, node: str) -> bool:
    """Whether the device's newest registration belongs to another LwM2M process than `node`.

    A device that re-registers at another process moves its upgrade there (design §2): the session still running
    here stops before its next step instead of driving the device alongside the new one.
    """
    with uow:
        current = uow.registrations.for_device(device_id)
    return current is not None and current.node != node


def deregister(*, uow: UnitOfWork, location: str) -> bool:
    with uow:
        removed = uow.registrations.delete(location)
        uow.commit()
    return removed


def purge_expired(*, uow_factory: UnitOfWorkFactory, clock: Clock) -> int:
    """Registrations past their lifetime and download links past their expiry are removed."""
    now = clock.now()
    uow = uow_factory()
    with uow:
        removed = uow.registrations.purge_expired(now) + uow.downloads.purge_expired(now)
        uow.commit()
    return removed
