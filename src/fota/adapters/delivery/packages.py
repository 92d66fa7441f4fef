"""Firmware packages by download token: each device's link checked, the images cached, and the bandwidth budget's
allowances of the downloads this process serves."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass

from fota.adapters.delivery.budget import DownloadBudget
from fota.services import upgrades
from fota.services.context import ServiceContext
from fota.services.ports import DownloadLink

log = logging.getLogger(__name__)

LINK_CACHE_SECONDS = 30.0
MAX_LINKS = 100_000  # links remembered; past it the least recently used go first


@dataclass(frozen=True)
class Package:
    firmware_name: str
    data: bytes
    etag: bytes


class PackageStore:
    """Resolves download tokens to package bytes, caching both: a 64 KiB package is ~128 CoAP block requests, and
    none of them waits for the database once its download's first block checked the link (docs/adr/0028)."""

    def __init__(self, services: ServiceContext, *, max_images: int = 8, max_links: int = MAX_LINKS) -> None:
        self.services = services
        self.max_images = max_images
        self.max_links = max_links
        self._images: OrderedDict[str, Package] = OrderedDict()
        # token -> (checked at, link or None for an invalid token), least recently used first
        self._links: OrderedDict[str, tuple[float, DownloadLink | None]] = OrderedDict()
        self._refreshing: dict[str, asyncio.Task[None]] = {}
        self.budget = DownloadBudget(services)

    async def package(self, token: str) -> Package | None:
        found = await self.download(token)
        return found[0] if found is not None else None

    async def download(self, token: str) -> tuple[Package, DownloadLink] | None:
        """The package and the (cached) link of a valid token, or None.

        A link checked more than LINK_CACHE_SECONDS ago is checked again in the background while its blocks keep
        going out from the cache: a download under way never waits for a query, and a revoked or expired link is
        refused from the block after the check that finds it gone."""
        held = self.in_memory(token)
        if held is not None:
            return held
        now = time.monotonic()
        cached = self._links.get(token)
        if cached is not None and cached[1] is None and now - cached[0] < LINK_CACHE_SECONDS:
            return None  # known invalid, and recently: no query for every retry of a dead link
        return await self._check(token, now)

    def in_memory(self, token: str) -> tuple[Package, DownloadLink] | None:
        """`download` without the database: the package and link when both are cached (a stale link is checked
        again in the background, as there), None when answering needs a query or the token is invalid."""
        cached = self._links.get(token)
        if cached is None:
            return None
        checked, cached_link = cached
        if cached_link is None:
            return None
        held = self._images.get(cached_link.firmware_name)
        if held is None:
            return None
        self._links.move_to_end(token)
        self._images.move_to_end(held.firmware_name)
        if time.monotonic() - checked >= LINK_CACHE_SECONDS:
            self._refresh(token)
        return held, cached_link

    async def _check(self, token: str, now: float) -> tuple[Package, DownloadLink] | None:
        # Each device's first block checks its link; the image itself is read only when it is not cached.
        found = await self._resolve(token, cached=frozenset(self._images))
        if found is not None and found[1] is None:
            held = self._images.get(found[0].firmware_name)
            if held is not None:
                self._remember(token, now, found[0])
                self._images.move_to_end(held.firmware_name)
                return held, found[0]
            found = await self._resolve(token, cached=frozenset())  # evicted meanwhile: read it after all
        link, data = found if found is not None else (None, None)
        if link is None or data is None:
            self._remember(token, now, None)
            return None
        self._remember(token, now, link)
        package = Package(link.firmware_name, data, hashlib.sha256(data).digest()[:8])
        self._images[link.firmware_name] = package
        while len(self._images) > self.max_images:
            self._images.popitem(last=False)
        return package, link

    def _remember(self, token: str, now: float, link: DownloadLink | None) -> None:
        self._links[token] = (now, link)
        self._links.move_to_end(token)
        while len(self._links) > self.max_links:
            self._links.popitem(last=False)  # the least recently asked for: long finished downloads first

    def _refresh(self, token: str) -> None:
        if token in self._refreshing:
            return

        async def check() -> None:
            try:
                found = await self._resolve(token, cached=frozenset(self._images))
            except Exception:
                # The download goes on with the link it had; the next check comes a cache period later.
                log.warning("checking a download link failed", exc_info=True)
                held = self._links.get(token)
                if held is not None:
                    self._remember(token, time.monotonic(), held[1])
            else:
                self._remember(token, time.monotonic(), found[0] if found is not None else None)
            finally:
                self._refreshing.pop(token, None)

        self._refreshing[token] = asyncio.create_task(check(), name="download-link-check")

    async def close(self) -> None:
        for task in list(self._refreshing.values()):
            task.cancel()
        await asyncio.gather(*self._refreshing.values(), return_exceptions=True)
        self._refreshing.clear()

    async def _resolve(self, token: str, *, cached: frozenset[str]) -> tuple[DownloadLink, bytes | None] | None:
        return await asyncio.to_thread(
            upgrades.resolve_download,
            uow=self.services.reader(),
            clock=self.services.clock,
            token=token,
            cached=cached,
        )
