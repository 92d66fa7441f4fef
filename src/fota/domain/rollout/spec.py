"""A campaign's `rollout` field (fota-extensions.md §1): its values, their defaults, and how plain JSON values are
checked into them and echoed back."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from fractions import Fraction
from typing import Any

from fota.domain.errors import InvalidRequest

MAX_WAVES = 100
MAX_SOAK_MINUTES = 365 * 24 * 60
MAX_NAME_LENGTH = 64


class CanaryMode(StrEnum):
    FIRST = "first"  # device-id order
    STRATIFIED = "stratified"  # every (make, model, firmware, time zone) group in proportion


@dataclass(frozen=True)
class WaveSpec:
    """One wave: exactly one of `devices` (its own count) or `percent` (the cumulative share reached by its end)."""

    name: str
    devices: int | None = None
    percent: int | float | None = None

    def __post_init__(self) -> None:
        if (self.devices is None) == (self.percent is None):
            raise ValueError("a wave has exactly one of devices and percent")

    @property
    def share(self) -> Fraction | None:
        """The cumulative share as an exact fraction of 1; the decimal the operator wrote, not its binary float."""
        return None if self.percent is None else Fraction(str(self.percent)) / 100


@dataclass(frozen=True)
class AdvanceRule:
    success_percent: int | float = 95
    soak_minutes: int = 60
    approval: bool = False

    @property
    def soak(self) -> timedelta:
        return timedelta(minutes=self.soak_minutes)

    @property
    def success_share(self) -> Fraction:
        return Fraction(str(self.success_percent)) / 100


@dataclass(frozen=True)
class AbortRule:
    failure_percent: int | float = 5
    min_failures: int = 3

    @property
    def failure_share(self) -> Fraction:
        return Fraction(str(self.failure_percent)) / 100


@dataclass(frozen=True)
class RolloutSpec:
    waves: tuple[WaveSpec, ...]
    canary: CanaryMode = CanaryMode.FIRST
    advance: AdvanceRule = field(default_factory=AdvanceRule)
    abort: AbortRule = field(default_factory=AbortRule)

    @property
    def last_wave(self) -> int:
        return len(self.waves) - 1

    def as_dict(self) -> dict[str, Any]:
        """The normalised field as the API echoes and storage keeps it; `parse_rollout` reads it back unchanged."""
        return {
            "waves": [
                {"name": w.name, "devices": w.devices} if w.percent is None else {"name": w.name, "percent": w.percent}
                for w in self.waves
            ],
            "canary": self.canary.value,
            "advance": {
                "successPercent": self.advance.success_percent,
                "soakMinutes": self.advance.soak_minutes,
                "approval": self.advance.approval,
            },
            "abort": {"failurePercent": self.abort.failure_percent, "minFailures": self.abort.min_failures},
        }


def default_wave_name(index: int) -> str:
    return f"wave-{index + 1}"


def parse_rollout(value: object) -> RolloutSpec:
    """Checks the `rollout` value of a create (or preview) body; every error names the field it is about."""
    body = _object(value, "rollout", ("waves", "canary", "advance", "abort"))
    if "waves" not in body:
        raise InvalidRequest('rollout.waves is required: a list of waves, the last one {"percent": 100}')
    waves = _waves(body["waves"])
    canary_text = body.get("canary", CanaryMode.FIRST.value)
    if canary_text not in tuple(CanaryMode):
        raise InvalidRequest(f"rollout.canary {canary_text!r} is not one of 'first', 'stratified'")
    canary = CanaryMode(str(canary_text))
    return RolloutSpec(waves, canary, _advance(body.get("advance", {})), _abort(body.get("abort", {})))


def _waves(value: object) -> tuple[WaveSpec, ...]:
    if not isinstance(value, list) or not value:
        raise InvalidRequest("rollout.waves must be a non-empty list of waves")
    if len(value) > MAX_WAVES:
        raise InvalidRequest(f"rollout.waves has {len(value)} waves; at most {MAX_WAVES} are allowed")
    waves: list[WaveSpec] = []
    previous_percent: int | float | None = None
    for index, item in enumerate(value):
        where = f"rollout.waves[{index}]"
        wave = _object(item, where, ("name", "devices", "percent"))
        name = _name(wave.get("name"), index, where)
        if ("devices" in wave) == ("percent" in wave):
            raise InvalidRequest(f"{where} needs exactly one of devices (a count) or percent (a cumulative share)")
        if "devices" in wave:
            waves.append(WaveSpec(name, devices=_integer(wave["devices"], f"{where}.devices", minimum=1)))
            continue
        percent = _percent(wave["percent"], f"{where}.percent", allow_zero=False)
        if previous_percent is not None and percent <= previous_percent:
            raise InvalidRequest(
                f"{where}.percent {percent} is not above the previous wave's {previous_percent}: percents are "
                "cumulative shares of the campaign's devices, so they grow from wave to wave"
            )
        previous_percent = percent
        waves.append(WaveSpec(name, percent=percent))
    last = waves[-1]
    if last.percent != 100:
        described = f"devices {last.devices}" if last.devices is not None else f"percent {last.percent}"
        # A count or a share below 100 would leave devices (and every device enrolled later) without a wave.
        raise InvalidRequest(
            f'rollout.waves[{len(waves) - 1}] is {described}: the last wave must be {{"percent": 100}} so that '
            "every device of the campaign, including those enrolled later, belongs to a wave"
        )
    names = [w.name for w in waves]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise InvalidRequest(f"rollout.waves[{index}].name {name!r} is used by an earlier wave; names are unique")
    return tuple(waves)


def _advance(value: object) -> AdvanceRule:
    body = _object(value, "rollout.advance", ("successPercent", "soakMinutes", "approval"))
    default = AdvanceRule()
    approval = body.get("approval", default.approval)
    if not isinstance(approval, bool):
        raise InvalidRequest("rollout.advance.approval must be true or false")
    return AdvanceRule(
        success_percent=_percent(
            body.get("successPercent", default.success_percent), "rollout.advance.successPercent", allow_zero=False
        ),
        soak_minutes=_integer(
            body.get("soakMinutes", default.soak_minutes),
            "rollout.advance.soakMinutes",
            minimum=0,
            maximum=MAX_SOAK_MINUTES,
        ),
        approval=approval,
    )


def _abort(value: object) -> AbortRule:
    body = _object(value, "rollout.abort", ("failurePercent", "minFailures"))
    default = AbortRule()
    return AbortRule(
        # 0 % leaves the decision to minFailures alone.
        failure_percent=_percent(
            body.get("failurePercent", default.failure_percent), "rollout.abort.failurePercent", allow_zero=True
        ),
        min_failures=_integer(body.get("minFailures", default.min_failures), "rollout.abort.minFailures", minimum=1),
    )


def _object(value: object, where: str, known: Sequence[str]) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise InvalidRequest(f"{where} must be an object")
    unknown = sorted(str(k) for k in value if k not in known)
    if unknown:
        raise InvalidRequest(f"{where} has unknown field {unknown[0]!r}; its fields are {', '.join(known)}")
    return value


def _name(value: object, index: int, where: str) -> str:
    if value is None:
        return default_wave_name(index)
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"{where}.name must be a non-empty string")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidRequest(f"{where}.name is longer than {MAX_NAME_LENGTH} characters")
    return value


def _integer(value: object, where: str, *, minimum: int, maximum: int | None = None) -> int:
    # bool is an int in Python, never in JSON.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{where} must be a whole number")
    if value < minimum:
        raise InvalidRequest(f"{where} {value} is below {minimum}")
    if maximum is not None and value > maximum:
        raise InvalidRequest(f"{where} {value} is above {maximum}")
    return value


def _percent(value: object, where: str, *, allow_zero: bool) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidRequest(f"{where} must be a number between 0 and 100")
    if value > 100 or value < 0 or (value == 0 and not allow_zero):
        bound = "from 0" if allow_zero else "above 0"
        raise InvalidRequest(f"{where} {value} is out of range: it must be {bound} and at most 100")
    return value
