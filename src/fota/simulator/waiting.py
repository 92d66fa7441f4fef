"""Waiting on a condition with a deadline, for tests and the CLI: poll instead of sleeping a fixed time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def wait_until(
    predicate: Callable[[], bool], timeout: float, *, what: str = "condition", poll: float = 0.01
) -> None:
    """Return as soon as `predicate()` is true; raise TimeoutError naming `what` after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() >= deadline:
            raise TimeoutError(f"{what} not met within {timeout} s")
        await asyncio.sleep(poll)
