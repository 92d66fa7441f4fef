"""The `rollout` field (fota-extensions.md §1): defaults, names, the rules on waves, and errors that name the field."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fota.domain.errors import InvalidRequest
from fota.domain.rollout import AbortRule, AdvanceRule, CanaryMode, RolloutSpec, WaveSpec, parse_rollout

CONTRACT_EXAMPLE: dict[str, Any] = {
    "waves": [{"name": "canary", "devices": 5}, {"percent": 25}, {"percent": 100}],
    "canary": "stratified",
    "advance": {"successPercent": 95, "soakMinutes": 60, "approval": False},
    "abort": {"failurePercent": 5, "minFailures": 3},
}


def test_the_contract_example_parses() -> None:
    spec = parse_rollout(CONTRACT_EXAMPLE)
    assert spec == RolloutSpec(
        (WaveSpec("canary", devices=5), WaveSpec("wave-2", percent=25), WaveSpec("wave-3", percent=100)),
        CanaryMode.STRATIFIED,
        AdvanceRule(95, 60, False),
        AbortRule(5, 3),
    )


def test_only_waves_are_required_and_the_rest_defaults() -> None:
    spec = parse_rollout({"waves": [{"percent": 100}]})
    assert spec.waves == (WaveSpec("wave-1", percent=100),)
    assert spec.canary is CanaryMode.FIRST
    assert spec.advance == AdvanceRule(success_percent=95, soak_minutes=60, approval=False)
    assert spec.abort == AbortRule(failure_percent=5, min_failures=3)


def test_advance_and_abort_fields_default_one_by_one() -> None:
    spec = parse_rollout({"waves": [{"percent": 100}], "advance": {"approval": True}, "abort": {"minFailures": 1}})
    assert spec.advance == AdvanceRule(95, 60, True)
    assert spec.abort == AbortRule(5, 1)


def test_unnamed_waves_are_called_wave_n_from_1_by_position() -> None:
    spec = parse_rollout({"waves": [{"devices": 1}, {"name": "big", "percent": 50}, {"percent": 100}]})
    assert [w.name for w in spec.waves] == ["wave-1", "big", "wave-3"]


def test_fractional_percents_are_exact_decimals() -> None:
    spec = parse_rollout({"waves": [{"percent": 0.1}, {"percent": 100}]})
    assert str(spec.waves[0].share) == "1/1000"


def test_as_dict_echoes_the_normalised_field() -> None:
    assert parse_rollout({"waves": [{"devices": 2}, {"percent": 100}]}).as_dict() == {
        "waves": [{"name": "wave-1", "devices": 2}, {"name": "wave-2", "percent": 100}],
        "canary": "first",
        "advance": {"successPercent": 95, "soakMinutes": 60, "approval": False},
        "abort": {"failurePercent": 5, "minFailures": 3},
    }


@pytest.mark.parametrize(
    ("rollout", "message"),
    [
        ("waves", r"^rollout must be an object"),
        ({}, r"rollout\.waves is required"),
        ({"waves": [{"percent": 100}], "wave": []}, r"rollout has unknown field 'wave'"),
        ({"waves": []}, r"rollout\.waves must be a non-empty list"),
        ({"waves": {"percent": 100}}, r"rollout\.waves must be a non-empty list"),
        ({"waves": [{"percent": 100}] * 101}, r"rollout\.waves has 101 waves"),
        ({"waves": [5, {"percent": 100}]}, r"rollout\.waves\[0\] must be an object"),
        ({"waves": [{"name": "a"}, {"percent": 100}]}, r"rollout\.waves\[0\] needs exactly one of devices"),
        ({"waves": [{"devices": 1, "percent": 100}]}, r"rollout\.waves\[0\] needs exactly one of devices"),
        ({"waves": [{"devices": 0}, {"percent": 100}]}, r"rollout\.waves\[0\]\.devices 0 is below 1"),
        ({"waves": [{"devices": 2.5}, {"percent": 100}]}, r"rollout\.waves\[0\]\.devices must be a whole number"),
        ({"waves": [{"devices": True}, {"percent": 100}]}, r"rollout\.waves\[0\]\.devices must be a whole number"),
        ({"waves": [{"percent": 0}, {"percent": 100}]}, r"rollout\.waves\[0\]\.percent 0 is out of range"),
        ({"waves": [{"percent": 101}]}, r"rollout\.waves\[0\]\.percent 101 is out of range"),
        ({"waves": [{"percent": "50"}, {"percent": 100}]}, r"rollout\.waves\[0\]\.percent must be a number"),
        ({"waves": [{"percent": float("nan")}, {"percent": 100}]}, r"rollout\.waves\[0\]\.percent must be a number"),
        ({"waves": [{"percent": 50}, {"percent": 30}, {"percent": 100}]}, r"waves\[1\]\.percent 30 is not above"),
        ({"waves": [{"percent": 50}, {"percent": 50}, {"percent": 100}]}, r"percents are cumulative"),
        ({"waves": [{"percent": 10}, {"percent": 20}, {"percent": 70}]}, r"waves\[2\] is percent 70: the last wave"),
        ({"waves": [{"percent": 50}, {"devices": 10}]}, r"waves\[1\] is devices 10: the last wave must be"),
        ({"waves": [{"name": "", "percent": 100}]}, r"rollout\.waves\[0\]\.name must be a non-empty string"),
        ({"waves": [{"name": 7, "percent": 100}]}, r"rollout\.waves\[0\]\.name must be a non-empty string"),
        ({"waves": [{"name": "x" * 65, "percent": 100}]}, r"rollout\.waves\[0\]\.name is longer than 64"),
        ({"waves": [{"name": "wave-2", "devices": 1}, {"percent": 100}]}, r"waves\[1\]\.name 'wave-2' is used"),
        ({"waves": [{"percent": 100, "size": 1}]}, r"rollout\.waves\[0\] has unknown field 'size'"),
        ({"waves": [{"percent": 100}], "canary": "random"}, r"rollout\.canary 'random' is not one of"),
        ({"waves": [{"percent": 100}], "canary": ["first"]}, r"rollout\.canary \['first'\] is not one of"),
        ({"waves": [{"percent": 100}], "advance": 95}, r"rollout\.advance must be an object"),
        ({"waves": [{"percent": 100}], "advance": {"soak": 1}}, r"rollout\.advance has unknown field 'soak'"),
        ({"waves": [{"percent": 100}], "advance": {"successPercent": 0}}, r"advance\.successPercent 0 is out of"),
        ({"waves": [{"percent": 100}], "advance": {"successPercent": 100.5}}, r"advance\.successPercent 100\.5"),
        ({"waves": [{"percent": 100}], "advance": {"soakMinutes": -1}}, r"advance\.soakMinutes -1 is below 0"),
        ({"waves": [{"percent": 100}], "advance": {"soakMinutes": 10**9}}, r"advance\.soakMinutes 1000000000 is"),
        ({"waves": [{"percent": 100}], "advance": {"soakMinutes": "60"}}, r"advance\.soakMinutes must be a whole"),
        ({"waves": [{"percent": 100}], "advance": {"approval": "yes"}}, r"advance\.approval must be true or false"),
        ({"waves": [{"percent": 100}], "abort": []}, r"rollout\.abort must be an object"),
        ({"waves": [{"percent": 100}], "abort": {"failurePercent": -1}}, r"abort\.failurePercent -1 is out of"),
        ({"waves": [{"percent": 100}], "abort": {"minFailures": 0}}, r"abort\.minFailures 0 is below 1"),
    ],
)
def test_invalid_rollouts_are_refused_naming_the_field(rollout: object, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        parse_rollout(rollout)


def test_zero_failure_percent_leaves_the_decision_to_min_failures() -> None:
    assert parse_rollout({"waves": [{"percent": 100}], "abort": {"failurePercent": 0}}).abort.failure_percent == 0


def test_a_count_wave_may_follow_a_percent_wave() -> None:
    spec = parse_rollout({"waves": [{"percent": 10}, {"devices": 3}, {"percent": 100}]})
    assert [w.devices for w in spec.waves] == [None, 3, None]


@st.composite
def _rollouts(draw: st.DrawFn) -> dict[str, Any]:
    counts = draw(st.lists(st.integers(1, 1000), max_size=3))
    percents = sorted(draw(st.sets(st.integers(1, 99), max_size=3)))  # cumulative: growing
    kinds = draw(st.permutations(["devices"] * len(counts) + ["percent"] * len(percents)))
    count_values, percent_values = iter(counts), iter(percents)
    waves: list[dict[str, Any]] = [
        {"devices": next(count_values)} if kind == "devices" else {"percent": next(percent_values)} for kind in kinds
    ]
    return {
        "waves": [*waves, {"percent": 100}],
        "canary": draw(st.sampled_from(["first", "stratified"])),
        "advance": {"soakMinutes": draw(st.integers(0, 10_000)), "approval": draw(st.booleans())},
        "abort": {"minFailures": draw(st.integers(1, 50))},
    }


@settings(derandomize=True, max_examples=200)
@given(_rollouts())
def test_as_dict_reads_back_as_the_same_spec(rollout: dict[str, Any]) -> None:
    spec = parse_rollout(rollout)
    assert parse_rollout(spec.as_dict()) == spec
