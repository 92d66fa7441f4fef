"""Brute-force protection: failed token requests and logins counted per identity and per remote address.

A key (a client id, a username, an address) that has failed `limit` times inside the sliding `window` is refused
(429 with Retry-After) until its oldest counted failure leaves the window, even with the right secret: otherwise a
guesser would learn the answer from the one attempt that is let through. Refused attempts are not counted, so the
lock-out ends on its own. Time is the injected clock's, so tests move it instead of waiting.

The store is in memory, per process: with several API processes each counts on its own, so the effective limit is
the limit times the number of processes (see docs/reliability.md). The number of keys is bounded (oldest evicted)
so a flood of random usernames cannot grow it without limit.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from fota.domain.errors import TooManyAttempts

IDENTITY_LIMIT = 10  # failures per client id or username in the window
ADDRESS_LIMIT = 50  # per remote address: higher, since many honest clients can share one address (NAT, proxies)
WINDOW = timedelta(minutes=5)
MAX_KEYS = 100_000


@dataclass(frozen=True)
class Key:
    kind: str  # "client", "user" or "address"
    value: str
    limit: int


class FailureThrottle:
    def __init__(self, window: timedelta = WINDOW, max_keys: int = MAX_KEYS) -> None:
        self.window = window
        self.max_keys = max_keys
        self._failures: OrderedDict[tuple[str, str], deque[datetime]] = OrderedDict()
        # Routes run in a thread pool: every read-modify-write of the store happens under this lock.
        self._lock = threading.Lock()

    def _recent(self, key: Key, now: datetime) -> deque[datetime] | None:
        times = self._failures.get((key.kind, key.value))
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[(key.kind, key.value)]
            return None
        return times

    def check(self, keys: list[Key], now: datetime) -> None:
        """Raises TooManyAttempts when any key is over its limit; Retry-After is when the first one frees up."""
        with self._lock:
            waits = []
            for key in keys:
                times = self._recent(key, now)
                if times is not None and len(times) >= key.limit:
                    # The attempt is allowed again once enough failures have aged out to fall below the limit.
                    frees_at = times[len(times) - key.limit] + self.window
                    waits.append(max(1, math.ceil((frees_at - now).total_seconds())))
            if waits:
                raise TooManyAttempts("too many failed attempts; retry later", retry_after=max(waits))

    def failed(self, keys: list[Key], now: datetime) -> None:
        with self._lock:
            for key in keys:
                name = (key.kind, key.value)
                times = self._recent(key, now)
                if times is None:
                    times = self._failures[name] = deque(maxlen=key.limit)
                else:
                    self._failures.move_to_end(name)
                times.append(now)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)


def client_keys(client_id: str, address: str | None) -> list[Key]:
    keys = [Key("client", client_id, IDENTITY_LIMIT)]
    return [*keys, Key("address", address, ADDRESS_LIMIT)] if address else keys


def user_keys(username: str, address: str | None) -> list[Key]:
    keys = [Key("user", username, IDENTITY_LIMIT)]
    return [*keys, Key("address", address, ADDRESS_LIMIT)] if address else keys
