"""SQL repository for the callback outbox and its delivery log."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from fota.adapters.storage.bulk import insert_rows, member_of
from fota.adapters.storage.notifications import OUTBOX_CHANNEL, notify
from fota.adapters.storage.tables import callback_deliveries, outbox
from fota.services.ports import ClaimedEvent, DeliveryAttempt, OutboxEvent


class SqlOutboxRepository:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def add(self, events: Iterable[OutboxEvent]) -> None:
        values = (
            {
                "event_id": e.event_id,
                "account_name": e.account_name,
                "kind": e.kind,
                "payload": dict(e.payload),
                "created_at": e.created_at,
                "next_attempt_at": e.created_at,
                "attempts": 0,
            }
            for e in events
        )
        if insert_rows(self.c, outbox, values):
            notify(self.c, OUTBOX_CHANNEL)

    def claim(self, now: datetime, limit: int, *, lease_until: datetime) -> list[ClaimedEvent]:
        query = (
            select(outbox.c.id, outbox.c.event_id, outbox.c.account_name, outbox.c.payload, outbox.c.attempts)
            .where(
                outbox.c.next_attempt_at <= now,
                outbox.c.delivered_at.is_(None),
                outbox.c.given_up_at.is_(None),
            )
            .order_by(outbox.c.next_attempt_at, outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = self.c.execute(query).all()
        if not rows:
            return []
        self.c.execute(
            update(outbox)
            .where(outbox.c.id.in_([r.id for r in rows]))
            .values(attempts=outbox.c.attempts + 1, next_attempt_at=lease_until)
        )
        return [ClaimedEvent(r.id, r.event_id, r.account_name, r.payload, r.attempts + 1) for r in rows]

    def mark_delivered(self, outbox_id: int, *, at: datetime) -> None:
        # Not fenced by attempt: a 2xx from any pass, even one whose lease ran out, means delivered.
        self.c.execute(
            update(outbox)
            .where(outbox.c.id == outbox_id, outbox.c.delivered_at.is_(None))
            .values(delivered_at=at, next_attempt_at=None, given_up_at=None, last_error=None)
        )

    def _fenced(self, outbox_id: int, attempt: int) -> Any:
        return update(outbox).where(
            outbox.c.id == outbox_id,
            outbox.c.attempts == attempt,
            outbox.c.delivered_at.is_(None),
            outbox.c.given_up_at.is_(None),
        )

    def schedule_retry(self, outbox_id: int, attempt: int, *, at: datetime, error: str) -> None:
        self.c.execute(self._fenced(outbox_id, attempt).values(next_attempt_at=at, last_error=error))

    def give_up(self, outbox_id: int, attempt: int, *, at: datetime, error: str) -> None:
        self.c.execute(self._fenced(outbox_id, attempt).values(given_up_at=at, next_attempt_at=None, last_error=error))

    def log_attempts(self, attempts: Sequence[DeliveryAttempt]) -> None:
        if not attempts:
            return
        self.c.execute(
            insert(callback_deliveries),
            [
                {
                    "event_id": a.event_id,
                    "account_name": a.account_name,
                    "url": a.url,
                    "attempt": a.attempt,
                    "attempted_at": a.attempted_at,
                    "status_code": a.status_code,
                    "error": a.error,
                    "duration_ms": a.duration_ms,
                }
                for a in attempts
            ],
        )

    def deliveries(self, account_name: str, *, before_id: int | None, limit: int) -> list[DeliveryAttempt]:
        query = select(callback_deliveries).where(callback_deliveries.c.account_name == account_name)
        if before_id is not None:
            query = query.where(callback_deliveries.c.id < before_id)
        query = query.order_by(callback_deliveries.c.id.desc()).limit(limit)
        return [
            DeliveryAttempt(
                event_id=r.event_id,
                account_name=r.account_name,
                url=r.url,
                attempt=r.attempt,
                attempted_at=r.attempted_at,
                status_code=r.status_code,
                error=r.error,
                duration_ms=r.duration_ms,
                id=r.id,
            )
            for r in self.c.execute(query)
        ]

    def prune(self, finished_before: datetime, limit: int) -> int:
        # Each column has a partial index of its own: two range reads rather than one OR that neither could serve.
        finished: set[str] = set()
        for column in (outbox.c.delivered_at, outbox.c.given_up_at):
            if len(finished) < limit:
                query = select(outbox.c.event_id).where(column < finished_before).limit(limit - len(finished))
                finished.update(self.c.execute(query).scalars())
        if finished:
            event_ids = sorted(finished)
            self.c.execute(
                delete(callback_deliveries).where(member_of(self.c, callback_deliveries.c.event_id, event_ids))
            )
            self.c.execute(delete(outbox).where(member_of(self.c, outbox.c.event_id, event_ids)))
        return len(finished)
