"""A simulated clock kept in the database, so that every process of a deployment reads the same moved time.

A process-local `SimulatedClock` cannot be shared: an API process moving it would leave the engine and LwM2M
processes in the past. This clock keeps the instant in the one-row `simulated_clock` table and reads it on every
`now()`; moving it is a locked read-modify-write, so two movers never take it backwards. It has its own small
connection pool: `now()` is often called while a unit of work holds a connection, and borrowing a second one from
the same pool could exhaust it under load.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from fota.adapters.storage.tables import simulated_clock

ROW_ID = 1


class DbClock:
    """Implements `fota.clock.MovableClock` over the `simulated_clock` row; never moves backwards."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def start(cls, engine: Engine, start: datetime | None = None) -> DbClock:
        """Creates the row at `start` (wall time by default) unless another process already did: a restarted or
        added process joins the deployment's current simulated time instead of resetting it."""
        if start is not None and start.tzinfo is None:
            raise ValueError("the simulated clock needs a timezone-aware instant")
        initial = start.astimezone(UTC) if start is not None else datetime.now(UTC)
        # Processes of a deployment start together: "insert unless present" in one statement, so that two
        # first starts cannot both insert (a SELECT finds no row to lock when it is not there yet).
        dialect_insert = postgresql_insert if engine.dialect.name == "postgresql" else sqlite_insert
        with engine.begin() as connection:
            connection.execute(dialect_insert(simulated_clock).values(id=ROW_ID, now=initial).on_conflict_do_nothing())
        return cls(engine)

    def now(self) -> datetime:
        with self.engine.connect() as connection:
            value = connection.execute(select(simulated_clock.c.now).where(simulated_clock.c.id == ROW_ID)).scalar_one()
        assert isinstance(value, datetime)
        return value

    def set(self, instant: datetime) -> datetime:
        if instant.tzinfo is None:
            raise ValueError("the simulated clock needs a timezone-aware instant")
        return self._move(lambda current: instant.astimezone(UTC))

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the simulated clock never moves backwards")
        step = timedelta(seconds=seconds)
        return self._move(lambda current: current + step)

    def _move(self, target: Callable[[datetime], datetime]) -> datetime:
        with self.engine.begin() as connection:
            # FOR UPDATE: two API processes moving the clock at once apply their moves one after the other.
            current = connection.execute(
                select(simulated_clock.c.now).where(simulated_clock.c.id == ROW_ID).with_for_update()
            ).scalar_one()
            assert isinstance(current, datetime)
            moved = target(current)
            if moved < current:
                raise ValueError("the simulated clock never moves backwards")
            connection.execute(update(simulated_clock).where(simulated_clock.c.id == ROW_ID).values(now=moved))
        return moved
