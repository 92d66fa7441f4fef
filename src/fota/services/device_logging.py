"""Device logging (ThingSpace v2 client and server logging): which devices log, their entries, and the check-in
history fota keeps of every device whether it logs or not."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fota.clock import Clock
from fota.domain.devices import check_imei
from fota.domain.errors import InvalidRequest, InvalidState, NotFound
from fota.services.ports import CheckInRecord, DeviceLogEntry, LoggingStatus, UnitOfWork, UnitOfWorkFactory

MAX_LOGGING_DEVICES = 20  # per account, as the contract says
LOGGING_PERIOD = timedelta(days=30)
MAX_ENTRIES = 1000  # the newest entries a read returns
MAX_UPLOAD = 100  # entries in one upload
RETENTION = timedelta(days=30)  # check-ins and log entries older than this are deleted, a batch per engine pass
PRUNE_BATCH = 5000
LOG_TYPES = frozenset(
    {
        "SoftwareUpdate",
        "Event",
        "UserNotification",
        "AgentService",
        "Wireless",
        "WirelessWeb",
        "MobileBroadbandModem",
        "WindowsMDM",
    }
)


def _own_device(uow: UnitOfWork, account_name: str, device_id: str) -> None:
    device = uow.devices.get(device_id)
    if device is None or device.account_name != account_name:
        raise NotFound(f"device {device_id} not found in account {account_name}")


def enable(*, uow: UnitOfWork, clock: Clock, account_name: str, device_ids: Sequence[str]) -> list[LoggingStatus]:
    """Turns logging on (or extends it) for the devices; at most 20 devices of an account log at a time."""
    now = clock.now()
    wanted = list(dict.fromkeys(check_imei(d) for d in device_ids))
    if not wanted:
        raise InvalidRequest("deviceIds must name at least one device")
    with uow:
        uow.accounts.lock(account_name)  # two concurrent requests cannot pass the limit together
        found = uow.devices.get_many(wanted)
        unknown = [d for d in wanted if d not in found or found[d].account_name != account_name]
        if unknown:
            raise NotFound(f"devices not found in account {account_name}: {', '.join(unknown)}")
        current = {s.device_id for s in uow.activity.logging(account_name, now=now)}
        total = len(current | set(wanted))
        if total > MAX_LOGGING_DEVICES:
            raise InvalidRequest(
                f"at most {MAX_LOGGING_DEVICES} devices of an account can have logging enabled; this would make {total}"
            )
        statuses = [LoggingStatus(d, account_name, now + LOGGING_PERIOD) for d in wanted]
        uow.activity.enable_logging(statuses, at=now)
        uow.commit()
    return statuses


def disable(*, uow: UnitOfWork, account_name: str, device_ids: Sequence[str]) -> int:
    wanted = [check_imei(d) for d in device_ids]
    with uow:
        removed = uow.activity.disable_logging(account_name, wanted)
        uow.commit()
    return removed


def enabled(*, uow: UnitOfWork, clock: Clock, account_name: str) -> list[LoggingStatus]:
    with uow:
        return uow.activity.logging(account_name, now=clock.now())


def logs(*, uow: UnitOfWork, account_name: str, device_id: str) -> list[DeviceLogEntry]:
    with uow:
        _own_device(uow, account_name, device_id)
        return uow.activity.logs(account_name, device_id, limit=MAX_ENTRIES)


def check_in_history(*, uow: UnitOfWork, account_name: str, device_id: str) -> list[CheckInRecord]:
    """The registrations, updates and HTTP check-ins fota received from the device, newest first."""
    with uow:
        _own_device(uow, account_name, device_id)
        return uow.activity.check_ins(device_id, limit=MAX_ENTRIES)


def prune(*, uow_factory: UnitOfWorkFactory, clock: Clock, keep: timedelta = RETENTION) -> int:
    """Deletes a batch of check-ins and log entries past their retention; the engine calls it every pass."""
    uow = uow_factory()
    with uow:
        removed = uow.activity.prune(clock.now() - keep, PRUNE_BATCH)
        uow.commit()
    return removed


def check_in_event(client_type: str, firmware: str | None) -> str:
    """The log entry of a device's check-in that reports its firmware."""
    return f"{client_type} check-in, firmware {firmware}"


def note_check_in(uow: UnitOfWork, device_id: str, client_type: str, event: str, *, now: datetime) -> None:
    """Inside the check-in's own transaction: its history row, and a log entry when the device logs."""
    status = uow.activity.logging_of(device_id, now=now)
    note_check_ins(uow, [(device_id, event, status.account_name if status else None)], client_type, now=now)


def note_check_ins(
    uow: UnitOfWork, check_ins: Sequence[tuple[str, str, str | None]], client_type: str, *, now: datetime
) -> None:
    """`note_check_in` for check-ins whose devices' logging was read with them: (device, event, the account its log
    entries go to, or None when it does not log) each."""
    uow.activity.add_check_ins(
        [CheckInRecord(device_id, client_type, "Success", "None", now) for device_id, _, _ in check_ins]
    )
    entries = [
        DeviceLogEntry(account, device_id, now, "AgentService", event)
        for device_id, event, account in check_ins
        if account is not None
    ]
    if entries:
        uow.activity.add_logs(entries, received_at=now)


@dataclass(frozen=True)
class UploadedLog:
    log_type: str
    event_log: str
    log_time: datetime | None = None
    binary_log_file_base64: str = ""
    binary_log_filename: str = ""


def _at_most(log_time: datetime | None, now: datetime) -> datetime:
    """The device's own time of the entry (UTC when it names no zone), never later than the server's now."""
    if log_time is None:
        return now
    return min(log_time if log_time.tzinfo else log_time.replace(tzinfo=UTC), now)


def upload(*, uow: UnitOfWork, clock: Clock, device_id: str, entries: Sequence[UploadedLog]) -> int:
    """Entries an HTTP device sends; refused unless its account enabled logging for it."""
    if len(entries) > MAX_UPLOAD:
        raise InvalidRequest(f"at most {MAX_UPLOAD} log entries per upload")
    for e in entries:
        if e.log_type not in LOG_TYPES:
            raise InvalidRequest(f"unknown logType {e.log_type!r}; expected one of {', '.join(sorted(LOG_TYPES))}")
    now = clock.now()
    with uow:
        status = uow.activity.logging_of(device_id, now=now)
        if status is None:
            raise InvalidState(f"logging is not enabled for device {device_id}")
        uow.activity.add_logs(
            [
                DeviceLogEntry(
                    status.account_name,
                    device_id,
                    _at_most(e.log_time, now),
                    e.log_type,
                    e.event_log,
                    e.binary_log_file_base64,
                    e.binary_log_filename,
                )
                for e in entries
            ],
            received_at=now,
        )
        uow.commit()
    return len(entries)
