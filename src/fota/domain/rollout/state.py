"""The rollout's state machine (fota-extensions.md §2, §3): the operator's pause, resume and approve, the automatic
advance, pause and completion, each returning the new state and the audit entry that records it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from fota.domain.errors import Conflict, InvalidRequest
from fota.domain.rollout.gates import WaveTally, abort_due, gate_met
from fota.domain.rollout.spec import RolloutSpec

# The actor of the decisions the rollout takes by itself.
AUTOMATIC_ACTOR = "fota"


class RolloutStatus(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"  # by a call
    AUTO_PAUSED = "autoPaused"  # by the abort rule
    WAITING_APPROVAL = "waitingApproval"  # the current wave's gate is met; the next one waits for approve
    COMPLETED = "completed"  # the last wave's gate is met

    @property
    def offers(self) -> bool:
        """Whether devices of the opened waves may be offered the upgrade."""
        return self not in (RolloutStatus.PAUSED, RolloutStatus.AUTO_PAUSED)


@dataclass(frozen=True)
class RolloutState:
    """What a service stores per campaign. `current_wave` is the 0-based index of the last opened wave (§3's
    `currentWave`); `excused_failures` are the current wave's failed and unhealthy devices at the last resume
    from an automatic pause."""

    status: RolloutStatus = RolloutStatus.RUNNING
    current_wave: int = 0
    paused_reason: str | None = None
    excused_failures: int = 0

    def __post_init__(self) -> None:
        paused = self.status in (RolloutStatus.PAUSED, RolloutStatus.AUTO_PAUSED)
        if paused != (self.paused_reason is not None):
            raise ValueError("a paused rollout, and only a paused one, has a pausedReason")
        if self.current_wave < 0 or self.excused_failures < 0:
            raise ValueError("current_wave and excused_failures are not negative")


class AuditAction(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    APPROVE = "approve"
    ADVANCE = "advance"  # automatic: the next wave opened
    AUTO_PAUSE = "autoPause"  # automatic: the abort rule fired
    AWAIT_APPROVAL = "awaitApproval"  # automatic: the gate is met, the next wave needs approval
    COMPLETE = "complete"  # automatic: the last wave's gate is met


@dataclass(frozen=True)
class AuditEntry:
    action: AuditAction
    actor: str
    at: datetime
    reason: str | None


@dataclass(frozen=True)
class Transition:
    state: RolloutState
    entry: AuditEntry


def initial_state() -> RolloutState:
    """A rollout starts with its first wave open."""
    return RolloutState()


def pause(state: RolloutState, *, actor: str, at: datetime, reason: str | None = None) -> Transition:
    if state.status in (RolloutStatus.PAUSED, RolloutStatus.AUTO_PAUSED):
        raise Conflict(f"the rollout is already paused ({state.status.value}): {state.paused_reason}")
    if state.status is RolloutStatus.COMPLETED:
        raise Conflict("the rollout is completed: there is nothing left to pause")
    reason = _text(reason)
    paused = replace(state, status=RolloutStatus.PAUSED, paused_reason=reason or f"paused by {actor}")
    return Transition(paused, AuditEntry(AuditAction.PAUSE, actor, at, reason))


def resume(
    state: RolloutState, tallies: Sequence[WaveTally], *, actor: str, at: datetime, reason: str | None = None
) -> Transition:
    """Running again; after an automatic pause only with a reason, and the failures seen so far are excused."""
    if state.status not in (RolloutStatus.PAUSED, RolloutStatus.AUTO_PAUSED):
        raise Conflict(f"the rollout is {state.status.value}, not paused: there is nothing to resume")
    reason = _text(reason)
    excused = state.excused_failures
    if state.status is RolloutStatus.AUTO_PAUSED:
        if reason is None:
            raise InvalidRequest("reason is required to resume a rollout after an automatic pause")
        excused = tallies[state.current_wave].bad
    running = RolloutState(RolloutStatus.RUNNING, state.current_wave, None, excused)
    return Transition(running, AuditEntry(AuditAction.RESUME, actor, at, reason))


def approve(
    state: RolloutState,
    spec: RolloutSpec,
    tallies: Sequence[WaveTally],
    *,
    actor: str,
    at: datetime,
    reason: str | None = None,
) -> Transition:
    """Opens the next wave of a rollout waiting for approval, if the gate is still met."""
    _check(spec, state, tallies)
    if state.status is not RolloutStatus.WAITING_APPROVAL:
        raise Conflict(f"the rollout is {state.status.value}: no wave waits for approval")
    name = spec.waves[state.current_wave].name
    if not gate_met(tallies[state.current_wave], spec.advance):
        # A device turned unhealthy or failed since the gate was met.
        raise Conflict(f"the gate of {name} is no longer met: {_gate_text(tallies[state.current_wave], spec)}")
    opened = RolloutState(RolloutStatus.RUNNING, state.current_wave + 1)
    return Transition(opened, AuditEntry(AuditAction.APPROVE, actor, at, _text(reason)))


def decide(state: RolloutState, spec: RolloutSpec, tallies: Sequence[WaveTally], *, at: datetime) -> Transition | None:
    """The one automatic decision due now, or None. The abort rule comes first, and also turns a manual pause into
    an automatic one (the operator then resumes with a reason); a paused rollout never advances."""
    _check(spec, state, tallies)
    if state.status is RolloutStatus.COMPLETED or state.status is RolloutStatus.AUTO_PAUSED:
        return None
    current = tallies[state.current_wave]
    name = spec.waves[state.current_wave].name
    if abort_due(current, spec.abort, excused=state.excused_failures):
        reason = (
            f"{name}: {current.bad - state.excused_failures} of {current.devices} devices failed or are unhealthy; "
            f"abort at {spec.abort.failure_percent} % and {spec.abort.min_failures} failures"
        )
        paused = replace(state, status=RolloutStatus.AUTO_PAUSED, paused_reason=reason)
        return _automatic(paused, AuditAction.AUTO_PAUSE, at, reason)
    if state.status is not RolloutStatus.RUNNING or not gate_met(current, spec.advance):
        return None
    gate = f"{name} gate met: {_gate_text(current, spec)}"
    if state.current_wave == spec.last_wave:
        return _automatic(replace(state, status=RolloutStatus.COMPLETED), AuditAction.COMPLETE, at, gate)
    following = spec.waves[state.current_wave + 1].name
    if spec.advance.approval:
        waiting = replace(state, status=RolloutStatus.WAITING_APPROVAL)
        return _automatic(waiting, AuditAction.AWAIT_APPROVAL, at, f"{gate}; {following} waits for approval")
    opened = RolloutState(RolloutStatus.RUNNING, state.current_wave + 1)
    return _automatic(opened, AuditAction.ADVANCE, at, f"{gate}; {following} opens")


def settle(
    state: RolloutState, spec: RolloutSpec, tallies: Sequence[WaveTally], *, at: datetime
) -> tuple[Transition, ...]:
    """Every automatic decision due now, in order (an empty wave opens and passes in the same tick); the state
    after them is the last transition's, or `state` when there is none."""
    transitions: list[Transition] = []
    # Each decision either moves to a later wave or leaves `decide` nothing to do, so this ends.
    while (transition := decide(state, spec, tallies, at=at)) is not None:
        transitions.append(transition)
        state = transition.state
    return tuple(transitions)


