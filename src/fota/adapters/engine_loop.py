"""The campaign engine's tick inside `fota serve`: measured, run every interval on the injected clock."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from fota.adapters import metrics
from fota.adapters.periodic import PeriodicLoop
from fota.services.context import ServiceContext
from fota.services.engine import TickReport, run_due_work

log = logging.getLogger(__name__)

# The oldest work due by a given time and still waiting (adapters/storage/lag.py): the engine lag gauge's reading.
OldestDueWork = Callable[[datetime], datetime | None]


class EngineLoop(PeriodicLoop):
    def __init__(
        self,
        services: ServiceContext,
        *,
        interval: float,
        callback_retention: timedelta,
        oldest_due_work: OldestDueWork,
    ) -> None:
        super().__init__("fota-engine", interval, self._pass)
        self.services = services
        self.callback_retention = callback_retention
        self.oldest_due_work = oldest_due_work
        # One tick at a time. A tick skips a campaign another tick is advancing (ADR 9), so the clock route's tick,
        # running beside the loop's at the time before the move, would leave that campaign for the next interval.
        self._ticking = threading.Lock()

    def tick(self) -> TickReport:
        """One engine tick, measured; also run by `POST /admin/v1/clock` so a moved simulated clock acts at once."""
        with self._ticking:
            return self._measured_tick()

    def _measured_tick(self) -> TickReport:
        now = self.services.clock.now()
        try:
            oldest = self.oldest_due_work(now)
            metrics.ENGINE_LAG.set(max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0)
        except Exception:
            # The lag is only a reading: failing to take it must not keep the tick itself from running.
            log.warning("engine lag query failed", exc_info=True)
        started = time.perf_counter()
        try:
            report = run_due_work(
                uow_factory=self.services.uow,
                clock=self.services.clock,
                policy=self.services.policy,
                exclusive=self.services.exclusive,
                callback_retention=self.callback_retention,
            )
        finally:
            metrics.ENGINE_TICKS.inc()
            metrics.ENGINE_TICK_DURATION.observe(time.perf_counter() - started)
        for status, count in report.timed_out_outcomes.items():
            metrics.record_outcome(status, count)
        return report

    def _pass(self) -> bool:
        report = self.tick()
        if report.transitions or report.timed_out:
            log.info("engine: %d campaign transitions, %d timed-out steps", report.transitions, report.timed_out)
        return False
