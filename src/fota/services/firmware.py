"""Firmware catalogue reads, device firmware synchronization and asynchronous firmware report requests."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from fota.clock import Clock
from fota.domain.campaign import Firmware
from fota.domain.devices import Device, check_imei
from fota.domain.errors import InvalidRequest, NotFound
from fota.domain.protocols import Protocol
from fota.services.ports import UnitOfWork

MAX_SYNC_DEVICES = 100


def list_firmware(*, uow: UnitOfWork, protocol: Protocol | None) -> list[Firmware]:
    with uow:
        return uow.firmware.list(protocol)


def get_firmware(*, uow: UnitOfWork, name: str) -> Firmware:
    with uow:
        found = uow.firmware.get(name)
    if found is None:
        raise NotFound(f"firmware {name} does not exist")
    return found


@dataclass(frozen=True)
class FirmwareVersion:
    device_id: str
    device: Device | None


def synchronize(*, uow: UnitOfWork, account_name: str, device_ids: Sequence[str]) -> list[FirmwareVersion]:
    """The firmware each device last reported, for up to 100 devices."""
    if len(device_ids) > MAX_SYNC_DEVICES:
        raise InvalidRequest(f"at most {MAX_SYNC_DEVICES} devices can be synchronized in one request")
    unique_ids = list(dict.fromkeys(device_ids))
    with uow:
        found = uow.devices.get_many(unique_ids)
    return [
        FirmwareVersion(d, found[d] if d in found and found[d].account_name == account_name else None)
        for d in unique_ids
    ]


def request_report(*, uow: UnitOfWork, clock: Clock, account_name: str, device_id: str) -> str:
    """Records a request for the device to report its firmware at its next check-in; returns the request id."""
    check_imei(device_id)
    request_id = str(uuid.uuid4())
    with uow:
        device = uow.devices.get(device_id)
        if device is None or device.account_name != account_name:
            raise NotFound(f"device {device_id} not found in account {account_name}")
        uow.firmware_reports.add(request_id, account_name, device_id, at=clock.now())
        uow.commit()
    return request_id
