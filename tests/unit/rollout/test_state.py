"""The rollout state machine: pause, resume, approve and the automatic decisions, their audit entries, what they
refuse, the rollout object of responses, the acceptance scenario of issue 13, and random operation sequences."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from fota.domain.errors import Conflict, InvalidRequest
from fota.domain.rollout import (
    AUTOMATIC_ACTOR,
    AuditAction,
    AuditEntry,
    DeviceOutcome,
    DeviceProgress,
    DeviceTraits,
    Group,
    RolloutSpec,
    RolloutState,
    RolloutStatus,
    Transition,
    WaveTally,
    approve,
    decide,
    hold_reason,
    initial_state,
    may_offer,
    parse_rollout,
    pause,
    plan_waves,
    resume,
    rollout_view,
    settle,
    tally_of,
)

AT = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
RUNNING, PAUSED, AUTO_PAUSED = RolloutStatus.RUNNING, RolloutStatus.PAUSED, RolloutStatus.AUTO_PAUSED
WAITING_APPROVAL, COMPLETED = RolloutStatus.WAITING_APPROVAL, RolloutStatus.COMPLETED


def rollout(*, approval: bool = False, success: int = 95, soak: int = 60) -> RolloutSpec:
    return parse_rollout(
        {
            "waves": [{"name": "canary", "devices": 5}, {"percent": 25}, {"percent": 100}],
            "advance": {"successPercent": success, "soakMinutes": soak, "approval": approval},
            "abort": {"failurePercent": 20, "minFailures": 2},
        }
    )


SPEC = rollout()
IDLE = (WaveTally(5), WaveTally(20), WaveTally(75))
CANARY_SOAKED = (WaveTally(5, succeeded=5, soaked=5), WaveTally(20), WaveTally(75))


def test_a_rollout_starts_running_with_its_first_wave_open() -> None:
    assert initial_state() == RolloutState(RUNNING, current_wave=0, paused_reason=None, excused_failures=0)


def test_a_paused_rollout_and_only_a_paused_one_has_a_reason() -> None:
    with pytest.raises(ValueError, match="pausedReason"):
        RolloutState(PAUSED)
    with pytest.raises(ValueError, match="pausedReason"):
        RolloutState(RUNNING, paused_reason="why")


# --- pause and resume ---------------------------------------------------------------------------------------------


def test_pause_records_who_when_and_why() -> None:
    t = pause(initial_state(), actor="alice", at=AT, reason="  night shift  ")
    assert t == Transition(
        RolloutState(PAUSED, 0, "night shift"), AuditEntry(AuditAction.PAUSE, "alice", AT, "night shift")
    )


def test_pause_without_a_reason_names_who_paused() -> None:
    t = pause(initial_state(), actor="alice", at=AT, reason=" ")
    assert t.state.paused_reason == "paused by alice"
    assert t.entry.reason is None


@pytest.mark.parametrize("status", [PAUSED, AUTO_PAUSED, COMPLETED])
def test_pause_is_refused_when_paused_or_completed(status: RolloutStatus) -> None:
    state = RolloutState(status, 2, "why" if status is not COMPLETED else None)
    with pytest.raises(Conflict):
        pause(state, actor="alice", at=AT)


def test_a_rollout_waiting_for_approval_may_be_paused() -> None:
    assert pause(RolloutState(WAITING_APPROVAL), actor="alice", at=AT).state.status is PAUSED


def test_resume_after_a_manual_pause_needs_no_reason() -> None:
    t = resume(RolloutState(PAUSED, 1, "night"), IDLE, actor="bob", at=AT)
    assert t == Transition(RolloutState(RUNNING, 1), AuditEntry(AuditAction.RESUME, "bob", AT, None))


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_resume_after_an_automatic_pause_needs_a_reason(reason: str | None) -> None:
    with pytest.raises(InvalidRequest, match="reason is required"):
        resume(RolloutState(AUTO_PAUSED, 1, "failures"), IDLE, actor="bob", at=AT, reason=reason)


def test_resume_after_an_automatic_pause_excuses_the_failures_seen() -> None:
    tallies = (WaveTally(5, 5, 5), WaveTally(20, succeeded=1, failed=3, unhealthy=1), WaveTally(75))
    t = resume(RolloutState(AUTO_PAUSED, 1, "failures"), tallies, actor="bob", at=AT, reason="bad batch of SIMs")
    assert t.state == RolloutState(RUNNING, 1, None, excused_failures=4)
    assert t.entry == AuditEntry(AuditAction.RESUME, "bob", AT, "bad batch of SIMs")
    assert decide(t.state, SPEC, tallies, at=AT) is None


@pytest.mark.parametrize("status", [RUNNING, WAITING_APPROVAL, COMPLETED])
def test_resume_is_refused_unless_paused(status: RolloutStatus) -> None:
    with pytest.raises(Conflict, match="not paused"):
        resume(RolloutState(status), IDLE, actor="bob", at=AT, reason="go")


# --- automatic decisions and approval -----------------------------------------------------------------------------


def test_nothing_happens_while_the_canary_soaks() -> None:
    soaking = (WaveTally(5, succeeded=5, soaked=4), WaveTally(20), WaveTally(75))
    assert decide(initial_state(), SPEC, soaking, at=AT) is None


def test_the_next_wave_opens_when_the_gate_is_met() -> None:
    t = decide(initial_state(), SPEC, CANARY_SOAKED, at=AT)
    assert t is not None
    assert t.state == RolloutState(RUNNING, 1)
    assert t.entry.action is AuditAction.ADVANCE
    assert t.entry.actor == AUTOMATIC_ACTOR
    assert t.entry.reason == (
        "canary gate met: 5 of 5 devices succeeded and stayed healthy for 60 minutes (successPercent 95); wave-2 opens"
    )


def test_with_approval_the_gate_waits_for_an_approve_call() -> None:
    spec = rollout(approval=True)
    t = decide(initial_state(), spec, CANARY_SOAKED, at=AT)
    assert t is not None
    assert t.state == RolloutState(WAITING_APPROVAL, 0)
    assert t.entry.action is AuditAction.AWAIT_APPROVAL
    assert decide(t.state, spec, CANARY_SOAKED, at=AT) is None
    approved = approve(t.state, spec, CANARY_SOAKED, actor="carol", at=AT, reason="canary looks fine")
    assert approved == Transition(
        RolloutState(RUNNING, 1), AuditEntry(AuditAction.APPROVE, "carol", AT, "canary looks fine")
    )


def test_approve_is_refused_when_nothing_waits_for_it() -> None:
    with pytest.raises(Conflict, match="no wave waits for approval"):
        approve(initial_state(), rollout(approval=True), CANARY_SOAKED, actor="carol", at=AT)


def test_approve_is_refused_when_the_gate_is_no_longer_met() -> None:
    lost = (WaveTally(5, succeeded=4, soaked=4, unhealthy=1), WaveTally(20), WaveTally(75))
    with pytest.raises(Conflict, match="gate of canary is no longer met"):
        approve(RolloutState(WAITING_APPROVAL), rollout(approval=True), lost, actor="carol", at=AT)


def test_the_abort_rule_pauses_the_rollout() -> None:
    failing = (WaveTally(5, 5, 5), WaveTally(20, succeeded=2, failed=3, unhealthy=1), WaveTally(75))
    t = decide(RolloutState(RUNNING, 1), SPEC, failing, at=AT)
    assert t is not None
    assert t.state.status is AUTO_PAUSED
    expected = "wave-2: 4 of 20 devices failed or are unhealthy; abort at 20 % and 2 failures"
    assert t.state.paused_reason == t.entry.reason == expected
    assert t.entry.action is AuditAction.AUTO_PAUSE


def test_the_abort_rule_turns_a_manual_pause_automatic_and_waiting_approval_too() -> None:
    failing = (WaveTally(5, succeeded=3, failed=2), WaveTally(20), WaveTally(75))
    for state in (RolloutState(PAUSED, 0, "night"), RolloutState(WAITING_APPROVAL)):
        t = decide(state, rollout(approval=True), failing, at=AT)
        assert t is not None
        assert t.state.status is AUTO_PAUSED


def test_a_paused_rollout_never_advances() -> None:
    assert decide(RolloutState(PAUSED, 0, "night"), SPEC, CANARY_SOAKED, at=AT) is None
    assert decide(RolloutState(AUTO_PAUSED, 0, "failures"), SPEC, CANARY_SOAKED, at=AT) is None


def test_the_last_gate_completes_the_rollout_and_then_nothing_moves() -> None:
    done = (WaveTally(5, 5, 5), WaveTally(20, 20, 20), WaveTally(75, 75, 75))
    t = decide(RolloutState(RUNNING, 2), SPEC, done, at=AT)
    assert t is not None
    assert t.state == RolloutState(COMPLETED, 2)
    assert t.entry.action is AuditAction.COMPLETE
    failing = (WaveTally(5, 5, 5), WaveTally(20, 20, 20), WaveTally(75, failed=75))
    assert decide(t.state, SPEC, failing, at=AT) is None


def test_settle_passes_empty_waves_in_one_tick() -> None:
    small = (WaveTally(5, 5, 5), WaveTally(0), WaveTally(5))
    transitions = settle(initial_state(), SPEC, small, at=AT)
    assert [t.entry.action for t in transitions] == [AuditAction.ADVANCE, AuditAction.ADVANCE]
    assert transitions[-1].state == RolloutState(RUNNING, 2)
    assert settle(transitions[-1].state, SPEC, small, at=AT) == ()


def test_tallies_must_match_the_waves() -> None:
    with pytest.raises(ValueError, match="one tally per wave"):
        decide(initial_state(), SPEC, IDLE[:2], at=AT)


# --- offering and hold reasons ------------------------------------------------------------------------------------


def test_only_devices_of_opened_waves_are_offered_while_running() -> None:
    state = RolloutState(RUNNING, 1)
    assert [may_offer(state, w) for w in range(3)] == [True, True, False]
    assert hold_reason(state, SPEC, 2) == "Waiting for wave wave-3"
    assert hold_reason(state, SPEC, 1) is None
    assert may_offer(RolloutState(WAITING_APPROVAL, 0), 0)
    assert may_offer(RolloutState(COMPLETED, 2), 2)


def test_no_device_is_offered_while_paused() -> None:
    for state in (RolloutState(PAUSED, 1, "night"), RolloutState(AUTO_PAUSED, 1, "wave-2: 4 of 20 failed")):
        assert not any(may_offer(state, w) for w in range(3))
    assert hold_reason(RolloutState(PAUSED, 1, "night"), SPEC, 0) == "Rollout paused: night"
    assert hold_reason(RolloutState(AUTO_PAUSED, 1, "x"), SPEC, 2) == "Rollout paused automatically: x"


# --- the rollout object of responses ------------------------------------------------------------------------------


def test_the_view_is_the_contracts_rollout_object() -> None:
    tallies = (WaveTally(5, 5, 5), WaveTally(20, succeeded=3), WaveTally(75))
    assert rollout_view(SPEC, RolloutState(RUNNING, 1), tallies).as_dict() == {
        "state": "running",
        "pausedReason": None,
        "currentWave": 1,
        "waves": [
            {"name": "canary", "devices": 5, "succeeded": 5, "failed": 0, "unhealthy": 0, "state": "done"},
            {"name": "wave-2", "devices": 20, "succeeded": 3, "failed": 0, "unhealthy": 0, "state": "open"},
            {"name": "wave-3", "devices": 75, "succeeded": 0, "failed": 0, "unhealthy": 0, "state": "waiting"},
        ],
    }


def test_the_view_of_a_paused_rollout_gives_the_reason() -> None:
    view = rollout_view(SPEC, RolloutState(AUTO_PAUSED, 1, "wave-2: failures"), IDLE).as_dict()
    assert (view["state"], view["pausedReason"]) == ("autoPaused", "wave-2: failures")


# --- the acceptance scenario of issue 13 --------------------------------------------------------------------------


@dataclass
class Campaign:
    """100 simulated devices driven through the rollout rules, the way the engine will drive them."""

    spec: RolloutSpec
    now: datetime = AT
    state: RolloutState = field(default_factory=initial_state)
    progress: dict[str, DeviceProgress] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    offered: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        fleet = [DeviceTraits(f"{350000000000000 + i:015d}", Group("Acme", "M1", "1.0", "UTC")) for i in range(100)]
        self.wave_of = plan_waves(self.spec, fleet).wave_of
        self.progress = {d.device_id: DeviceProgress(DeviceOutcome.PENDING) for d in fleet}

    def members(self, wave: int) -> list[str]:
        return sorted(d for d, w in self.wave_of.items() if w == wave)

    def tallies(self) -> tuple[WaveTally, ...]:
        return tuple(
            tally_of((self.progress[d] for d in self.members(w)), self.spec.advance.soak, self.now)
            for w in range(len(self.spec.waves))
        )

    def tick(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        for t in settle(self.state, self.spec, self.tallies(), at=self.now):
            self.state = t.state
            self.audit.append(t.entry)
        self.offered |= {d for d, p in self.progress.items() if may_offer(self.state, self.wave_of[d])}

    def report(self, devices: Sequence[str], outcome: DeviceOutcome) -> None:
        for d in devices:
            assert d in self.offered, "only an offered device can report an outcome"
            self.progress[d] = DeviceProgress(outcome, self.now if outcome is DeviceOutcome.SUCCEEDED else None)

    def wave_states(self) -> list[Any]:
        return [w.state.value for w in rollout_view(self.spec, self.state, self.tallies()).waves]


def test_acceptance_canary_soak_auto_pause_no_third_wave_offer_and_resume() -> None:
    # Four of the 20 second-wave devices fail for good, so wave 3 can open only with successPercent <= 80.
    c = Campaign(rollout(success=80, soak=60))
    c.tick(0)
    assert c.offered == set(c.members(0))
    c.report(c.members(0), DeviceOutcome.SUCCEEDED)
    c.tick(30)
    assert c.wave_states() == ["soaking", "waiting", "waiting"]
    c.tick(30)  # the soak is over
    assert c.state == RolloutState(RUNNING, 1)
    assert c.offered == set(c.members(0) + c.members(1))
    second = c.members(1)
    c.report(second[:2], DeviceOutcome.SUCCEEDED)
    c.report(second[2:5], DeviceOutcome.FAILED)
    c.tick(5)
    assert c.state.status is RUNNING  # 3 of 20 is 15 %
    c.report(second[5:6], DeviceOutcome.FAILED)
    c.tick(5)
    assert c.state.status is AUTO_PAUSED
    assert not any(may_offer(c.state, w) for w in range(3))
    with pytest.raises(InvalidRequest):
        resume(c.state, c.tallies(), actor="ops", at=c.now)
    t = resume(c.state, c.tallies(), actor="ops", at=c.now, reason="the failing batch is known")
    c.state, c.audit = t.state, [*c.audit, t.entry]
    c.tick(5)
    assert c.state.status is RUNNING
    c.report(second[6:], DeviceOutcome.SUCCEEDED)
    c.tick(59)
    assert not set(c.members(2)) & c.offered  # no device of the third wave was ever offered anything
    c.tick(1)
    assert c.state == RolloutState(RUNNING, 2)
    c.report(c.members(2), DeviceOutcome.SUCCEEDED)
    c.tick(60)
    assert c.state.status is COMPLETED
    assert c.wave_states() == ["done", "done", "done"]
    assert [(e.action.value, e.actor) for e in c.audit] == [
        ("advance", AUTOMATIC_ACTOR),
        ("autoPause", AUTOMATIC_ACTOR),
        ("resume", "ops"),
        ("advance", AUTOMATIC_ACTOR),
        ("complete", AUTOMATIC_ACTOR),
    ]


def test_acceptance_health_gate_silent_canary_keeps_the_next_wave_closed() -> None:
    c = Campaign(rollout())
    c.tick(0)
    c.report(c.members(0)[:4], DeviceOutcome.SUCCEEDED)
    c.report(c.members(0)[4:], DeviceOutcome.UNHEALTHY)  # succeeded, then went silent within its soak
    c.tick(600)
    assert c.state == RolloutState(RUNNING, 0)
    assert c.wave_states()[:2] == ["open", "waiting"]
    assert not set(c.members(1)) & c.offered


# --- random operation sequences -----------------------------------------------------------------------------------

ALLOWED = {
    (RUNNING, PAUSED),
    (RUNNING, AUTO_PAUSED),
    (RUNNING, WAITING_APPROVAL),
    (RUNNING, COMPLETED),
    (RUNNING, RUNNING),  # the next wave opens
    (WAITING_APPROVAL, PAUSED),
    (WAITING_APPROVAL, AUTO_PAUSED),
    (WAITING_APPROVAL, RUNNING),  # approved: the next wave opens
    (PAUSED, RUNNING),
    (PAUSED, AUTO_PAUSED),
    (AUTO_PAUSED, RUNNING),
}
AUTOMATIC = {AuditAction.ADVANCE, AuditAction.AUTO_PAUSE, AuditAction.AWAIT_APPROVAL, AuditAction.COMPLETE}


@st.composite
def _tally(draw: st.DrawFn, devices: int) -> WaveTally:
    """Mostly clean waves, so that sequences reach the gates, approvals and completion, not only pauses."""

    def mostly(usual: int, top: int) -> int:
        return draw(st.one_of(st.just(usual), st.just(usual), st.integers(0, top)))

    failed = mostly(0, devices)
    unhealthy = mostly(0, devices - failed)
    succeeded = mostly(devices - failed - unhealthy, devices - failed - unhealthy)
    return WaveTally(devices, succeeded, mostly(succeeded, succeeded), failed, unhealthy)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(
    st.integers(1, 4),
    st.booleans(),
    st.integers(1, 5),
    st.lists(
        st.tuples(
            st.sampled_from(["pause", "resume", "approve", "approve", "tick", "tick"]),
            st.sampled_from([None, "", "why"]),
        ),
        max_size=25,
    ),
    st.data(),
)
def test_no_operation_sequence_leaves_an_illegal_state(
    wave_count: int, approval: bool, min_failures: int, operations: list[tuple[str, str | None]], data: st.DataObject
) -> None:
    spec = parse_rollout(
        {
            "waves": [*({"devices": 3} for _ in range(wave_count - 1)), {"percent": 100}],
            "advance": {"successPercent": 60, "approval": approval},
            "abort": {"failurePercent": 30, "minFailures": min_failures},
        }
    )
    state = initial_state()
    for operation, reason in operations:
        tallies = tuple(data.draw(_tally(3 if w < spec.last_wave else 10)) for w in range(len(spec.waves)))
        before = state
        try:
            if operation == "pause":
                transitions: tuple[Transition, ...] = (pause(state, actor="op", at=AT, reason=reason),)
            elif operation == "resume":
                transitions = (resume(state, tallies, actor="op", at=AT, reason=reason),)
            elif operation == "approve":
                transitions = (approve(state, spec, tallies, actor="op", at=AT, reason=reason),)
            else:
                transitions = settle(state, spec, tallies, at=AT)
        except (Conflict, InvalidRequest):
            continue
        for t in transitions:
            assert (state.status, t.state.status) in ALLOWED
            assert (t.entry.actor == AUTOMATIC_ACTOR) == (t.entry.action in AUTOMATIC)
            assert state.current_wave <= t.state.current_wave <= state.current_wave + 1
            if t.state.current_wave > state.current_wave:
                assert t.entry.action in (AuditAction.ADVANCE, AuditAction.APPROVE)
                assert t.state.excused_failures == 0
            state = t.state
            event(f"{t.entry.action.value} -> {state.status.value}")
        assert state.current_wave <= spec.last_wave
        assert state.status is not COMPLETED or state.current_wave == spec.last_wave
        assert state.status is not WAITING_APPROVAL or approval
        assert before.status is not COMPLETED or state == before
