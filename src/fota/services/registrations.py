"""LwM2M registrations: register, update, de-register, expiry; unknown endpoints are refused and counted."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import timedelta

from fota.clock import Clock
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
        uow.devices.touch(device_id, at=now)
        uow.commit()
    return registration


def refuse_unknown(*, uow: UnitOfWork, clock: Clock, endpoint: str, address: str) -> None:
    with uow:
        uow.registrations.count_unknown(endpoint, address=address, now=clock.now())
        uow.commit()


def update(
    *,
    uow: UnitOfWork,
    clock: Clock,
    location: str,
    lifetime: int | None,
    binding: str | None,
    address: str,
    objects: str | None,
) -> Registration | None:
    """Refreshes a registration (a check-in); None when it is unknown or expired, so the client registers again."""
    now = clock.now()
    with uow:
        current = uow.registrations.get(location)
        if current is None or current.expires_at <= now:
            return None
        refreshed = replace(
            current,
            lifetime=lifetime or current.lifetime,
            binding=binding or current.binding,
            address=address,
            objects=objects if objects is not None else current.objects,
            updated_at=now,
            expires_at=now + timedelta(seconds=lifetime or current.lifetime),
        )
        if objects is not None or binding is not None:
            uow.registrations.save(refreshed)
        else:  # the common check-in: one small UPDATE
            uow.registrations.touch(
                location, now=now, expires_at=refreshed.expires_at, address=address, lifetime=refreshed.lifetime
            )
        uow.devices.touch(current.device_id, at=now)
        uow.commit()
    return refreshed


def held_elsewhere(*, uow: UnitOfWork, device_id: str, node: str) -> bool:
    """Whether the device's newest registration belongs to another LwM2M process than `node`.

    A device that re-registers at another process moves its work there (design §2): the session still running
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
