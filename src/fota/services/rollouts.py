"""Staged rollouts wired to storage (ADR 25): the wave plan of a campaign's members, the operator's pause, resume and
approve, the engine's settling of due rollouts, the health verdicts of upgraded devices, and the campaign audit.

The rules are the domain's (`domain/rollout`); this module reads their inputs from one wave at a time, writes their
results transactionally, and records every decision in the audit and the campaign's history (which also makes it
a callback).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from fota.clock import Clock
from fota.domain.campaign import Campaign
from fota.domain.errors import Conflict, NotFound
from fota.domain.rollout import (
    AUTOMATIC_ACTOR,
    DeviceTraits,
    Group,
    RolloutSpec,
    RolloutState,
    RolloutStatus,
    RolloutView,
    Transition,
    WaveTally,
    approve,
    check_in_gap_reason,
    decide,
    hold_reason,
    initial_state,
    pause,
    plan_waves,
    resume,
    rollout_view,
    soak_ends_at,
    unhealthy_reason,
    wave_for_late_device,
)
from fota.domain.rollout.health import Unhealthy
from fota.domain.statuses import CampaignStatus, DeviceStatus
from fota.services import events
from fota.services.ports import (
    HEALTHY,
    AuditRecord,
    CampaignDeviceRow,
    Exclusive,
    HistoryEntry,
    SoakingDevice,
    UnitOfWork,
    UnitOfWorkFactory,
    always_alone,
)

# What a pending device of an open, running wave shows (enrolment's own reason).
OFFERED_REASON = "Upgrade pending: waiting for the device to check in during a campaign window"
# HTTP devices have no registration lifetime: the silence that makes one of them unhealthy.
HTTP_CHECK_IN_LIFETIME = 24 * 3600
PLAN_PAGE = 5000
UNHEALTHY_ACTION = "unhealthy"  # an audit action of its own: a device's health verdict, not a rollout transition
NOT_MEMBERS = frozenset({DeviceStatus.REJECTED, DeviceStatus.REMOVED})


# --- membership ---------------------------------------------------------------------------------------------------


def planned(campaign: Campaign) -> bool:
    """Whether the campaign's members already have their waves: an auto-add campaign plans once its layout has
    enrolled the account's devices (before it is Scheduled), any other at its creation."""
    if campaign.rollout is None:
        return False
    return not (campaign.auto_add_devices and campaign.status in (CampaignStatus.QUEUED, CampaignStatus.PRE_SCHEDULED))


def late_member(campaign: Campaign) -> tuple[int, str] | None:
    """The wave and resultReason of a device enrolled after the plan (None: no rollout, or no plan yet)."""
    if not planned(campaign):
        return None
    assert campaign.rollout is not None and campaign.rollout_state is not None
    wave = wave_for_late_device(campaign.rollout)
    return wave, hold_reason(campaign.rollout_state, campaign.rollout, wave) or OFFERED_REASON


def plan_members(uow: UnitOfWork, campaign: Campaign) -> None:
    """Puts every member of the campaign in its wave (`plan_waves`) and gives the held ones their reason.

    Idempotent: the same members give the same plan and rows already in their wave are not written, so a crash
    between the layout's batches and the move to Scheduled only makes the next tick plan again.
    """
    spec, state = _rollout(campaign)
    rows: dict[str, CampaignDeviceRow] = {}
    after: str | None = None
    while True:
        page = uow.campaign_devices.page(campaign.id, after=after, limit=PLAN_PAGE)
        rows.update((r.device_id, r) for r in page if r.status not in NOT_MEMBERS)
        if len(page) < PLAN_PAGE:
            break
        after = page[-1].device_id
    devices = uow.devices.get_many(list(rows))
    zone = campaign.schedule.time_zone
    traits = [
        DeviceTraits(d.device_id, Group(d.make, d.model, d.firmware, d.time_zone or zone))
        for d in devices.values()
        if d.device_id in rows
    ]
    membership = plan_waves(spec, traits)
    changed = [(d, w) for d, w in sorted(membership.wave_of.items()) if rows[d].wave != w]
    uow.rollouts.assign_waves(campaign.id, changed)
    _hold(uow, campaign.id, spec, state, range(len(spec.waves)))


