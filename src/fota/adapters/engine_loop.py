"""Runs the campaign engine's tick inside `fota serve`: every interval, in a worker thread, on the injected clock."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from starlette.concurrency import run_in_threadpool

from fota.adapters import metrics
from fota.adapters.storage.lag import oldest_due_work
from fota.bootstrap import Container
from fota.services.engine import TickReport, run_due_work

log = logging.getLogger(__name__)


def tick_once(container: Container) -> TickReport:
    """One engine tick, measured; also run by `POST /admin/v1/clock` so a moved simulated clock acts at once."""
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
        )
    finally:
        metrics.ENGINE_TICKS.inc()
        metrics.ENGINE_TICK_DURATION.observe(time.perf_counter() - started)
    for status, count in report.timed_out_outcomes.items():
        metrics.record_outcome(status, count)
    return report


class EngineLoop:
    def __init__(self, container: Container) -> None:
        self.container = container
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="fota-engine")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        interval = self.container.settings.engine_interval_seconds
        while True:
            try:
                report = await run_in_threadpool(tick_once, self.container)
                if report.transitions or report.timed_out:
                    log.info(
                        "engine: %d campaign transitions, %d timed-out steps", report.transitions, report.timed_out
                    )
            except Exception:
                # A failing tick (e.g. the database restarting) must not stop the loop; the next one retries.
                log.exception("engine tick failed")
            await asyncio.sleep(interval)
