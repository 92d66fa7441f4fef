"""The campaign engine's tick: applies every time-driven transition that is due, one campaign per transaction.

A tick's cost follows the number of due campaigns (an indexed `next_transition_at`), not the fleet's size.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import timedelta

from fota.clock import Clock
from fota.domain.campaign import Campaign, due_transition
from fota.domain.errors import DomainError
from fota.domain.statuses import CampaignStatus, DeviceStatus
from fota.domain.upgrade import UpgradePolicy
from fota.services import bandwidth, device_logging, outbox, registrations, reports, rollouts, upgrades
from fota.services.campaigns import finish_campaign, record_campaign_status
from fota.services.enrolment import enrol
from fota.services.ports import Exclusive, UnitOfWorkFactory, always_alone

log = logging.getLogger(__name__)

LAYOUT_BATCH = 5000


@dataclass
class TickReport:
    transitions: int = 0
    timed_out: int = 0
    purged: int = 0
    rollout_decisions: int = 0  # automatic rollout decisions (advance, autoPause, awaitApproval, complete)
    timed_out_outcomes: Counter[DeviceStatus] = field(default_factory=Counter)  # what the time-outs concluded as


def run_due_work(
    *,
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    policy: UpgradePolicy,
    exclusive: Exclusive = always_alone,
    callback_retention: timedelta = outbox.DEFAULT_RETENTION,
) -> TickReport:
    """Everything time makes due: campaign transitions, upgrade steps past their deadline, expired registrations,
    finished callback events, check-ins and device logs past their retention, and bandwidth counters of hours a day
    gone.

    Several engine processes may run this at once (docs/adr/0009-multi-process-coordination.md): each campaign is
    advanced by one of them at a time (`exclusive`), and time-outs and purges are conditional writes that only one
    can win; the sweep itself is left to one process per pass so that the others do not repeat its reads.
    """
    report = tick(uow_factory=uow_factory, clock=clock, exclusive=exclusive)
    report.rollout_decisions = rollouts.settle_due(uow_factory=uow_factory, clock=clock, exclusive=exclusive)
    with exclusive("engine:sweep") as alone:
        if alone:
            report.timed_out = upgrades.expire_steps(
                uow_factory=uow_factory, clock=clock, policy=policy, outcomes=report.timed_out_outcomes
            )
            report.purged = registrations.purge_expired(uow_factory=uow_factory, clock=clock)
            report.purged += outbox.prune(uow_factory=uow_factory, clock=clock, keep=callback_retention)
            report.purged += device_logging.prune(uow_factory=uow_factory, clock=clock)
            report.purged += bandwidth.prune(uow_factory=uow_factory, clock=clock)
            reports.fold_report_changes(uow_factory=uow_factory)
    return report


def tick(
    *, uow_factory: UnitOfWorkFactory, clock: Clock, batch: int = 100, exclusive: Exclusive = always_alone
) -> TickReport:
    """Runs until nothing is due at the clock's current time.

    A campaign another process is advancing is skipped: its layout spans many transactions, and two engines laying
    out the same campaign would only contend on the same rows.
    """
    report = TickReport()
    now = clock.now()
    while True:
        uow = uow_factory()
        with uow:
            due = uow.campaigns.due(now, batch)
        if not due:
            return report
        moved = 0
        for campaign in due:
            with exclusive(f"campaign:{campaign.id}") as alone:
                if not alone:
                    continue
                moved += _advance(
                    uow_factory=uow_factory,
                    campaign_id=campaign.id,
                    account_name=campaign.account_name,
                    clock=clock,
                )
        report.transitions += moved
        if len(due) < batch or moved == 0:
            return report


def _advance(*, uow_factory: UnitOfWorkFactory, campaign_id: str, account_name: str, clock: Clock) -> int:
    """Applies the due transitions of one campaign, each in its own transaction; returns how many.

    Laying out device work runs in batches of its own before the move to Scheduled; a crash in between
    leaves the campaign PreScheduled and the next tick lays out again (enrolment is idempotent).
    """
    now = clock.now()
    count = 0
    while True:
        uow = uow_factory()
        with uow:
            peek = uow.campaigns.get(account_name, campaign_id)
        if peek is None:
            return count
        peeked = due_transition(peek, now)
        try:
            if peeked is not None and peeked.to is CampaignStatus.SCHEDULED:
                _lay_out(uow_factory, peek, clock)
                _plan(uow_factory, peek)
            uow = uow_factory()
            with uow:
                campaign = uow.campaigns.get_for_update(account_name, campaign_id)
                transition = due_transition(campaign, now) if campaign else None
                if campaign is None or transition is None:
                    if campaign is not None:
                        uow.campaigns.update(campaign, at=now)  # stores the recomputed next transition time
                        uow.commit()
                    return count
                if transition.to.is_final:
                    finish_campaign(uow, campaign, transition.to, transition.reason, now=now)
                else:
                    moved = replace(campaign, status=transition.to, status_reason=transition.reason)
                    uow.campaigns.update(moved, at=now)
                    record_campaign_status(uow, moved, now=now)
                    if moved.status is CampaignStatus.SCHEDULED and moved.rollout is not None:
                        uow.rollouts.mark_due(moved.id, now)  # the rollout is settled from now on
                uow.commit()
        except DomainError as error:
            log.exception("campaign %s failed to advance", campaign_id)
            _fail(uow_factory, peek, str(error), clock)
            return count + 1
        count += 1


def _lay_out(uow_factory: UnitOfWorkFactory, campaign: Campaign, clock: Clock) -> None:
    """Enrols every matching device of the account in an auto-add campaign, in batches of its own."""
    if not campaign.auto_add_devices:
        return
    after: str | None = None
    while True:
        uow = uow_factory()
        with uow:
            batch = uow.devices.matching(
                campaign.account_name,
                make=campaign.make,
                model=campaign.model,
                firmware=campaign.firmware_from,
                protocol=campaign.protocol,
                after=after,
                limit=LAYOUT_BATCH,
            )
            if not batch:
                return
            uow.accounts.lock(campaign.account_name)
            enrol(uow, campaign, [d.device_id for d in batch], now=clock.now(), record_rejections=False)
            uow.commit()
        after = batch[-1].device_id


def _plan(uow_factory: UnitOfWorkFactory, campaign: Campaign) -> None:
    """An auto-add campaign's rollout plans its waves once the layout enrolled its devices, before Scheduled."""
    if campaign.rollout is None or not campaign.auto_add_devices:
        return
    uow = uow_factory()
    with uow:
        rollouts.plan_members(uow, campaign)
        uow.commit()


def _fail(uow_factory: UnitOfWorkFactory, campaign: Campaign, reason: str, clock: Clock) -> None:
    uow = uow_factory()
    with uow:
        current = uow.campaigns.get_for_update(campaign.account_name, campaign.id)
        if current is not None and not current.status.is_final:
            finish_campaign(uow, current, CampaignStatus.FAILED, f"scheduling failed: {reason}", now=clock.now())
            uow.commit()
