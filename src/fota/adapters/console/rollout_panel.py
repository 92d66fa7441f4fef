"""The campaign page's staged-rollout panel: the gate and abort rule in words, the state's label and colour, and
which of pause, resume and approve the state allows."""

from __future__ import annotations

from dataclasses import dataclass

from fota.domain.rollout import RolloutSpec, RolloutStatus, RolloutView, WaveState

STATE_LABEL = {
    RolloutStatus.RUNNING: ("Running", "busy"),
    RolloutStatus.PAUSED: ("Paused", "wait"),
    RolloutStatus.AUTO_PAUSED: ("Paused automatically", "bad"),
    RolloutStatus.WAITING_APPROVAL: ("Waiting for approval", "wait"),
    RolloutStatus.COMPLETED: ("Completed", "ok"),
}
WAVE_TONE = {WaveState.WAITING: "muted", WaveState.OPEN: "busy", WaveState.SOAKING: "wait", WaveState.DONE: "ok"}
# The operations the console posts, each with the states that allow it (the domain's state machine says the same;
# hiding a button the state refuses only spares the operator a 409).
OPERATIONS = ("pause", "resume", "approve")
ALLOWED = {
    "pause": frozenset({RolloutStatus.RUNNING, RolloutStatus.WAITING_APPROVAL}),
    "resume": frozenset({RolloutStatus.PAUSED, RolloutStatus.AUTO_PAUSED}),
    "approve": frozenset({RolloutStatus.WAITING_APPROVAL}),
}
MAX_REASON = 2000  # as the API's body allows
DONE_NOTICE = {"pause": "Rollout paused.", "resume": "Rollout resumed.", "approve": "Next wave approved."}


def _number(value: int | float) -> str:
    return f"{value:g}"


def gate_text(spec: RolloutSpec) -> str:
    """`Next wave opens when 95 % of a wave's devices succeeded and stayed healthy for 60 min; approval required.`"""
    rule = spec.advance
    soak = f" and stayed healthy for {rule.soak_minutes} min" if rule.soak_minutes else ""
    approval = "; approval required" if rule.approval else ""
    return f"Next wave opens when {_number(rule.success_percent)} % of a wave's devices succeeded{soak}{approval}."


def abort_text(spec: RolloutSpec) -> str:
    rule = spec.abort
    return (
        f"Pauses automatically when failed and unhealthy devices reach {_number(rule.failure_percent)} % of the open "
        f"wave and at least {rule.min_failures}."
    )


@dataclass(frozen=True)
class RolloutPanel:
    view: RolloutView
    spec: RolloutSpec
    live: bool  # the campaign is not final: its rollout may still change
    max_reason: int = MAX_REASON

    @property
    def label(self) -> str:
        return STATE_LABEL[self.view.state][0]

    @property
    def tone(self) -> str:
        return STATE_LABEL[self.view.state][1]

    @property
    def gate(self) -> str:
        return gate_text(self.spec)

    @property
    def abort(self) -> str:
        return abort_text(self.spec)

    @property
    def reason_required(self) -> bool:
        """Resuming after an automatic pause needs the operator's reason."""
        return self.view.state is RolloutStatus.AUTO_PAUSED

    @property
    def allowed(self) -> tuple[str, ...]:
        return tuple(o for o in OPERATIONS if self.allows(o))

    def allows(self, operation: str) -> bool:
        return self.live and self.view.state in ALLOWED[operation]