def may_offer(state: RolloutState, wave: int) -> bool:
    """Whether a device of `wave` may be offered the upgrade now (devices already under way finish anyway)."""
    return wave <= state.current_wave and state.status.offers


def hold_reason(state: RolloutState, spec: RolloutSpec, wave: int) -> str | None:
    """The resultReason of a pending device the rollout holds back, or None when it may be offered."""
    if not state.status.offers:
        kind = "paused automatically" if state.status is RolloutStatus.AUTO_PAUSED else "paused"
        return f"Rollout {kind}: {state.paused_reason}"
    if wave > state.current_wave:
        return f"Waiting for wave {spec.waves[wave].name}"
    return None


def _automatic(state: RolloutState, action: AuditAction, at: datetime, reason: str) -> Transition:
    return Transition(state, AuditEntry(action, AUTOMATIC_ACTOR, at, reason))


def _gate_text(tally: WaveTally, spec: RolloutSpec) -> str:
    return (
        f"{tally.soaked} of {tally.devices} devices succeeded and stayed healthy for "
        f"{spec.advance.soak_minutes} minutes (successPercent {spec.advance.success_percent})"
    )


def _check(spec: RolloutSpec, state: RolloutState, tallies: Sequence[WaveTally]) -> None:
    if len(tallies) != len(spec.waves) or state.current_wave > spec.last_wave:
        raise ValueError("one tally per wave of the spec, and the current wave among them")


def _text(reason: str | None) -> str | None:
    if reason is None:
        return None
    return reason.strip() or None
