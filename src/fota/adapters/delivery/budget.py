"""The bandwidth budget on both download paths (docs/adr/0024): the allowance this process holds per download, from
which blocks go out without touching the database, and the reservation before a block it does not cover."""

from __future__ import annotations

import asyncio
from datetime import datetime

from fota.domain.bandwidth import Allowance, BudgetWait, Grant, budget_hour
from fota.services import bandwidth
from fota.services.context import ServiceContext
from fota.services.ports import DownloadLink

MAX_HELD = 100_000  # downloads tracked; past it, those without an allowance of the current hour are let go


class DownloadBudget:
    """Per download token: what is left of this process's grant, and whether it reserved for it yet (its first
    reservation takes over the claim's start grant)."""

    def __init__(self, services: ServiceContext) -> None:
        self.services = services
        self._held: dict[str, Allowance] = {}
        self._reserved: set[str] = set()

    async def clear(self, token: str, link: DownloadLink, *, offset: int, size: int, total: int) -> BudgetWait | None:
        """None when the `size` bytes at `offset` of the `total`-byte image may be sent now, and they are counted as
        sent; else the wait the device gets (CoAP 5.03 Max-Age, HTTP 503 Retry-After). A campaign without a budget
        is always None, with no work at all."""
        budget = link.bandwidth
        if budget is None:
            return None
        now = await self._now()
        allowance = self._held.get(token)
        if budget.reservation_for_block(allowance, size=size, remaining=total - offset, now=now) is not None:
            first = token not in self._reserved
            self._reserved.add(token)
            reserved = await asyncio.to_thread(
                bandwidth.reserve_for_download,
                uow=self.services.uow(),
                clock=self.services.clock,
                link=link,
                remaining=total - offset,
                image_size=total,
                first=first,
            )
            if isinstance(reserved, BudgetWait):
                self._held.pop(token, None)
                return reserved
            allowance = self._granted(reserved, now)
        assert allowance is not None
        self._held[token] = allowance.spend(size)
        return None

    def finished(self, token: str) -> None:
        """The download sent its last byte: what is left of its allowance stays counted, unsent."""
        self._held.pop(token, None)
        self._reserved.discard(token)

    def _granted(self, grant: Grant, now: datetime) -> Allowance:
        if len(self._held) >= MAX_HELD or len(self._reserved) >= MAX_HELD:
            hour = budget_hour(now)
            self._held = {t: a for t, a in self._held.items() if a.hour == hour}
            self._reserved &= set(self._held)
        return Allowance.of(grant)

    async def _now(self) -> datetime:
        # A simulated clock held in the database is read with a query: off the event loop, like every query.
        if self.services.simulated_clock is None:
            return self.services.clock.now()
        return await asyncio.to_thread(self.services.clock.now)
