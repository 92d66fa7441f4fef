"""The CoAP refusal budget shared by every LwM2M process on PostgreSQL (adapters/lwm2m/refusals.py): refusals
per remote address summed in ten-second windows of the database's own clock, which every process reads alike."""

from __future__ import annotations

import hashlib

from sqlalchemy import Engine, bindparam, delete, func, select, text
from sqlalchemy.dialects.postgresql import insert

from fota.adapters.storage.tables import coap_refusals

WINDOW_SECONDS = 10
# What one process's bucket lets through in a window: its burst and its refill over the window.
DEFAULT_LIMIT = 100 + 20 * WINDOW_SECONDS
_SWEEP_LOCK = int.from_bytes(hashlib.sha256(b"fota-coap-refusals:sweep").digest()[:8], "big", signed=True)
_NOW_WINDOW = text("SELECT floor(extract(epoch FROM clock_timestamp()) / :seconds)::bigint")


class SqlRefusalLedger:
    def __init__(self, engine: Engine, limit: int = DEFAULT_LIMIT) -> None:
        self.engine = engine
        self.limit = limit

    def exchange(self, counts: dict[str, int]) -> set[str]:
        """Adds this process's refusals; returns the addresses whose refusals in this and the previous window, from
        every process together, exceed the limit. Real time, not the injected clock: this budget shields the
        server from load, which a simulated clock moved by hand says nothing about."""
        with self.engine.begin() as conn:
            window = int(conn.execute(_NOW_WINDOW, {"seconds": WINDOW_SECONDS}).scalar_one())
            if counts:
                statement = insert(coap_refusals).values(
                    address=bindparam("a"), window_start=window, refusals=bindparam("n")
                )
                statement = statement.on_conflict_do_update(
                    index_elements=["address", "window_start"],
                    set_={"refusals": coap_refusals.c.refusals + statement.excluded.refusals},
                )
                conn.execute(statement, [{"a": a[:64], "n": n} for a, n in sorted(counts.items())])
            total = func.sum(coap_refusals.c.refusals)
            rows = conn.execute(
                select(coap_refusals.c.address)
                .where(coap_refusals.c.window_start >= window - 1)
                .group_by(coap_refusals.c.address)
                .having(total > self.limit)
            )
            over = {str(row[0]) for row in rows}
            if conn.execute(select(func.pg_try_advisory_xact_lock(_SWEEP_LOCK))).scalar():
                conn.execute(delete(coap_refusals).where(coap_refusals.c.window_start < window - 1))
        return over
