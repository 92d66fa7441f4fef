"""The one place wall time is read, and the simulated clock that tests and demos move by hand."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """Starts at a given instant (wall time by default) and moves only when told."""

    def __init__(self, start: datetime | None = None) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("the simulated clock needs a timezone-aware instant")
        self._now = start.astimezone(UTC) if start is not None else datetime.now(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, instant: datetime) -> datetime:
        if instant.tzinfo is None:
            raise ValueError("the simulated clock needs a timezone-aware instant")
        with self._lock:
            if instant < self._now:
                raise ValueError("the simulated clock never moves backwards")
            self._now = instant.astimezone(UTC)
            return self._now

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the simulated clock never moves backwards")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now


@runtime_checkable
class MovableClock(Protocol):
    """A simulated clock the admin API can move: the process-local one above or the database-backed one
    (adapters/storage/db_clock.py) that several processes share. Neither ever moves backwards."""

    def now(self) -> datetime: ...
    def set(self, instant: datetime) -> datetime: ...
    def advance(self, seconds: float) -> datetime: ...
