"""How late this process's event loop runs: a timer that should fire every `interval` and the delay it actually
had, smoothed. Every request, every check-in batch's answer and every block waits behind the same loop, so its lag
is what a device feels as the server's load (the download limit's signal, docs/adr/0028)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable


class LoopLag:
    """`seconds`: an exponentially weighted mean of recent timer delays. `on_tick(now, lag)` runs after each one."""

    def __init__(self, *, interval: float = 0.05, weight: float = 0.2) -> None:
        self.interval = interval
        self.weight = weight
        self.seconds = 0.0
        self.on_tick: Callable[[float, float], None] | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="event-loop-lag")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            now = loop.time()
            late = max(0.0, now - due)
            self.seconds += self.weight * (late - self.seconds)
            if self.on_tick is not None:
                self.on_tick(now, self.seconds)
