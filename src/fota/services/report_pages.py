"""Device report pages kept in process memory, each served again for as long as the report's version in the database
is the one it was read at (docs/adr/0043). Bounded by the bytes of the pages it holds, least recently used first out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from fota.services.ports import ReportVersion, WrittenItems

DEFAULT_MAX_BYTES = 32 * 1024 * 1024  # about 130 pages of 1 000 devices


@dataclass(frozen=True)
class PageKey:
    campaign_id: str
    after: str
    limit: int
    # Written into every pending row without a back-off of its own, and moved by the clock, not by the rows.
    next_opening: datetime | None


class ReportPages:
    def __init__(self, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._pages: OrderedDict[PageKey, tuple[ReportVersion, WrittenItems]] = OrderedDict()
        self._bytes = 0
        # Routes run on the thread pool: reads and writes of the map must not interleave.
        self._lock = threading.Lock()

    def get(self, key: PageKey, version: ReportVersion) -> WrittenItems | None:
        with self._lock:
            found = self._pages.get(key)
            if found is None:
                return None
            if found[0] != version:
                self._drop(key)
                return None
            self._pages.move_to_end(key)
            return found[1]

    def put(self, key: PageKey, version: ReportVersion, page: WrittenItems) -> None:
        size = len(page.items)
        if size > self.max_bytes:
            return
        with self._lock:
            self._drop(key)
            self._pages[key] = (version, page)
            self._bytes += size
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._pages)))

    def _drop(self, key: PageKey) -> None:
        found = self._pages.pop(key, None)
        if found is not None:
            self._bytes -= len(found[1].items)

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._pages)
