"""The CoAP registration interface's refusal budget per remote address: a token bucket in this process, and on
PostgreSQL the refusals of every LwM2M process summed in the database, so an address refused too often is turned
away by all of them (docs/reliability.md)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter

from fota.services.ports import RefusalLedger

log = logging.getLogger(__name__)

# Refused registration-interface requests (unknown endpoint, malformed, unknown location) allowed per remote address:
# a burst, then a steady rate. Each refusal costs a database write and a worker thread; past this an address gets
# 5.03 with Max-Age before any of that, so a flood from one address cannot starve other devices' sessions and
# downloads. Every request reserves a token while in flight (otherwise a flood's requests all pass before the first
# refusal is counted) and an accepted one gives it back: well-behaved devices, even many behind one NAT, are only
# limited while more than the burst of their requests are in flight at once. Registration Updates are the exception
# (lwm2m/refusal_gate.py): they are batched and a refused one writes nothing, so they are charged only when refused.
REFUSAL_BURST = 100
REFUSAL_RATE = 20.0  # per second
REFUSAL_MAX_AGE = 30  # seconds a refused-for-load client is asked to wait
SYNC_INTERVAL = 1.0  # seconds between exchanges with the shared ledger


class RefusalBucket:
    """A token bucket per remote address, charged only by refusals; bounded in the number of addresses it holds.

    The refusals it charges are also kept as `pending` for the shared ledger, and addresses the ledger reports over
    the deployment's budget are `blocked` here until the next exchanges stop reporting them.
    """

    def __init__(self, burst: int = REFUSAL_BURST, rate: float = REFUSAL_RATE, max_addresses: int = 10_000) -> None:
        self.burst = burst
        self.rate = rate
        self.max_addresses = max_addresses
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, monotonic time of that count)
        self.refused = 0
        self.pending: Counter[str] = Counter()
        self._blocked: dict[str, float] = {}  # address -> monotonic time the shared budget's block ends

    def _tokens(self, address: str, now: float) -> float:
        tokens, at = self._buckets.get(address, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - at) * self.rate)

    def _is_blocked(self, address: str, now: float) -> bool:
        until = self._blocked.get(address)
        if until is None:
            return False
        if until <= now:
            del self._blocked[address]
            return False
        return True

    def reserve(self, address: str) -> bool:
        """Takes a token for a request about to be handled; False (nothing taken) when the address has none left."""
        now = time.monotonic()
        tokens = self._tokens(address, now)
        if tokens < 1.0 or self._is_blocked(address, now):
            self.refused += 1
            return False
        self._buckets[address] = (tokens - 1.0, now)
        self.pending[address] += 1
        if len(self._buckets) > self.max_addresses:
            # Forget full buckets first: they hold no state a fresh bucket would not.
            for key in [k for k in self._buckets if self._tokens(k, now) >= self.burst]:
                del self._buckets[key]
            while len(self._buckets) > self.max_addresses:
                del self._buckets[next(iter(self._buckets))]
        return True

    def admits(self, address: str) -> bool:
        """Whether the address has a token left, taking none (see `charge`); counts a refusal when it has not."""
        now = time.monotonic()
        if self._tokens(address, now) >= 1.0 and not self._is_blocked(address, now):
            return True
        self.refused += 1
        return False

    def charge(self, address: str) -> None:
        """Takes a token for a request that was refused after it was let in without a reservation."""
        now = time.monotonic()
        self._buckets[address] = (max(0.0, self._tokens(address, now) - 1.0), now)
        self.pending[address] += 1

    def give_back(self, address: str) -> None:
        """The request was accepted: it costs the address nothing."""
        now = time.monotonic()
        self._buckets[address] = (min(float(self.burst), self._tokens(address, now) + 1.0), now)
        if self.pending[address] > 0:
            self.pending[address] -= 1

    def take_pending(self) -> dict[str, int]:
        taken = {address: count for address, count in self.pending.items() if count > 0}
        self.pending.clear()
        return taken

    def block(self, addresses: set[str], seconds: float) -> None:
        until = time.monotonic() + seconds
        for address in addresses:
            self._blocked[address] = until


class SharedRefusals:
    """Every second: hands this process's refusals to the ledger and blocks what the ledger says is over budget."""

    def __init__(self, bucket: RefusalBucket, ledger: RefusalLedger, interval: float = SYNC_INTERVAL) -> None:
        self.bucket = bucket
        self.ledger = ledger
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="fota-coap-refusals")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def exchange_once(self) -> None:
        counts = self.bucket.take_pending()
        try:
            over = await asyncio.to_thread(self.ledger.exchange, counts)
        except Exception:
            # The local bucket keeps protecting this process; the counts are kept for the next exchange.
            log.warning("the shared CoAP refusal budget is unreachable; this process limits on its own", exc_info=True)
            self.bucket.pending.update(counts)
            return
        # Held a little longer than one interval so a block never lapses between two exchanges that renew it.
        self.bucket.block(over, 2 * self.interval)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.exchange_once()
