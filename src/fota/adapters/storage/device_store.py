"""SQL repositories for devices, firmware packages and their images, and firmware report requests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from fota.adapters.storage.tables import device_keys, devices, firmware, firmware_images, firmware_report_requests
from fota.domain.campaign import Firmware
from fota.domain.devices import Device
from fota.domain.protocols import Protocol

# Keeps IN lists well below SQLite's and PostgreSQL's parameter limits.
CHUNK = 900


def chunks(items: Sequence[str], size: int = CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _device(row: Any) -> Device:
    r = row._mapping
    return Device(
        r["device_id"],
        r["account_name"],
        r["mdn"],
        r["make"],
        r["model"],
        r["firmware"],
        Protocol(r["protocol"]),
        r["license_assigned"],
        r["license_assigned_at"],
        r["created_at"],
        r["updated_at"],
        r["firmware_updated_at"],
        r["last_seen_at"],
    )


def _device_values(device: Device) -> dict[str, Any]:
    return {
        "device_id": device.device_id,
        "account_name": device.account_name,
        "mdn": device.mdn,
        "make": device.make,
        "model": device.model,
        "firmware": device.firmware,
        "protocol": device.protocol.value,
        "license_assigned": device.license_assigned,
        "license_assigned_at": device.license_assigned_at,
        "created_at": device.created_at,
        "updated_at": device.updated_at,
        "firmware_updated_at": device.firmware_updated_at,
        "last_seen_at": device.last_seen_at,
    }


class SqlDeviceRepository:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def get(self, device_id: str) -> Device | None:
        row = self.c.execute(select(devices).where(devices.c.device_id == device_id)).first()
        return _device(row) if row else None

    def get_many(self, device_ids: Sequence[str]) -> dict[str, Device]:
        found: dict[str, Device] = {}
        for chunk in chunks(device_ids):
            for row in self.c.execute(select(devices).where(devices.c.device_id.in_(chunk))):
                device = _device(row)
                found[device.device_id] = device
        return found

    def add_many(self, batch: Sequence[Device]) -> None:
        if batch:
            self.c.execute(insert(devices), [_device_values(d) for d in batch])

    def update(self, device: Device) -> None:
        values = _device_values(device)
        del values["device_id"]
        self.c.execute(update(devices).where(devices.c.device_id == device.device_id).values(**values))

    def page(self, account_name: str, *, protocol: Protocol | None, after: str | None, limit: int) -> list[Device]:
        query = select(devices).where(devices.c.account_name == account_name)
        if protocol is not None:
            query = query.where(devices.c.protocol == protocol.value)
        if after:
            query = query.where(devices.c.device_id > after)
        return [_device(r) for r in self.c.execute(query.order_by(devices.c.device_id).limit(limit))]

    def licensed_page(self, account_name: str, *, after: str | None, limit: int) -> list[Device]:
        query = select(devices).where(devices.c.account_name == account_name, devices.c.license_assigned.is_(True))
        if after:
            query = query.where(devices.c.device_id > after)
        return [_device(r) for r in self.c.execute(query.order_by(devices.c.device_id).limit(limit))]

    def set_licensed(self, device_ids: Sequence[str], licensed: bool, *, at: datetime) -> None:
        for chunk in chunks(device_ids):
            self.c.execute(
                update(devices)
                .where(devices.c.device_id.in_(chunk))
                .values(license_assigned=licensed, license_assigned_at=at if licensed else None, updated_at=at)
            )

    def set_key(self, device_id: str, key_hash: str, *, at: datetime) -> None:
        self.c.execute(delete(device_keys).where(device_keys.c.device_id == device_id))
        self.c.execute(insert(device_keys).values(device_id=device_id, key_hash=key_hash, created_at=at))

    def key_hash(self, device_id: str) -> str | None:
        value = self.c.execute(select(device_keys.c.key_hash).where(device_keys.c.device_id == device_id)).scalar()
        return str(value) if value is not None else None

    def touch(self, device_id: str, *, at: datetime) -> None:
        self.c.execute(update(devices).where(devices.c.device_id == device_id).values(last_seen_at=at))

    def matching(
        self,
        account_name: str,
        *,
        make: str,
        model: str,
        firmware: str,
        protocol: Protocol,
        after: str | None,
        limit: int,
    ) -> list[Device]:
        query = select(devices).where(
            devices.c.account_name == account_name,
            devices.c.make == make,
            devices.c.model == model,
            devices.c.firmware == firmware,
            devices.c.protocol == protocol.value,
        )
        if after:
            query = query.where(devices.c.device_id > after)
        return [_device(r) for r in self.c.execute(query.order_by(devices.c.device_id).limit(limit))]


def _firmware(row: Any) -> Firmware:
    r = row._mapping
    return Firmware(
        r["name"],
        r["make"],
        r["model"],
        r["firmware_from"],
        r["firmware_to"],
        Protocol(r["protocol"]),
        r["release_note"],
        r["launch_date"],
        r["image_size"],
        r["image_sha256"],
    )


class SqlFirmwareRepository:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def get(self, name: str) -> Firmware | None:
        row = self.c.execute(select(firmware).where(firmware.c.name == name)).first()
        return _firmware(row) if row else None

    def add(self, package: Firmware) -> None:
        self.c.execute(
            insert(firmware).values(
                name=package.name,
                make=package.make,
                model=package.model,
                firmware_from=package.firmware_from,
                firmware_to=package.firmware_to,
                protocol=package.protocol.value,
                release_note=package.release_note,
                launch_date=package.launch_date,
            )
        )

    def list(self, protocol: Protocol | None) -> list[Firmware]:
        query = select(firmware).order_by(firmware.c.name)
        if protocol is not None:
            query = query.where(firmware.c.protocol == protocol.value)
        return [_firmware(r) for r in self.c.execute(query)]

    def set_image(self, name: str, data: bytes, *, sha256: str) -> None:
        changed = self.c.execute(
            update(firmware_images).where(firmware_images.c.firmware_name == name).values(data=data)
        ).rowcount
        if not changed:
            self.c.execute(insert(firmware_images).values(firmware_name=name, data=data))
        self.c.execute(
            update(firmware).where(firmware.c.name == name).values(image_size=len(data), image_sha256=sha256)
        )

    def image(self, name: str) -> bytes | None:
        value = self.c.execute(select(firmware_images.c.data).where(firmware_images.c.firmware_name == name)).scalar()
        return bytes(value) if value is not None else None


class SqlFirmwareReportRequestRepository:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def add(self, request_id: str, account_name: str, device_id: str, *, at: datetime) -> None:
        self.c.execute(
            insert(firmware_report_requests).values(
                id=request_id,
                account_name=account_name,
                device_id=device_id,
                status="Pending",
                requested_at=at,
            )
        )
