"""Runs callback delivery inside `fota serve`: every interval, in a worker thread, on the injected clock."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.concurrency import run_in_threadpool

from fota.bootstrap import Container
from fota.services.outbox import deliver_due

log = logging.getLogger(__name__)


def deliver_once(container: Container) -> None:
    """One delivery pass; also run by `POST /admin/v1/clock` so retries follow a moved simulated clock at once."""
    deliver_due(
        uow_factory=container.uow_factory,
        clock=container.clock,
        sender=container.callback_sender,
        max_attempts=container.settings.callback_max_attempts,
    )


class OutboxLoop:
    def __init__(self, container: Container) -> None:
        self.container = container
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="fota-outbox")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await run_in_threadpool(self.container.callback_sender.close)

    async def _run(self) -> None:
        interval = self.container.settings.callback_interval_seconds
        while True:
            try:
                await run_in_threadpool(deliver_once, self.container)
            except Exception:
                # A failing pass (e.g. the database restarting) must not stop the loop; leases make the next retry safe.
                log.exception("callback delivery pass failed")
            await asyncio.sleep(interval)
