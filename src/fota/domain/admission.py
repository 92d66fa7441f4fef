"""How many firmware downloads one process lets run at once: an AIMD rule driven by its event loop's load (how late
it runs, how much of the time it works), between a floor and the operator's ceiling (--max-downloads); pure, on the
time it is given (docs/adr/0028)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DownloadLimit:
    """The current limit, moved at most once a `period`: down by `decrease` (a fraction) when the loop is overloaded
    (its lag past `target_lag`, or its busy share past `target_busy`), up when it is not and the limit is what holds
    downloads back.

    Up by `growth` (a fraction of the limit) until the first overload, as TCP's slow start grows its window: from the
    modest `initial` a wave's limit reaches a ceiling of 200 in about ten periods, where `increase` alone took 42 s
    while the loop was idle half the time (docs/performance.md). After an overload it grows by `increase` only, so
    it creeps towards the load it once could not carry instead of leaping back to it.

    A decrease takes effect only as downloads under way finish, so the lag stays high for a while after one: the
    rule waits `hold` before it decreases again, rather than falling to the floor on the echo of one overload."""

    ceiling: int
    floor: int = 4
    initial: int = 32
    target_lag: float = 0.05
    target_busy: float = 0.75
    increase: int = 4
    growth: float = 0.25
    decrease: float = 0.7
    period: float = 1.0
    hold: float = 3.0
    limit: int = field(init=False)
    _checked: float | None = field(default=None, init=False)
    _decreased: float | None = field(default=None, init=False)
    _overloaded_once: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        if self.ceiling < 1:
            raise ValueError("the ceiling on downloads must be at least 1")
        self.floor = max(1, min(self.floor, self.ceiling))
        self.limit = max(self.floor, min(self.initial, self.ceiling))

    def observe(self, now: float, *, lag: float, busy: float = 0.0, in_use: int, waiting: int) -> int:
        """The limit after a measurement at `now` (seconds on any monotonic scale): `lag` how late the loop ran,
        `busy` the share of time it worked (0..1), `in_use` downloads holding a place, `waiting` starts queued."""
        if self._checked is not None and now - self._checked < self.period:
            return self.limit
        self._checked = now
        if lag > self.target_lag or busy > self.target_busy:
            self._overloaded_once = True
            if self._decreased is None or now - self._decreased >= self.hold:
                self._decreased = now
                self.limit = max(self.floor, int(self.limit * self.decrease))
        elif waiting > 0 or in_use >= self.limit:
            # Only a limit that binds grows: an idle process keeps a modest one for the next wave to start from.
            step = self.increase if self._overloaded_once else max(self.increase, int(self.limit * self.growth))
            self.limit = min(self.ceiling, self.limit + step)
        return self.limit
