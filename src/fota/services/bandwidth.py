"""The bandwidth budget's use cases (domain/bandwidth.py, docs/adr/0024): admission at the claim, inside its
transaction; the reservations a download path makes before blocks its allowance does not cover; pruning counters."""

from __future__ import annotations

from datetime import datetime, timedelta

from fota.clock import Clock
from fota.domain.bandwidth import BandwidthBudget, BudgetWait, Grant, budget_hour
from fota.domain.campaign import Campaign
from fota.services.ports import DownloadLink, UnitOfWork, UnitOfWorkFactory

COUNTER_RETENTION = timedelta(days=1)


def admit(uow: UnitOfWork, campaign: Campaign, image_size: int, *, now: datetime) -> Grant | BudgetWait:
    """Reserves a starting device's image (at most one hour's budget) in now's hour, in the caller's transaction;
    the wait when the hour cannot carry it. `campaign.bandwidth` must be set."""
    budget = campaign.bandwidth
    assert budget is not None
    return _reserve(uow, campaign.id, budget, budget.request(image_size), now)


def _reserve(
    uow: UnitOfWork, campaign_id: str, budget: BandwidthBudget, wanted: int, now: datetime
) -> Grant | BudgetWait:
    hour = budget_hour(now)
    if uow.bandwidth.reserve(campaign_id, hour, wanted, bytes_per_hour=budget.bytes_per_hour):
        return Grant(wanted, hour)
    return budget.wait(now)


def reserve_for_download(
    *, uow: UnitOfWork, clock: Clock, link: DownloadLink, remaining: int, image_size: int, first: bool
) -> Grant | BudgetWait:
    """The reservation before a block no allowance covers, `remaining` bytes of the image from that block on.

    `first`: the serving process's first reservation for this download, which takes over the claim's start grant
    (the whole image, or one hour's budget) when it was made in this hour: one conditional UPDATE instead of
    counting the image twice. Otherwise the rest of the image is reserved, capped at one hour's budget.
    """
    budget = link.bandwidth
    assert budget is not None
    now = clock.now()
    with uow:
        hour = budget_hour(now)
        if first and uow.upgrades.take_start_grant(link.campaign_id, link.device_id, hour=hour):
            uow.commit()
            return Grant(budget.request(image_size), hour)
        reserved = _reserve(uow, link.campaign_id, budget, budget.request(remaining), now)
        if isinstance(reserved, Grant):
            uow.commit()
    return reserved


def prune(*, uow_factory: UnitOfWorkFactory, clock: Clock, keep: timedelta = COUNTER_RETENTION) -> int:
    """Deletes the counters of hours that ended more than `keep` ago: no reservation can be made in them again."""
    uow = uow_factory()
    with uow:
        removed = uow.bandwidth.prune(budget_hour(clock.now()) - keep)
        uow.commit()
    return removed
