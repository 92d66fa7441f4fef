"""Group commit: writes (LwM2M registration Updates, HTTP check-ins, upgrade steps) that arrive while one batch is
being written go in the next.

A fleet checking in at once would otherwise cost one transaction (and, on SQLite, one turn at the single write lock)
per message. Here one worker thread writes a whole batch in one transaction; nothing waits for a timer, so a lone
check-in is written at once and a burst is written in as many transactions as it takes batches. Each caller still
gets its answer only after its batch committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """Runs `write(items) -> results` (one result per item, in order) in a thread, one batch at a time.

    The thread is the batcher's own, so a batch never queues behind other work in the event loop's default
    executor. If a batch fails as a whole, its items are retried one by one so that one bad item fails alone.
    """

    def __init__(
        self, write: Callable[[Sequence[T]], Sequence[R]], *, max_batch: int = 200, name: str = "lwm2m-batch"
    ) -> None:
        self._write = write
        self.name = name  # of the drain task and the thread
        self.max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._drainer: asyncio.Task[None] | None = None
        self._thread: ThreadPoolExecutor | None = None  # started with the first batch, ended by close()
        self.batches = 0
        self.items = 0

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain(), name=self.name)
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            # A caller that gave up (its request was cancelled) no longer needs its item written.
            batch = [(item, future) for item, future in batch if not future.done()]
            if not batch:
                continue
            self.batches += 1
            self.items += len(batch)
            try:
                results = await self._run([item for item, _ in batch])
            except Exception:
                log.warning("a batch of %d (%s) failed; writing them one by one", len(batch), self.name, exc_info=True)
                await self._one_by_one(batch)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def _one_by_one(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        for item, future in batch:
            try:
                (result,) = await self._run([item])
            except Exception as error:
                if not future.done():
                    future.set_exception(error)
                continue
            if not future.done():
                future.set_result(result)

    async def _run(self, items: list[T]) -> Sequence[R]:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.name)
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._write, items)

    async def close(self) -> None:
        task, self._drainer = self._drainer, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for _, future in self._pending:
            future.cancel()
        self._pending = []
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.shutdown(wait=False)
