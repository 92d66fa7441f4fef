"""Runs the campaign engine's tick inside `fota serve`: every interval, in a worker thread, on the injected clock."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.concurrency import run_in_threadpool

from fota.bootstrap import Container
from fota.services.engine import run_due_work

log = logging.getLogger(__name__)


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
                report = await run_in_threadpool(
                    run_due_work,
                    uow_factory=self.container.uow_factory,
                    clock=self.container.clock,
                    policy=self.container.policy,
                )
                if report.transitions or report.timed_out:
                    log.info(
                        "engine: %d campaign transitions, %d timed-out steps", report.transitions, report.timed_out
                    )
            except Exception:
                # A failing tick (e.g. the database restarting) must not stop the loop; the next one retries.
                log.exception("engine tick failed")
            await asyncio.sleep(interval)
