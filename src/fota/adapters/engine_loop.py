"""The campaign engine's tick inside `fota serve`: measured, run every interval on the injected clock."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from fota.adapters import metrics
from fota.adapters.periodic import PeriodicLoop
from fota.adapters.storage.lag import oldest_due_work
from fota.bootstrap import Container
from fota.services.engine import TickReport, run_due_work

log = logging.getLogger(__name__)

# One tick at a time per process. A tick skips a campaign another tick is advancing (ADR 9), so the clock route's
# tick, running beside the loop's tick at the time before the move, would leave that campaign for the next interval.
_one_tick = threading.Lock()


def tick_once(container: Container) -> TickReport:
    """One engine tick, measured; also run by `POST /admin/v1/clock` so a moved simulated clock acts at once."""
    with _one_tick:
        return _measured_tick(container)


def _measured_tick(container: Container) -> TickReport:
    now = container.clock.now()
    try:
        oldest = oldest_due_work(container.engine, now)
        metrics.ENGINE_LAG.set(max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0)
    except Exception:
        # The lag is only a reading: failing to take it must not keep the tick itself from running.
        log.warning("engine lag query failed", exc_info=True)
    started = time.perf_counter()
    try:
        report = run_due_work(
            uow_factory=container.uow_factory,
            clock=container.clock,
            policy=container.policy,
            exclusive=container.uow_factory.exclusive,
            callback_retention=timedelta(days=container.settings.callback_retention_days),
        )
    finally:
        metrics.ENGINE_TICKS.inc()
        metrics.ENGINE_TICK_DURATION.observe(time.perf_counter() - started)
    for status, count in report.timed_out_outcomes.items():
        metrics.record_outcome(status, count)
    return report


class EngineLoop(PeriodicLoop):
    def __init__(self, container: Container) -> None:
        super().__init__("fota-engine", container.settings.engine_interval_seconds, lambda: self._pass(container))

    @staticmethod
    def _pass(container: Container) -> bool:
        report = tick_once(container)
        if report.transitions or report.timed_out:
            log.info("engine: %d campaign transitions, %d timed-out steps", report.transitions, report.timed_out)
        return False
