"""Serving firmware packages to devices: the per-device link check, an image cache and a cap on concurrent downloads.

Shared by the CoAP resource (Block2, any block size, stateless so a download resumes at any block) and the HTTP
route (Range requests).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass

from fota.bootstrap import Container
from fota.services import upgrades
from fota.services.ports import DownloadLink

IDLE_SECONDS = 60.0  # a download whose device asked for nothing this long no longer counts as active
LINK_CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class Package:
    firmware_name: str
    data: bytes
    etag: bytes


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


class PackageStore:
    """Resolves download tokens to package bytes, caching both: a 64 KiB package is ~64 CoAP block requests."""

    def __init__(self, container: Container, *, max_images: int = 8) -> None:
        self.container = container
        self.max_images = max_images
        self._images: OrderedDict[str, Package] = OrderedDict()
        self._links: dict[str, tuple[float, str | None]] = {}

    async def package(self, token: str) -> Package | None:
        now = time.monotonic()
        cached = self._links.get(token)
        if cached is not None and now - cached[0] < LINK_CACHE_SECONDS:
            name = cached[1]
            if name is None:
                return None
            if name in self._images:
                self._images.move_to_end(name)
                return self._images[name]
        # Each device's first block checks its link; the image itself is read only when it is not cached.
        found = await self._resolve(token, cached=frozenset(self._images))
        if found is not None and found[1] is None:
            held = self._images.get(found[0].firmware_name)
            if held is not None:
                self._links[token] = (now, held.firmware_name)
                self._images.move_to_end(held.firmware_name)
                return held
            found = await self._resolve(token, cached=frozenset())  # evicted meanwhile: read it after all
        link, data = found if found is not None else (None, None)
        if link is None or data is None:
            self._links[token] = (now, None)
            return None
        self._links[token] = (now, link.firmware_name)
        package = Package(link.firmware_name, data, hashlib.sha256(data).digest()[:8])
        self._images[link.firmware_name] = package
        while len(self._images) > self.max_images:
            self._images.popitem(last=False)
        if len(self._links) > 100_000:
            self._links.clear()
        return package

    async def _resolve(self, token: str, *, cached: frozenset[str]) -> tuple[DownloadLink, bytes | None] | None:
        return await asyncio.to_thread(
            upgrades.resolve_download,
            uow=self.container.reader(),
            clock=self.container.clock,
            token=token,
            cached=cached,
        )


def block(data: bytes, number: int, size: int) -> tuple[bytes, bool] | None:
    """Block `number` of `size` bytes and whether more follow; None past the end."""
    start = number * size
    if start >= len(data) and not (start == 0 and not data):
        return None
    chunk = data[start : start + size]
    return chunk, start + size < len(data)


def parse_range(header: str, total: int) -> tuple[int, int] | None:
    """The first byte range of an HTTP Range header as (start, end inclusive); None if unsatisfiable or absent."""
    if not header.startswith("bytes="):
        return None
    first = header.removeprefix("bytes=").split(",")[0].strip()
    start_text, _, end_text = first.partition("-")
    try:
        if start_text == "":
            length = int(end_text)
            if length <= 0:
                return None
            return max(0, total - length), total - 1
        start = int(start_text)
        end = int(end_text) if end_text else total - 1
    except ValueError:
        return None
    if start >= total or end < start:
        return None
    return start, min(end, total - 1)