def _hold(uow: UnitOfWork, campaign_id: str, spec: RolloutSpec, state: RolloutState, waves: Iterable[int]) -> None:
    """Sets the resultReason of the pending devices of `waves` that wait for no back-off of their own (a retry's, a
    bandwidth wait's: `hold_pending`), one statement per run of waves with one reason."""
    runs: list[tuple[int, int, str]] = []
    for wave in waves:
        reason = hold_reason(state, spec, wave) or OFFERED_REASON
        if runs and runs[-1][1] == wave - 1 and runs[-1][2] == reason:
            runs[-1] = (runs[-1][0], wave, reason)
        else:
            runs.append((wave, wave, reason))
    for first, last, reason in runs:
        uow.rollouts.hold_pending(campaign_id, first_wave=first, last_wave=last, reason=reason)


# --- the operator's calls -----------------------------------------------------------------------------------------


def pause_rollout(
    *, uow: UnitOfWork, clock: Clock, account_name: str, campaign_id: str, actor: str, reason: str | None
) -> Campaign:
    """Stops offering the upgrade to new devices; those under way finish. Returns the campaign as changed."""
    now = clock.now()
    with uow:
        campaign = _live_rollout(uow, account_name, campaign_id)
        _spec, state = _rollout(campaign)
        changed = _apply(uow, campaign, pause(state, actor=actor, at=now, reason=reason), now=now)
        uow.commit()
    return changed


def resume_rollout(
    *, uow: UnitOfWork, clock: Clock, account_name: str, campaign_id: str, actor: str, reason: str | None
) -> Campaign:
    """Offers the upgrade again; after an automatic pause only with a reason (400 without one)."""
    now = clock.now()
    with uow:
        campaign = _live_rollout(uow, account_name, campaign_id)
        spec, state = _rollout(campaign)
        tallies = _current_tallies(uow, campaign.id, spec, state)
        changed = _apply(uow, campaign, resume(state, tallies, actor=actor, at=now, reason=reason), now=now)
        uow.commit()
    return changed


def approve_rollout(
    *, uow: UnitOfWork, clock: Clock, account_name: str, campaign_id: str, actor: str, reason: str | None
) -> Campaign:
    """Opens the next wave of a rollout that waits for approval, if its gate is still met."""
    now = clock.now()
    with uow:
        campaign = _live_rollout(uow, account_name, campaign_id)
        spec, state = _rollout(campaign)
        tallies = _current_tallies(uow, campaign.id, spec, state)
        transition = approve(state, spec, tallies, actor=actor, at=now, reason=reason)
        changed = _apply(uow, campaign, transition, now=now)
        uow.commit()
    return changed


def campaign_audit(*, uow: UnitOfWork, account_name: str, campaign_id: str) -> list[AuditRecord]:
    """The campaign's audit, oldest first (empty for a campaign nobody paused and that has no rollout)."""
    with uow:
        if uow.campaigns.get(account_name, campaign_id) is None:
            raise NotFound(f"campaign {campaign_id} not found in account {account_name}")
        return uow.audit.for_campaign(campaign_id)


@dataclass(frozen=True)
class CampaignRollout:
    campaign: Campaign
    view: RolloutView | None  # None: the campaign has no rollout


def campaign_with_rollout(*, uow: UnitOfWork, account_name: str, campaign_id: str) -> CampaignRollout:
    """The campaign and its rollout object (§3), read together."""
    with uow:
        campaign = uow.campaigns.get(account_name, campaign_id)
        if campaign is None:
            raise NotFound(f"campaign {campaign_id} not found in account {account_name}")
        return CampaignRollout(campaign, view_of(uow, campaign))


