"""SQL repositories for devices, firmware packages and their images, and firmware report requests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Select, Update, and_, bindparam, delete, exists, func, insert, select, update

from fota.adapters.storage import license_page_json
from fota.adapters.storage.bulk import (
    ANALYZE_FROM,
    KEYS,
    insert_keyed,
    insert_rows,
    key_chunks,
    keys_in,
    keys_json,
    keys_table,
    member_of,
)
from fota.adapters.storage.rollout_store import SOAKING, SUCCESS
from fota.adapters.storage.tables import (
    campaign_devices,
    device_keys,
    device_licenses,
    device_logging,
    device_security,
    devices,
    firmware,
    firmware_images,
    firmware_report_requests,
)
from fota.domain.campaign import Firmware
from fota.domain.devices import Device, DeviceKind, ZoneSource
from fota.domain.protocols import Protocol
from fota.domain.security import SecurityMode
from fota.services.ports import CheckInFacts, LicensedDevice, WrittenItems

# Devices are read with their license: the row in device_licenses, if any.
_DEVICE_COLUMNS = (
    devices.c.device_id,
    devices.c.account_name,
    devices.c.mdn,
    devices.c.make,
    devices.c.model,
    devices.c.firmware,
    devices.c.protocol,
    device_licenses.c.assigned_at,
    devices.c.created_at,
    devices.c.updated_at,
    devices.c.firmware_updated_at,
    devices.c.last_seen_at,
    devices.c.time_zone,
    devices.c.time_zone_source,
)
_WITH_LICENSE = devices.outerjoin(device_licenses, device_licenses.c.device_id == devices.c.device_id)
_PROTOCOLS = {p.value: p for p in Protocol}


def _select_devices() -> Select[Any]:
    return select(*_DEVICE_COLUMNS).select_from(_WITH_LICENSE)


def _device(row: Any) -> Device:
    (
        device_id,
        account,
        mdn,
        make,
        model,
        firmware,
        protocol,
        licensed_at,
        created,
        updated,
        fw_updated,
        seen,
        zone,
        source,
    ) = row
    return Device(
        device_id,
        account,
        mdn,
        make,
        model,
        firmware,
        _PROTOCOLS[protocol],
        licensed_at is not None,
        licensed_at,
        created,
        updated,
        fw_updated,
        seen,
        zone,
        ZoneSource(source) if source is not None else None,
    )


def _device_values(device: Device) -> dict[str, Any]:
    """The device's own columns; its license is written only through `set_licensed`."""
    return {
        "device_id": device.device_id,
        "account_name": device.account_name,
        "mdn": device.mdn,
        "make": device.make,
        "model": device.model,
        "firmware": device.firmware,
        "protocol": device.protocol.value,
        "created_at": device.created_at,
        "updated_at": device.updated_at,
        "firmware_updated_at": device.firmware_updated_at,
        "last_seen_at": device.last_seen_at,
        "time_zone": device.time_zone,
        "time_zone_source": device.time_zone_source.value if device.time_zone_source is not None else None,
    }


# Built once: the statements of every HTTP device check-in, where building one cost more than running it.
_DEVICE_BY_ID = _select_devices().where(devices.c.device_id == bindparam("device_id"))
_KEY_HASH = select(device_keys.c.key_hash).where(device_keys.c.device_id == bindparam("device_id"))
# The four other tables a check-in consults, joined by primary key (and the soaking rows' partial index).
_CHECK_IN_FACTS = select(
    devices.c.device_id,
    devices.c.firmware,
    device_keys.c.key_hash,
    exists().where(campaign_devices.c.device_id == devices.c.device_id, campaign_devices.c.status == SUCCESS, SOAKING),
    device_logging.c.account_name,
    device_security.c.mode,
).select_from(
    devices.outerjoin(device_keys, device_keys.c.device_id == devices.c.device_id)
    .outerjoin(
        device_logging,
        and_(device_logging.c.device_id == devices.c.device_id, device_logging.c.expires_at > bindparam("now")),
    )
    .outerjoin(device_security, device_security.c.device_id == devices.c.device_id)
)
# An UPDATE's parameters cannot take its columns' names.
_TOUCH = update(devices).where(devices.c.device_id == bindparam("b_device_id")).values(last_seen_at=bindparam("b_at"))


