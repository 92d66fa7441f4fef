"""How loaded this process's event loop is: how late a timer that should fire every `interval` runs, and the share
of time the loop spends working rather than waiting in its selector. Every request, check-in answer and block waits
behind the same loop, so these are what a device feels as the server's load (the download limit's signals,
docs/adr/0028).

Both are needed. The lag catches a loop held up by long callbacks, but a loop that reads one datagram per
iteration keeps its timers punctual while requests queue in the socket's receive buffer: there only the busy share
shows the saturation (it nears 1: the selector always has something ready).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any


class LoopLag:
    """`seconds`: a smoothed mean of recent timer delays; `busy`: the smoothed share of each interval spent outside
    the selector (0 when the loop's selector cannot be measured). `on_tick(now, lag, busy)` runs after each one."""

    def __init__(self, *, interval: float = 0.05, weight: float = 0.2) -> None:
        self.interval = interval
        self.weight = weight
        self.seconds = 0.0
        self.busy = 0.0
        self.on_tick: Callable[[float, float, float], None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._waited = 0.0  # seconds spent in the selector since the loop's selector was wrapped
        self._unwrap: Callable[[], None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="event-loop-lag")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        unwrap, self._unwrap = self._unwrap, None
        if unwrap is not None:
            unwrap()

    def _measure_selector(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Wraps the selector of a selector event loop (CPython's default) to add up the time spent in it."""
        selector: Any = getattr(loop, "_selector", None)
        if selector is None or not hasattr(selector, "select"):
            return False
        original = selector.select

        def select(timeout: float | None = None) -> Any:
            started = time.perf_counter()
            try:
                return original(timeout)
            finally:
                self._waited += time.perf_counter() - started

        selector.select = select

        def unwrap() -> None:
            selector.select = original

        self._unwrap = unwrap
        return True

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        measured = self._measure_selector(loop)
        last, waited = time.perf_counter(), self._waited
        while True:
            due = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            now = loop.time()
            late = max(0.0, now - due)
            self.seconds += self.weight * (late - self.seconds)
            if measured:
                clock = time.perf_counter()
                elapsed, idle = clock - last, self._waited - waited
                last, waited = clock, self._waited
                share = min(1.0, max(0.0, 1.0 - idle / elapsed)) if elapsed > 0 else 0.0
                self.busy += self.weight * (share - self.busy)
            if self.on_tick is not None:
                self.on_tick(now, self.seconds, self.busy)
