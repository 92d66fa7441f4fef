"""The cap on concurrent firmware downloads in this process, shared by HTTP and CoAP downloads."""

from __future__ import annotations

import time

IDLE_SECONDS = 60.0  # a download whose device asked for nothing this long no longer counts as active


class DownloadGate:
    """At most `limit` devices download at once; a device already downloading is never turned away mid-way."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._active: dict[str, float] = {}

    def admit(self, token: str) -> bool:
        now = time.monotonic()
        for key, seen in list(self._active.items()):
            if now - seen > IDLE_SECONDS:
                del self._active[key]
        if token not in self._active and len(self._active) >= self.limit:
            return False
        self._active[token] = now
        return True

    def finished(self, token: str) -> None:
        self._active.pop(token, None)

    @property
    def active(self) -> int:
        """Downloads that asked for something within IDLE_SECONDS: the rule `admit` applies, without waiting for it."""
        now = time.monotonic()
        return sum(1 for seen in self._active.values() if now - seen <= IDLE_SECONDS)
