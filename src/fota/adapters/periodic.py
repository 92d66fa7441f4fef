"""A background loop inside `fota serve`: run a blocking pass in a worker thread, again and again, until stopped.

Between passes it waits its interval, or less when woken (a PostgreSQL notification that work was enqueued).
"""

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
        self._loop: asyncio.AbstractEventLoop | None = None
        self._woken = asyncio.Event()

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = self._loop.create_task(self._run(), name=self.name)

    def wake(self) -> None:
        """Starts the next pass now rather than at the end of the interval; callable from any thread."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._woken.set)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            # Cleared before the pass: a wake-up while it runs means work it may not have seen, so another pass.
            self._woken.clear()
            more = False
            try:
                more = await run_in_threadpool(self.work)
            except Exception:
                # A failing pass (e.g. the database restarting) must not stop the loop; the next pass retries.
                log.exception("%s pass failed", self.name)
            if more:
                await asyncio.sleep(0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self.interval)
