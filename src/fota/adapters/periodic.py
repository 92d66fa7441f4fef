"""A background loop inside `fota serve`: run a blocking pass in a worker thread, again and again, until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool

log = logging.getLogger(__name__)


class PeriodicLoop:
    """Calls `work` every `interval` seconds; `work` returns True when more is due at once (a backlog)."""

    def __init__(self, name: str, interval: float, work: Callable[[], bool]) -> None:
        self.name = name
        self.interval = interval
        self.work = work
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            more = False
            try:
                more = await run_in_threadpool(self.work)
            except Exception:
                # A failing pass (e.g. the database restarting) must not stop the loop; the next pass retries.
                log.exception("%s pass failed", self.name)
            await asyncio.sleep(0 if more else self.interval)
