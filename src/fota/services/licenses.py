"""The account's FOTA license pool: summary, assign, remove, and the v2 cancellation-candidate list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from fota.clock import Clock
from fota.domain.accounts import Account
from fota.domain.errors import NotFound
from fota.services import events
from fota.services.ports import HistoryEntry, LicensedDevice, UnitOfWork, WrittenItems


@dataclass(frozen=True)
class LicenseChange:
    device_id: str
    status: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class LicenseSummary:
    account: Account
    devices: list[LicensedDevice]
    has_more: bool


def _locked_account(uow: UnitOfWork, name: str) -> Account:
    account = uow.accounts.lock(name)
    if account is None:
        raise NotFound(f"account {name} does not exist")
    return account


def summary(
    *, uow: UnitOfWork, account_name: str, after: str | None, page_size: int, offset: int = 0
) -> LicenseSummary:
    """Licensed devices by id: after the device `after` (v2/v3 paging) or from position `offset` (v1's index)."""
    with uow:
        account = _account(uow, account_name)
        devices = uow.devices.licensed_page(account_name, after=after, limit=page_size + 1, offset=offset)
    return LicenseSummary(account, devices[:page_size], len(devices) > page_size)


@dataclass(frozen=True)
class WrittenLicenseSummary:
    """`summary`, its devices written by the store as the wire's JSON items (v2 and v3 spell them alike)."""

    account: Account
    page: WrittenItems


def written_summary(*, uow: UnitOfWork, account_name: str, after: str | None, page_size: int) -> WrittenLicenseSummary:
    with uow:
        account = _account(uow, account_name)
        return WrittenLicenseSummary(account, uow.devices.licensed_items(account_name, after=after, limit=page_size))


def _account(uow: UnitOfWork, account_name: str) -> Account:
    account = uow.accounts.get(account_name)
    if account is None:
        raise NotFound(f"account {account_name} does not exist")
    return account


def assign(
    *, uow: UnitOfWork, clock: Clock, account_name: str, device_ids: Sequence[str]
) -> tuple[Account, list[LicenseChange]]:
    """Licenses devices from the pool, one per device, never beyond `licenseCount`."""
    now = clock.now()
    unique_ids = list(dict.fromkeys(device_ids))
    with uow:
        account = _locked_account(uow, account_name)
        devices = uow.devices.get_many(unique_ids)
        free = account.licenses_free
        granted: list[str] = []
        changes: list[LicenseChange] = []
        for device_id in unique_ids:
            device = devices.get(device_id)
            if device is None or device.account_name != account_name:
                changes.append(LicenseChange(device_id, "LicenseAssignFailed", "Device does not exist.", now))
            elif device.license_assigned:
                changes.append(LicenseChange(device_id, "LicenseAssignSuccess", "License already assigned", now))
            elif free <= 0:
                changes.append(LicenseChange(device_id, "LicenseAssignFailed", "No FOTA license available", now))
            else:
                free -= 1
                granted.append(device_id)
                changes.append(LicenseChange(device_id, "LicenseAssignSuccess", "License assigned", now))
        uow.devices.set_licensed(account_name, granted, True, at=now)
        uow.accounts.add_licenses_used(account_name, len(granted), at=now)
        events.record(uow, [HistoryEntry(account_name, None, d, "LicenseAssigned", None, now) for d in granted])
        uow.commit()
    return Account(
        account.name, account.license_count, account.licenses_used + len(granted), account.purchase_type, now
    ), changes


def remove(
    *, uow: UnitOfWork, clock: Clock, account_name: str, device_ids: Sequence[str]
) -> tuple[Account, list[LicenseChange]]:
    now = clock.now()
    unique_ids = list(dict.fromkeys(device_ids))
    with uow:
        account = _locked_account(uow, account_name)
        devices = uow.devices.get_many(unique_ids)
        busy = uow.campaign_devices.active_elsewhere(unique_ids, "")
        released: list[str] = []
        changes: list[LicenseChange] = []
        for device_id in unique_ids:
            device = devices.get(device_id)
            if device is None or device.account_name != account_name:
                changes.append(LicenseChange(device_id, "LicenseRemoveFailed", "Device does not exist.", now))
            elif not device.license_assigned:
                changes.append(LicenseChange(device_id, "LicenseRemoveFailed", "No license attached to device", now))
            elif device_id in busy:
                changes.append(
                    LicenseChange(
                        device_id,
                        "LicenseRemoveFailed",
                        "Device is in a live campaign; remove it from the campaign first",
                        now,
                    )
                )
            else:
                released.append(device_id)
                changes.append(LicenseChange(device_id, "LicenseRemoveSuccess", "License removed", now))
        uow.devices.set_licensed(account_name, released, False, at=now)
        uow.accounts.add_licenses_used(account_name, -len(released), at=now)
        events.record(uow, [HistoryEntry(account_name, None, d, "LicenseRemoved", None, now) for d in released])
        uow.commit()
    return Account(
        account.name, account.license_count, account.licenses_used - len(released), account.purchase_type, now
    ), changes


@dataclass(frozen=True)
class CancelList:
    count: int
    device_ids: list[str]
    has_more: bool
    updated_at: datetime | None


def read_cancel_list(*, uow: UnitOfWork, account_name: str, start_index: int, page_size: int) -> CancelList:
    with uow:
        ids = uow.cancel_list.page(account_name, offset=start_index, limit=page_size + 1)
        count = uow.cancel_list.count(account_name)
        updated = uow.cancel_list.last_change(account_name)
    return CancelList(count, ids[:page_size], len(ids) > page_size, updated)


def set_cancel_list(
    *, uow: UnitOfWork, clock: Clock, account_name: str, device_ids: Sequence[str], append: bool
) -> CancelList:
    """`append` adds to the list; otherwise the list is replaced."""
    now = clock.now()
    with uow:
        if not append:
            uow.cancel_list.clear(account_name)
        uow.cancel_list.add(account_name, list(dict.fromkeys(device_ids)), at=now)
        count = uow.cancel_list.count(account_name)
        ids = uow.cancel_list.page(account_name, offset=0, limit=count)
        uow.commit()
    return CancelList(count, ids, False, now)


def clear_cancel_list(*, uow: UnitOfWork, account_name: str) -> None:
    with uow:
        uow.cancel_list.clear(account_name)
        uow.commit()
