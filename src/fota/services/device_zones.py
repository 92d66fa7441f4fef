"""A device as the administration reads it, and the time zone the administration sets on it (contract §4); the
zone a device reports itself is taken in `upgrades.device_reported`, with the firmware of the same report."""

from __future__ import annotations

from dataclasses import replace

from fota.clock import Clock
from fota.domain.devices import Device, ZoneSource, check_time_zone
from fota.domain.errors import NotFound
from fota.services.ports import UnitOfWork


def _device(uow: UnitOfWork, account_name: str, device_id: str) -> Device:
    device = uow.devices.get(device_id)
    if device is None or device.account_name != account_name:
        # Another account's device reads as absent: an admin path names the account, and its devices only.
        raise NotFound(f"device {device_id} not found in account {account_name}")
    return device


def get_device(*, uow: UnitOfWork, account_name: str, device_id: str) -> Device:
    with uow:
        return _device(uow, account_name, device_id)


def set_time_zone(*, uow: UnitOfWork, clock: Clock, account_name: str, device_id: str, time_zone: str | None) -> Device:
    """Sets the device's zone as the administration's, which a device's report never overrides; None clears it, and
    the device then has none until it reports one itself (at its next registration)."""
    zone = check_time_zone(time_zone) if time_zone is not None else None
    with uow:
        device = replace(
            _device(uow, account_name, device_id),
            time_zone=zone,
            time_zone_source=ZoneSource.ADMIN if zone is not None else None,
            updated_at=clock.now(),
        )
        uow.devices.update(device)
        uow.commit()
    return device
