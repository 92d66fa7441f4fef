"""The brute-force throttle shared by every process on PostgreSQL: one row per charged attempt and key, in its own
short transaction, with a transaction-level advisory lock per key so that check-and-charge is atomic across
processes (services/throttle.py has the rules; docs/reliability.md the figures).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, delete, func, insert, select

from fota.adapters.storage.tables import throttle_charges
from fota.services.throttle import WINDOW, Charge, Key, refusal, retry_after

# Keeps the advisory lock space of the throttle apart from the other users of advisory locks (ADR 0009).
_LOCK_NAMESPACE = b"fota-throttle:"
_SWEEP_LOCK = int.from_bytes(hashlib.sha256(_LOCK_NAMESPACE + b"sweep").digest()[:8], "big", signed=True)


def key_hash(key: Key) -> str:
    # Hashed: usernames and client ids of failed attempts are not kept in the clear, and every key has one size.
    return hashlib.sha256(f"{key.kind}\0{key.value}".encode()).hexdigest()


def _lock_id(digest: str) -> int:
    return int.from_bytes(hashlib.sha256(_LOCK_NAMESPACE + digest.encode()).digest()[:8], "big", signed=True)


class SqlThrottle:
    def __init__(self, engine: Engine, window: timedelta = WINDOW) -> None:
        self.engine = engine
        self.window = window

    def _recent(self, conn: Connection, digest: str, limit: int, now: datetime) -> list[datetime]:
        rows = conn.execute(
            select(throttle_charges.c.charged_at)
            .where(throttle_charges.c.key_hash == digest, throttle_charges.c.charged_at > now - self.window)
            .order_by(throttle_charges.c.charged_at.desc())
            .limit(limit)
        )
        return [row[0] for row in rows]

    def charge(self, keys: Sequence[Key], now: datetime) -> Charge:
        digests = [key_hash(k) for k in keys]
        with self.engine.begin() as conn:
            # Sorted, so two attempts locking the same pair of keys always lock them in the same order.
            for lock in sorted({_lock_id(d) for d in digests}):
                conn.execute(select(func.pg_advisory_xact_lock(lock)))
            pairs = zip(digests, keys, strict=True)
            error = refusal(
                [retry_after(self._recent(conn, d, k.limit, now), k.limit, self.window, now) for d, k in pairs]
            )
            if error is not None:
                raise error
            ids = conn.execute(
                insert(throttle_charges).returning(throttle_charges.c.id),
                [{"key_hash": d, "charged_at": now} for d in digests],
            )
            charged = tuple(int(row[0]) for row in ids)
            # Forgetting what has left the window keeps the table at the size of one window's attempts. One sweeper
            # at a time, and it skips rows another transaction holds (a refund deleting its own charges, when the
            # simulated clock has moved past them): waiting on those, in whatever order the scan met them, could
            # deadlock with that transaction.
            if conn.execute(select(func.pg_try_advisory_xact_lock(_SWEEP_LOCK))).scalar():
                expired = (
                    select(throttle_charges.c.id)
                    .where(throttle_charges.c.charged_at <= now - self.window)
                    .with_for_update(skip_locked=True)
                )
                conn.execute(delete(throttle_charges).where(throttle_charges.c.id.in_(expired)))
        return Charge(tuple(keys), now, charged)

    def refund(self, charge: Charge) -> None:
        if charge.ids:
            with self.engine.begin() as conn:
                conn.execute(delete(throttle_charges).where(throttle_charges.c.id.in_(charge.ids)))