def view_of(uow: UnitOfWork, campaign: Campaign) -> RolloutView | None:
    if campaign.rollout is None or campaign.rollout_state is None:
        return None
    tallies = uow.rollouts.tallies(campaign.id, len(campaign.rollout.waves))
    return rollout_view(campaign.rollout, campaign.rollout_state, tallies)


def _live_rollout(uow: UnitOfWork, account_name: str, campaign_id: str) -> Campaign:
    campaign = uow.campaigns.get_for_update(account_name, campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} not found in account {account_name}")
    if campaign.rollout is None or campaign.rollout_state is None:
        raise Conflict(f"campaign {campaign_id} has no rollout: it was created without the rollout field")
    if campaign.status.is_final:
        raise Conflict(f"campaign {campaign_id} is {campaign.status.value}: its rollout can no longer change")
    return campaign


def _rollout(campaign: Campaign) -> tuple[RolloutSpec, RolloutState]:
    if campaign.rollout is None or campaign.rollout_state is None:
        raise ValueError(f"campaign {campaign.id} has no rollout")
    return campaign.rollout, campaign.rollout_state


def _current_tallies(uow: UnitOfWork, campaign_id: str, spec: RolloutSpec, state: RolloutState) -> list[WaveTally]:
    """One tally per wave as the state machine takes them, of which it reads only the current wave's: only that one
    is counted (the waves after it have no outcomes, the ones before it passed)."""
    tallies = [WaveTally(0)] * len(spec.waves)
    tallies[state.current_wave] = uow.rollouts.tally(campaign_id, state.current_wave)
    return tallies


def _apply(
    uow: UnitOfWork, campaign: Campaign, transition: Transition, *, now: datetime, check_at: datetime | None = None
) -> Campaign:
    """Stores the new state, the held devices' reasons, the audit entry and a campaign history entry (its callback).

    `check_at`: when the engine settles the rollout next; by default at once, so that a call's effect (a wave
    opened by approval, failures since a resume) is judged on the next tick.
    """
    spec, before = _rollout(campaign)
    after = transition.state
    uow.rollouts.set_state(
        campaign.id, after, check_at=None if after.status is RolloutStatus.COMPLETED else (check_at or now)
    )
    _hold(uow, campaign.id, spec, after, _rewritten(spec, before, after))
    entry = transition.entry
    wave = spec.waves[after.current_wave]
    uow.audit.add(
        [
            AuditRecord(
                campaign.id,
                campaign.account_name,
                entry.at,
                entry.actor,
                entry.action.value,
                entry.reason,
                {"currentWave": after.current_wave, "wave": wave.name, "state": after.status.value},
            )
        ]
    )
    said = f"rollout {entry.action.value} by {entry.actor}" + (f": {entry.reason}" if entry.reason else "")
    events.record(uow, [HistoryEntry(campaign.account_name, campaign.id, None, campaign.status.value, said, entry.at)])
    return replace(campaign, rollout_state=after)


def _rewritten(spec: RolloutSpec, before: RolloutState, after: RolloutState) -> range:
    """The waves whose held devices' reason a transition changes: every opened wave when the pause reason changes
    (pause, resume, an automatic pause), else only the waves it opened (fewer writes).

    A pending device with a back-off of its own (a retry's or a bandwidth wait's `next_attempt_at`, set until its
    next attempt starts) keeps its reason through all of them, a pause included: the rollout's state says it is
    paused, and the pause's text written over the retry's would leave nothing to give back at the resume. A device
    removed and added back has no back-off, and is held like any other."""
    if after.status is RolloutStatus.COMPLETED:
        return range(0)
    if hold_reason(before, spec, 0) != hold_reason(after, spec, 0):
        return range(after.current_wave + 1)
    return range(before.current_wave + 1, after.current_wave + 1)


# --- the engine ---------------------------------------------------------------------------------------------------


