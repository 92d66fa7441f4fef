"""Brute-force protection: failed token requests and logins counted per identity and per remote address.

A key (a client id, a username, an address) that has failed `limit` times inside the sliding `window` is refused
(429 with Retry-After) until its oldest counted failure leaves the window, even with the right secret: otherwise a
guesser would learn the answer from the one attempt that is let through. Refused attempts are not counted, so the
lock-out ends on its own. Time is the injected clock's, so tests move it instead of waiting.

Every attempt is charged as a failure *before* its secret is checked and refunded when it succeeds: guesses sent in
parallel cannot all pass the check before the first failure is counted. On PostgreSQL the charges live in a table
shared by every process (adapters/storage/throttle_store.py), so the limit holds across processes and restarts; on
SQLite (one process) they live in memory here. The number of keys kept in memory is bounded (oldest evicted) so a
flood of random usernames cannot grow it without limit.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

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


@dataclass(frozen=True)
class Charge:
    """An attempt counted against its keys until refunded; `ids` name its records in the store that made it."""

    keys: tuple[Key, ...]
    at: datetime
    ids: tuple[int, ...] = ()


class FailureThrottle(Protocol):
    def charge(self, keys: Sequence[Key], now: datetime) -> Charge:
        """Counts an attempt against every key; TooManyAttempts (nothing counted) when any key is at its limit."""
        ...

    def refund(self, charge: Charge) -> None:
        """The attempt succeeded: it no longer counts."""
        ...


def retry_after(recent_newest_first: Sequence[datetime], limit: int, window: timedelta, now: datetime) -> int | None:
    """Seconds until a key with these failures inside the window is below its limit again; None when it is now."""
    if len(recent_newest_first) < limit:
        return None
    frees_at = recent_newest_first[limit - 1] + window
    return max(1, math.ceil((frees_at - now).total_seconds()))


def refusal(waits: Sequence[int | None]) -> TooManyAttempts | None:
    found = [w for w in waits if w is not None]
    return TooManyAttempts("too many failed attempts; retry later", retry_after=max(found)) if found else None


class MemoryThrottle:
    """The throttle of a single process (SQLite deployments and tests of the services)."""

    def __init__(self, window: timedelta = WINDOW, max_keys: int = MAX_KEYS) -> None:
        self.window = window
        self.max_keys = max_keys
        self._failures: OrderedDict[tuple[str, str], list[datetime]] = OrderedDict()
        # Routes run in a thread pool: every read-modify-write of the store happens under this lock.
        self._lock = threading.Lock()

    def _recent(self, key: Key, now: datetime) -> list[datetime]:
        name = (key.kind, key.value)
        times = [t for t in self._failures.get(name, []) if t > now - self.window]
        if times:
            self._failures[name] = times
        else:
            self._failures.pop(name, None)
        return times

    def charge(self, keys: Sequence[Key], now: datetime) -> Charge:
        with self._lock:
            error = refusal([retry_after(self._recent(k, now)[::-1], k.limit, self.window, now) for k in keys])
            if error is not None:
                raise error
            for key in keys:
                name = (key.kind, key.value)
                self._failures.setdefault(name, []).append(now)
                self._failures.move_to_end(name)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)
        return Charge(tuple(keys), now)

    def refund(self, charge: Charge) -> None:
        with self._lock:
            for key in charge.keys:
                times = self._failures.get((key.kind, key.value))
                if times and charge.at in times:
                    times.remove(charge.at)


def client_keys(client_id: str, address: str | None) -> list[Key]:
    keys = [Key("client", client_id, IDENTITY_LIMIT)]
    return [*keys, Key("address", address, ADDRESS_LIMIT)] if address else keys


def user_keys(username: str, address: str | None) -> list[Key]:
    """The keys of a password attempt, shared by the session login and the console sign-in: guesses through either
    count towards the same limit."""
    keys = [Key("user", username, IDENTITY_LIMIT)]
    return [*keys, Key("address", address, ADDRESS_LIMIT)] if address else keys
