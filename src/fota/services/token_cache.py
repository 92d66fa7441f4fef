"""Validated tokens kept in process memory, so that a ThingSpace call needs no database read to know its caller.

An entry is trusted for at most `ttl` on the injected clock and never past the token's own expiry. A revocation
evicts it at once in the revoking process and, on PostgreSQL, in every other process through a notification; while
that notification channel is down (`live()` false) the cache answers nothing, so a missed revocation is never served.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta

from fota.domain.accounts import Token

DEFAULT_TTL = timedelta(seconds=60)
DEFAULT_MAX_ENTRIES = 50_000


def _always() -> bool:
    return True


class TokenCache:
    """A bounded least-recently-used map from token hash to a token that was valid when it was read."""

    def __init__(
        self,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        ttl: timedelta = DEFAULT_TTL,
        live: Callable[[], bool] = _always,
    ) -> None:
        self.max_entries = max_entries
        self.ttl = ttl
        self.live = live
        self._entries: OrderedDict[str, tuple[Token, datetime]] = OrderedDict()
        # Routes run on the thread pool: reads and writes of the map must not interleave.
        self._lock = threading.Lock()

    def get(self, token_hash: str, now: datetime) -> Token | None:
        if not self.live():
            return None
        with self._lock:
            entry = self._entries.get(token_hash)
            if entry is None:
                return None
            token, until = entry
            if now >= until or not token.valid_at(now):
                del self._entries[token_hash]
                return None
            self._entries.move_to_end(token_hash)
            return token

    def put(self, token_hash: str, token: Token, now: datetime) -> None:
        if not self.live() or not token.valid_at(now):
            return
        with self._lock:
            self._entries[token_hash] = (token, min(now + self.ttl, token.expires_at))
            self._entries.move_to_end(token_hash)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def evict(self, token_hash: str) -> None:
        with self._lock:
            self._entries.pop(token_hash, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def revoked(self, token_hash: str | None) -> None:
        """A revocation seen on the notification channel: one token, or None for "anything may have changed"."""
        if token_hash:
            self.evict(token_hash)
        else:
            self.clear()

    def __len__(self) -> int:
        return len(self._entries)
