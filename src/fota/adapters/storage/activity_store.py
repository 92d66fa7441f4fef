"""SQL repository of device activity: check-in history, which devices have logging on, and their log entries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from fota.adapters.storage.bulk import insert_keyed, member_of
from fota.adapters.storage.tables import check_ins, device_logging, device_logs
from fota.services.ports import CheckInRecord, DeviceLogEntry, LoggingStatus

# Built once: every check-in asks it.
_LOGGING_OF = select(device_logging).where(
    device_logging.c.device_id == bindparam("device_id"), device_logging.c.expires_at > bindparam("now")
)


class SqlDeviceActivityRepository:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def add_check_ins(self, records: Sequence[CheckInRecord]) -> None:
        # Records that differ only in their device (a batch of check-ins) go as one INSERT ... SELECT from the ids.
        groups: dict[tuple[str, str, str, datetime], list[str]] = {}
        for r in records:
            groups.setdefault((r.client_type, r.result, r.failure_type, r.completed_at), []).append(r.device_id)
        for (client_type, result, failure_type, completed_at), device_ids in groups.items():
            shared = {
                "client_type": client_type,
                "result": result,
                "failure_type": failure_type,
                "completed_at": completed_at,
            }
            insert_keyed(self.c, check_ins, "device_id", device_ids, shared)

    def check_ins(self, device_id: str, *, limit: int) -> list[CheckInRecord]:
        query = select(check_ins).where(check_ins.c.device_id == device_id).order_by(check_ins.c.id.desc()).limit(limit)
        return [
            CheckInRecord(r.device_id, r.client_type, r.result, r.failure_type, r.completed_at)
            for r in self.c.execute(query)
        ]

    def logging(self, account_name: str, *, now: datetime) -> list[LoggingStatus]:
        query = (
            select(device_logging)
            .where(device_logging.c.account_name == account_name, device_logging.c.expires_at > now)
            .order_by(device_logging.c.device_id)
        )
        return [LoggingStatus(r.device_id, r.account_name, r.expires_at) for r in self.c.execute(query)]

    def logging_of(self, device_id: str, *, now: datetime) -> LoggingStatus | None:
        r = self.c.execute(_LOGGING_OF, {"device_id": device_id, "now": now}).first()
        return LoggingStatus(r.device_id, r.account_name, r.expires_at) if r else None

    def logging_in(self, account_names: Sequence[str], *, now: datetime) -> set[str]:
        query = select(device_logging.c.device_id).where(
            member_of(self.c, device_logging.c.account_name, account_names), device_logging.c.expires_at > now
        )
        return set(self.c.execute(query).scalars())

    def enable_logging(self, statuses: Sequence[LoggingStatus], *, at: datetime) -> None:
        for s in statuses:
            changed = self.c.execute(
                update(device_logging)
                .where(device_logging.c.device_id == s.device_id)
                .values(account_name=s.account_name, enabled_at=at, expires_at=s.expires_at)
            ).rowcount
            if not changed:
                self.c.execute(
                    insert(device_logging).values(
                        device_id=s.device_id, account_name=s.account_name, enabled_at=at, expires_at=s.expires_at
                    )
                )

    def disable_logging(self, account_name: str, device_ids: Sequence[str]) -> int:
        statement = delete(device_logging).where(
            device_logging.c.account_name == account_name, device_logging.c.device_id.in_(list(device_ids))
        )
        return int(self.c.execute(statement).rowcount)

    def add_logs(self, entries: Sequence[DeviceLogEntry], *, received_at: datetime) -> None:
        if entries:
            self.c.execute(
                insert(device_logs),
                [
                    {
                        "account_name": e.account_name,
                        "device_id": e.device_id,
                        "log_time": e.log_time,
                        "log_type": e.log_type,
                        "event_log": e.event_log,
                        "binary_log_file_base64": e.binary_log_file_base64,
                        "binary_log_filename": e.binary_log_filename,
                        "received_at": received_at,
                    }
                    for e in entries
                ],
            )

    def logs(self, account_name: str, device_id: str, *, limit: int) -> list[DeviceLogEntry]:
        query = (
            select(device_logs)
            .where(device_logs.c.account_name == account_name, device_logs.c.device_id == device_id)
            .order_by(device_logs.c.id.desc())
            .limit(limit)
        )
        rows = list(self.c.execute(query))
        return [
            DeviceLogEntry(
                r.account_name,
                r.device_id,
                r.log_time,
                r.log_type,
                r.event_log,
                r.binary_log_file_base64,
                r.binary_log_filename,
            )
            for r in reversed(rows)
        ]

    def prune(self, before: datetime, limit: int) -> int:
        removed = 0
        for table, column in ((check_ins, check_ins.c.completed_at), (device_logs, device_logs.c.received_at)):
            oldest = select(table.c.id).where(column < before).order_by(column).limit(limit)
            removed += int(self.c.execute(delete(table).where(table.c.id.in_(oldest.scalar_subquery()))).rowcount)
        return removed