def settle_due(
    *, uow_factory: UnitOfWorkFactory, clock: Clock, exclusive: Exclusive = always_alone, batch: int = 100
) -> int:
    """Settles every rollout whose check is due (a conclusion in it, a soak's end, a health deadline), one campaign
    per transaction; returns how many automatic decisions were taken."""
    now = clock.now()
    decisions = 0
    seen: set[str] = set()
    while True:
        uow = uow_factory()
        with uow:
            due = [c for c in uow.rollouts.due(now, batch) if c.id not in seen]
        if not due:
            return decisions
        for found in due:
            seen.add(found.id)
            with exclusive(f"rollout:{found.id}") as alone:
                if not alone:
                    continue
                uow = uow_factory()
                with uow:
                    campaign = uow.campaigns.get_for_update(found.account_name, found.id)
                    if campaign is None:
                        continue
                    decisions += len(settle_campaign(uow, campaign, now=now))
                    uow.commit()


def settle_campaign(uow: UnitOfWork, campaign: Campaign, *, now: datetime) -> list[Transition]:
    """Judges the health of the open wave's soaking devices, then takes every automatic decision due (the domain's
    `settle`, one wave's tally at a time), and stores when to look again. The caller holds the campaign row."""
    if campaign.rollout is None or campaign.rollout_state is None:
        return []
    spec, state = campaign.rollout, campaign.rollout_state
    if campaign.status is not CampaignStatus.SCHEDULED:
        # Before Scheduled nothing starts; once final nothing changes. The move to Scheduled marks it due again.
        uow.rollouts.set_state(campaign.id, state, check_at=None)
        return []
    transitions: list[Transition] = []
    while True:
        next_check = judge_wave(uow, campaign, state.current_wave, now=now)
        transition = decide(state, spec, _current_tallies(uow, campaign.id, spec, state), at=now)
        if transition is None:
            break
        campaign = _apply(uow, campaign, transition, now=now, check_at=next_check)
        transitions.append(transition)
        state = transition.state
    uow.rollouts.set_state(campaign.id, state, check_at=None if state.status is RolloutStatus.COMPLETED else next_check)
    return transitions


# --- health -------------------------------------------------------------------------------------------------------


def judge_wave(uow: UnitOfWork, campaign: Campaign, wave: int, *, now: datetime) -> datetime | None:
    """Gives the soaking devices of `wave` their verdict where one is due (unhealthy, or healthy once the soak
    passed); returns the next instant a verdict can fall (a soak's end or a silence outlasting a lifetime)."""
    assert campaign.rollout is not None
    soak = campaign.rollout.advance.soak
    next_at: datetime | None = None
    for device in uow.rollouts.soaking(campaign.id, wave):
        lifetime = timedelta(seconds=device.lifetime)
        verdict = unhealthy_reason(
            succeeded_at=device.succeeded_at,
            last_check_in_at=device.last_check_in_at,
            lifetime=lifetime,
            reported_firmware=_reported(campaign, device.reported_firmware),
            firmware_to=campaign.firmware_to,
            soak=soak,
            now=now,
        )
        end = soak_ends_at(device.succeeded_at, soak)
        if verdict is not None:
            _unhealthy(uow, campaign, device, verdict, now=now)
        elif end <= now:
            uow.rollouts.set_health(campaign.id, device.device_id, HEALTHY)
        else:
            heard = max(device.succeeded_at, device.last_check_in_at or device.succeeded_at)
            # The silence counts once it is longer than the lifetime: a second past it.
            candidate = min(end, heard + lifetime + timedelta(seconds=1))
            next_at = candidate if next_at is None else min(next_at, candidate)
    return next_at


