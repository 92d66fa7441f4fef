"""The rollout object of campaign responses (fota-extensions.md §3), computed from the stored state and the
waves' tallies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fota.domain.rollout.gates import WaveState, WaveTally, wave_state
from fota.domain.rollout.spec import RolloutSpec
from fota.domain.rollout.state import RolloutState, RolloutStatus


@dataclass(frozen=True)
class WaveView:
    name: str
    devices: int
    succeeded: int
    failed: int
    unhealthy: int
    state: WaveState

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "devices": self.devices,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "unhealthy": self.unhealthy,
            "state": self.state.value,
        }


@dataclass(frozen=True)
class RolloutView:
    state: RolloutStatus
    paused_reason: str | None
    current_wave: int
    waves: tuple[WaveView, ...]

    def as_dict(self) -> dict[str, object]:
        """The response's `rollout` object, in the contract's names."""
        return {
            "state": self.state.value,
            "pausedReason": self.paused_reason,
            "currentWave": self.current_wave,
            "waves": [w.as_dict() for w in self.waves],
        }


def rollout_view(spec: RolloutSpec, state: RolloutState, tallies: Sequence[WaveTally]) -> RolloutView:
    if len(tallies) != len(spec.waves):
        raise ValueError("one tally per wave of the spec")
    completed = state.status is RolloutStatus.COMPLETED
    waves = tuple(
        WaveView(
            wave.name,
            tally.devices,
            tally.succeeded,
            tally.failed,
            tally.unhealthy,
            wave_state(index, state.current_wave, completed=completed, tally=tally, rule=spec.advance),
        )
        for index, (wave, tally) in enumerate(zip(spec.waves, tallies, strict=True))
    )
    return RolloutView(state.status, state.paused_reason, state.current_wave, waves)
