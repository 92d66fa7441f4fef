"""Firmware packages by download token: each device's link checked, the images cached, and the bandwidth budget's
allowances of the downloads this process serves."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass

from fota.adapters.delivery.budget import DownloadBudget
from fota.services import upgrades
from fota.services.context import ServiceContext
from fota.services.ports import DownloadLink

LINK_CACHE_SECONDS = 30.0


@dataclass(frozen=True)
class Package:
    firmware_name: str
    data: bytes
    etag: bytes


class PackageStore:
    """Resolves download tokens to package bytes, caching both: a 64 KiB package is ~64 CoAP block requests."""

    def __init__(self, services: ServiceContext, *, max_images: int = 8) -> None:
        self.services = services
        self.max_images = max_images
        self._images: OrderedDict[str, Package] = OrderedDict()
        self._links: dict[str, tuple[float, DownloadLink | None]] = {}
        self.budget = DownloadBudget(services)

    async def package(self, token: str) -> Package | None:
        found = await self.download(token)
        return found[0] if found is not None else None

    async def download(self, token: str) -> tuple[Package, DownloadLink] | None:
        """The package and the (cached) link of a valid token, or None."""
        now = time.monotonic()
        cached = self._links.get(token)
        if cached is not None and now - cached[0] < LINK_CACHE_SECONDS:
            cached_link = cached[1]
            if cached_link is None:
                return None
            name = cached_link.firmware_name
            if name in self._images:
                self._images.move_to_end(name)
                return self._images[name], cached_link
        # Each device's first block checks its link; the image itself is read only when it is not cached.
        found = await self._resolve(token, cached=frozenset(self._images))
        if found is not None and found[1] is None:
            held = self._images.get(found[0].firmware_name)
            if held is not None:
                self._links[token] = (now, found[0])
                self._images.move_to_end(held.firmware_name)
                return held, found[0]
            found = await self._resolve(token, cached=frozenset())  # evicted meanwhile: read it after all
        link, data = found if found is not None else (None, None)
        if link is None or data is None:
            self._links[token] = (now, None)
            return None
        self._links[token] = (now, link)
        package = Package(link.firmware_name, data, hashlib.sha256(data).digest()[:8])
        self._images[link.firmware_name] = package
        while len(self._images) > self.max_images:
            self._images.popitem(last=False)
        if len(self._links) > 100_000:
            self._links.clear()
        return package, link

    async def _resolve(self, token: str, *, cached: frozenset[str]) -> tuple[DownloadLink, bytes | None] | None:
        return await asyncio.to_thread(
            upgrades.resolve_download,
            uow=self.services.reader(),
            clock=self.services.clock,
            token=token,
            cached=cached,
        )