def judge_check_in(
    uow: UnitOfWork, device_id: str, *, firmware: str | None, now: datetime, read_at: datetime | None = None
) -> None:
    """At a check-in (an LwM2M registration or its update, an HTTP check-in), before it is recorded: a device in
    its soak that was silent longer than its lifetime before this check-in, or that reports a firmware other than
    firmwareTo (`firmware`: None when the check-in reports none), is unhealthy. One read of the partial index of
    soaking devices, which holds no row for nearly every device.

    `read_at`: when `firmware` was read (default `now`). A firmware read before the success is the old one still
    running (an exchange that read it before the Update reports it after the reboot concluded the attempt), so it
    says nothing of a rollback."""
    for device, campaign in uow.rollouts.soaking_for_device(device_id):
        if campaign.rollout is None:
            continue
        soak = campaign.rollout.advance.soak
        lifetime = timedelta(seconds=device.lifetime)
        verdict = check_in_gap_reason(
            succeeded_at=device.succeeded_at,
            previous_check_in_at=device.last_check_in_at,
            check_in_at=now,
            lifetime=lifetime,
            soak=soak,
        ) or unhealthy_reason(
            succeeded_at=device.succeeded_at,
            last_check_in_at=now,
            lifetime=lifetime,
            reported_firmware=_reported(campaign, firmware) if (read_at or now) > device.succeeded_at else None,
            firmware_to=campaign.firmware_to,
            soak=soak,
            now=now,
        )
        if verdict is not None:
            _unhealthy(uow, campaign, device, verdict, now=now)
        elif soak_ends_at(device.succeeded_at, soak) <= now and not _judged_by_engine(campaign, device):
            # A wave that passed is no longer judged by the engine: its soaked devices leave the soaking index here.
            uow.rollouts.set_health(campaign.id, device.device_id, HEALTHY)


def _judged_by_engine(campaign: Campaign, device: SoakingDevice) -> bool:
    # Only the open wave's rows are the engine's to write (it holds the campaign while it does); leaving them to it
    # keeps a check-in from holding a row the engine waits for.
    state = campaign.rollout_state
    return state is None or device.wave is None or device.wave >= state.current_wave


def started_soak(uow: UnitOfWork, campaign: Campaign, device_id: str, status: DeviceStatus, *, now: datetime) -> None:
    """After a conclusion in a rollout campaign: a success starts the device's soak (with the lifetime its silence
    is judged by), and the rollout is settled on the next tick."""
    if campaign.rollout is None:
        return
    if status is DeviceStatus.SUCCESS:
        registration = uow.registrations.for_device(device_id)
        lifetime = registration.lifetime if registration is not None else HTTP_CHECK_IN_LIFETIME
        uow.rollouts.start_soak(campaign.id, device_id, at=now, lifetime=lifetime)
    if status in (DeviceStatus.SUCCESS, DeviceStatus.FAILED):
        uow.rollouts.mark_due(campaign.id, now)


def _reported(campaign: Campaign, firmware: str | None) -> str | None:
    # A configuration file leaves the firmware as it was: there is nothing to roll back from.
    return None if campaign.package_kind == "file" else firmware


def _unhealthy(
    uow: UnitOfWork, campaign: Campaign, device: SoakingDevice, verdict: Unhealthy, *, now: datetime
) -> None:
    # The campaign row first, then the device's: the order the engine's settle takes them in (it holds the campaign
    # and writes its members), so that a check-in's verdict and a settle never wait on each other.
    uow.rollouts.mark_due(campaign.id, now)
    uow.rollouts.set_health(campaign.id, device.device_id, verdict.value)
    wave = campaign.rollout.waves[device.wave].name if campaign.rollout and device.wave is not None else None
    uow.audit.add(
        [
            AuditRecord(
                campaign.id,
                campaign.account_name,
                now,
                AUTOMATIC_ACTOR,
                UNHEALTHY_ACTION,
                f"device {device.device_id} {verdict.reason}",
                {"deviceId": device.device_id, "wave": wave, "health": verdict.value},
            )
        ]
    )


def initial_rollout(spec: RolloutSpec | None) -> RolloutState | None:
    """The state a new campaign's rollout starts in (None without one)."""
    return None if spec is None else initial_state()