@cache
def _check_in_facts(dialect: str) -> Select[Any]:
    return _CHECK_IN_FACTS.where(keys_in(dialect, devices.c.device_id))


@cache
def _touch_many(dialect: str) -> Update:
    # Locked first, in device order, where rows are locked one by one (PostgreSQL): an UPDATE alone takes its rows'
    # locks in whatever order its plan reads them.
    locked = (
        select(devices.c.device_id)
        .where(keys_in(dialect, devices.c.device_id))
        .order_by(devices.c.device_id)
        .with_for_update(key_share=True)
    )
    return update(devices).where(devices.c.device_id.in_(locked)).values(last_seen_at=bindparam("b_at"))


class SqlDeviceRepository:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def get(self, device_id: str) -> Device | None:
        row = self.c.execute(_DEVICE_BY_ID, {"device_id": device_id}).first()
        return _device(row) if row else None

    def get_many(self, device_ids: Sequence[str]) -> dict[str, Device]:
        found: dict[str, Device] = {}
        for chunk in key_chunks(device_ids):
            for row in self.c.execute(_select_devices().where(member_of(self.c, devices.c.device_id, chunk))):
                device = _device(row)
                found[device.device_id] = device
        return found

    def kinds(self, device_ids: Sequence[str]) -> dict[str, DeviceKind]:
        # Grouped by the database: a fleet of one kind is a row whose ids come as one JSON array (parsed in C).
        licensed = device_licenses.c.device_id.is_not(None)
        facts = (devices.c.account_name, devices.c.make, devices.c.model, devices.c.firmware, devices.c.protocol)
        members = func.json_agg if self.c.dialect.name == "postgresql" else func.json_group_array
        shared: dict[tuple[Any, ...], DeviceKind] = {}
        found: dict[str, DeviceKind] = {}
        for chunk in key_chunks(list(dict.fromkeys(device_ids))):
            keys = keys_table(self.c, chunk)
            query = (
                select(*facts, licensed, members(devices.c.device_id))
                .select_from(keys.join(_WITH_LICENSE, devices.c.device_id == keys.c.value))
                .group_by(*facts, licensed)
            )
            for account, make, model, version, protocol, is_licensed, ids in self.c.execute(query):
                key = (account, make, model, version, protocol, bool(is_licensed))
                kind = shared.get(key)
                if kind is None:
                    kind = shared[key] = DeviceKind(account, make, model, version, _PROTOCOLS[protocol], key[-1])
                found.update(dict.fromkeys(json.loads(ids) if isinstance(ids, str) else ids, kind))
        return found

    def add_many(self, batch: Sequence[Device]) -> None:
        insert_rows(self.c, devices, (_device_values(d) for d in batch), analyze_from=ANALYZE_FROM)

    def update(self, device: Device) -> None:
        values = _device_values(device)
        del values["device_id"]
        self.c.execute(update(devices).where(devices.c.device_id == device.device_id).values(**values))

    def page(self, account_name: str, *, protocol: Protocol | None, after: str | None, limit: int) -> list[Device]:
        query = _select_devices().where(devices.c.account_name == account_name)
        if protocol is not None:
            query = query.where(devices.c.protocol == protocol.value)
        if after:
            query = query.where(devices.c.device_id > after)
        return [_device(r) for r in self.c.execute(query.order_by(devices.c.device_id).limit(limit))]

    def licensed_page(
        self, account_name: str, *, after: str | None, limit: int, offset: int = 0
    ) -> list[LicensedDevice]:
        # Walks the account's licenses, not its fleet, and reads only them (the account's index holds both keys).
        # `offset` serves v1's index paging.
        query = (
            select(device_licenses.c.device_id, device_licenses.c.assigned_at)
            .where(device_licenses.c.account_name == account_name)
            .order_by(device_licenses.c.device_id)
            .limit(limit)
            .offset(offset)
        )
        if after:
            query = query.where(device_licenses.c.device_id > after)
        return [LicensedDevice(device_id, assigned_at) for device_id, assigned_at in self.c.execute(query)]

    def licensed_items(self, account_name: str, *, after: str | None, limit: int) -> WrittenItems:
        return license_page_json.licensed_items(self.c, account_name, after=after, limit=limit)

    def set_licensed(self, account_name: str, device_ids: Sequence[str], licensed: bool, *, at: datetime) -> None:
        """Assigns or releases the devices' licenses; the caller passes distinct devices of the account whose license
        changes (it read them under the account's lock)."""
        if not licensed:
            for chunk in key_chunks(device_ids):
                self.c.execute(delete(device_licenses).where(member_of(self.c, device_licenses.c.device_id, chunk)))
            return
        # Straight from the ids: no NOT EXISTS against device_licenses, which PostgreSQL could plan as a scan of the
        # table being filled for every row, and no read of `devices` (the foreign key checks each id is one).
        shared = {"account_name": account_name, "assigned_at": at}
        insert_keyed(self.c, device_licenses, "device_id", device_ids, shared)

    def set_key(self, device_id: str, key_hash: str, *, at: datetime) -> None:
        self.c.execute(delete(device_keys).where(device_keys.c.device_id == device_id))
        self.c.execute(insert(device_keys).values(device_id=device_id, key_hash=key_hash, created_at=at))

    def key_hash(self, device_id: str) -> str | None:
        value = self.c.execute(_KEY_HASH, {"device_id": device_id}).scalar()
        return str(value) if value is not None else None

    def check_in_facts(self, device_ids: Sequence[str], *, now: datetime) -> dict[str, CheckInFacts]:
        found: dict[str, CheckInFacts] = {}
        query = _check_in_facts(self.c.dialect.name)
        for chunk in key_chunks(device_ids):
            found_rows = self.c.execute(query, {KEYS: keys_json(chunk), "now": now})
            for device_id, running, key_hash, soaking, logging_account, mode in found_rows:
                security = SecurityMode(mode) if mode is not None else SecurityMode.NOSEC
                found[device_id] = CheckInFacts(running, key_hash, bool(soaking), logging_account, security)
        return found

    def touch(self, device_id: str, *, at: datetime) -> None:
        self.c.execute(_TOUCH, {"b_device_id": device_id, "b_at": at})

    def touch_many(self, device_ids: Sequence[str], *, at: datetime) -> None:
        statement = _touch_many(self.c.dialect.name)
        for chunk in key_chunks(device_ids):
            self.c.execute(statement, {KEYS: keys_json(chunk), "b_at": at})

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
        query = _select_devices().where(
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
        r["image_signature"],
        r["image_key_id"],
        r["kind"],
        r["owner_account"],
        r["local_target_path"],
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
                kind=package.kind,
                owner_account=package.owner_account,
                local_target_path=package.local_target_path,
            )
        )

    def list(
        self, protocol: Protocol | None, *, kind: str = "firmware", owner_account: str | None = None
    ) -> list[Firmware]:
        query = select(firmware).where(firmware.c.kind == kind).order_by(firmware.c.name)
        if owner_account is not None:
            query = query.where(firmware.c.owner_account == owner_account)
        if protocol is not None:
            query = query.where(firmware.c.protocol == protocol.value)
        return [_firmware(r) for r in self.c.execute(query)]

    def set_image(
        self, name: str, data: bytes, *, sha256: str, signature: str | None = None, key_id: str | None = None
    ) -> None:
        changed = self.c.execute(
            update(firmware_images).where(firmware_images.c.firmware_name == name).values(data=data)
        ).rowcount
        if not changed:
            self.c.execute(insert(firmware_images).values(firmware_name=name, data=data))
        self.c.execute(
            update(firmware)
            .where(firmware.c.name == name)
            .values(image_size=len(data), image_sha256=sha256, image_signature=signature, image_key_id=key_id)
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
