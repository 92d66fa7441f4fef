"""The places for concurrent firmware downloads in this process, shared by HTTP and CoAP downloads: how many there
are (an adaptive limit under --max-downloads, domain/admission.py), who holds one, and the upgrade starts queued
for one (docs/adr/0028)."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque

from fota.adapters.delivery.loop_lag import LoopLag
from fota.domain.admission import DownloadLimit

IDLE_SECONDS = 60.0  # a download whose device asked for nothing this long no longer holds its place


class DownloadGate:
    """A download under way keeps its place until its last block (or a minute of silence); it is never turned away
    mid-way. Every check is O(1): places are kept oldest-seen first, so only expired ones at the front are looked at.

    A new upgrade start takes a place before its package is offered (`reserve`), waiting in line while there is
    none, and hands it to the download's token once it has one (`bind`): the blocks of downloads under way then
    find their place held, and new starts, not blocks, are what waits when the process is saturated."""

    def __init__(self, ceiling: int, *, limit: DownloadLimit | None = None, lag: LoopLag | None = None) -> None:
        self.ceiling = ceiling
        self.rule = limit if limit is not None else DownloadLimit(ceiling)
        self.lag = lag if lag is not None else LoopLag()
        self.lag.on_tick = self._retune
        self._held: OrderedDict[str, float] = OrderedDict()  # key -> last seen (monotonic), oldest first
        self._completed: OrderedDict[str, float] = OrderedDict()  # token -> when its last block went, oldest first
        self._line: deque[tuple[str, asyncio.Future[bool]]] = deque()
        self.refused = 0

    @property
    def limit(self) -> int:
        return self.rule.limit

    def start(self) -> None:
        """Starts measuring the event loop's lag, which moves the limit (without it the limit stays where it is)."""
        self.lag.start()

    async def stop(self) -> None:
        await self.lag.stop()
        for _, future in self._line:
            if not future.done():
                future.set_result(False)
        self._line.clear()

    def admit(self, token: str) -> bool:
        """For each block or HTTP request: True when the download holds a place, or takes a free one nobody waits
        for. A refused one is a download started without a reservation (or idle past its place) at a full limit."""
        now = time.monotonic()
        self._expire(now)
        if token in self._held:
            self._held[token] = now
            self._held.move_to_end(token)
            return True
        if token in self._completed:
            return True  # a repeat of a finished download's last block: it needs no place
        if len(self._held) >= self.limit or self._someone_waits():
            self.refused += 1
            return False
        self._held[token] = now
        return True

    async def reserve(self, key: str, *, timeout: float) -> bool:
        """A place for a new download under `key` (the device), taken now or after waiting in line at most
        `timeout` seconds; False when none came: the start waits for the device's next check-in."""
        now = time.monotonic()
        self._expire(now)
        if key in self._held:
            self._held[key] = now
            self._held.move_to_end(key)
            return True
        if len(self._held) < self.limit and not self._someone_waits():
            self._held[key] = now
            return True
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._line.append((key, future))
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            if future.done() and future.result():
                return True  # granted at the very moment the wait ran out
            future.cancel()
            return False
        except asyncio.CancelledError:
            if future.done() and not future.cancelled() and future.result():
                self.release(key)
            future.cancel()
            raise

    def bind(self, key: str, token: str) -> None:
        """The reservation of `key` becomes the place of the download by `token`, seen now."""
        self._held.pop(key, None)
        self._held[token] = time.monotonic()

    def release(self, key: str) -> None:
        """A reservation or download that will send nothing more gives its place to the next in line."""
        if self._held.pop(key, None) is not None:
            self._grant()

    def finished(self, token: str) -> None:
        self.release(token)

    def completed(self, token: str) -> None:
        """The download sent its last block. Its place frees, and for IDLE_SECONDS a repeat of that block is served
        without taking one: a device whose acknowledgement was lost asks again, and CoAP reads are answered afresh
        rather than from memory (docs/adr/0032)."""
        self._completed[token] = time.monotonic()
        self._completed.move_to_end(token)
        self.release(token)

    @property
    def active(self) -> int:
        """Places held (downloads under way and reservations), without waiting for the next `admit`."""
        self._expire(time.monotonic())
        return len(self._held)

    @property
    def waiting(self) -> int:
        """Starts in line for a place (a count for the metrics: it looks at the whole line)."""
        return sum(1 for _, future in self._line if not future.done())

    def _someone_waits(self) -> bool:
        while self._line and self._line[0][1].done():
            self._line.popleft()  # gave up (timed out, cancelled) before its turn
        return bool(self._line)

    def _expire(self, now: float) -> None:
        while self._completed and now - next(iter(self._completed.values())) > IDLE_SECONDS:
            self._completed.popitem(last=False)
        expired = False
        while self._held:
            key, seen = next(iter(self._held.items()))
            if now - seen <= IDLE_SECONDS:
                break
            del self._held[key]
            expired = True
        if expired:
            self._grant()

    def _grant(self) -> None:
        now = time.monotonic()
        while self._line and len(self._held) < self.limit:
            key, future = self._line.popleft()
            if future.done():
                continue
            self._held[key] = now
            self._held.move_to_end(key)
            future.set_result(True)

    def _retune(self, now: float, lag: float, busy: float) -> None:
        self.rule.observe(now, lag=lag, busy=busy, in_use=len(self._held), waiting=len(self._line))
        self._grant()
