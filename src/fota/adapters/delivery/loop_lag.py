"""How loaded this process's event loop is: how late a timer that should fire every `interval` runs, and the share
of wall time the loop's thread spends on the CPU. Every request, check-in answer and block waits behind the same
loop, so these are what a device feels as the server's load (the download limit's signals, docs/adr/0028).

Both are needed. The lag catches a loop held up by long callbacks, but a loop that reads one datagram per
iteration (aiocoap's UDP transport does) keeps its timers punctual while requests queue in the socket's receive
buffer: there only the busy share shows the saturation. It is the loop thread's own CPU time (the thread the
measuring task runs on), so it works on any event loop implementation (uvicorn runs uvloop when installed).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable


class LoopLag:
    """`seconds`: a smoothed mean of recent timer delays; `busy`: the smoothed share of wall time the loop's thread
    was on the CPU (0..1). `on_tick(now, lag, busy)` runs after each measurement."""

    def __init__(self, *, interval: float = 0.05, weight: float = 0.2) -> None:
        self.interval = interval
        self.weight = weight
        self.seconds = 0.0
        self.busy = 0.0
        self.on_tick: Callable[[float, float, float], None] | None = None
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
        wall, cpu = time.perf_counter(), time.thread_time()
        while True:
            due = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            now = loop.time()
            late = max(0.0, now - due)
            self.seconds += self.weight * (late - self.seconds)
            wall_now, cpu_now = time.perf_counter(), time.thread_time()
            if wall_now > wall:
                share = min(1.0, max(0.0, (cpu_now - cpu) / (wall_now - wall)))
                self.busy += self.weight * (share - self.busy)
            wall, cpu = wall_now, cpu_now
            if self.on_tick is not None:
                self.on_tick(now, self.seconds, self.busy)
