"""Retry policies: the failure names and their Update Results, reading a retryPolicy from plain values, the back-off
sequence, how an attempt concludes with and without a campaign policy, and (by property) that a default policy
decides as the server's own rule and that a neverRetry failure is never retried."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fota.domain.errors import InvalidRequest
from fota.domain.statuses import DeviceStatus
from fota.domain.upgrade import (
    Conclusion,
    Failure,
    Outcome,
    RetryPolicy,
    Step,
    UpgradePolicy,
    conclusion,
    outcome_after_reboot,
    outcome_of_result,
    timed_out,
)

NOW = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)
POLICY = UpgradePolicy()

NAMES_AND_RESULTS = [
    ("NotEnoughFlash", 2),
    ("OutOfMemory", 3),
    ("ConnectionLost", 4),
    ("IntegrityFailure", 5),
    ("UnsupportedPackage", 6),
    ("InvalidUri", 7),
    ("UpdateFailed", 8),
    ("UnsupportedProtocol", 9),
]


# --- failure names ---


@pytest.mark.parametrize(("name", "code"), NAMES_AND_RESULTS)
def test_each_failure_name_stands_for_its_update_result(name: str, code: int) -> None:
    assert Failure(name).update_result == code
    assert Failure.of_result(code) is Failure(name)
    outcome = outcome_of_result(code)
    assert outcome is not None
    assert (outcome.success, outcome.failure, outcome.retryable) == (False, Failure(name), code in {3, 4, 5})


def test_the_names_are_exactly_the_contracts() -> None:
    assert [failure.value for failure in Failure] == [name for name, _ in NAMES_AND_RESULTS] + ["Timeout"]
    assert Failure.TIMEOUT.update_result is None


@pytest.mark.parametrize("code", [0, 1, 10, 99, -1])
def test_results_that_report_no_failure_or_are_undefined_have_no_name(code: int) -> None:
    assert Failure.of_result(code) is None


def test_an_undefined_result_fails_without_a_name() -> None:
    outcome = outcome_of_result(12)
    assert outcome is not None and (outcome.success, outcome.failure) == (False, None)
    success = outcome_of_result(1)
    assert success is not None and (success.success, success.failure) == (True, None)


def test_a_device_that_did_not_take_the_update_failed_it() -> None:
    mismatch = outcome_after_reboot(1, "1.0", "2.0")
    no_result = outcome_after_reboot(0, "2.0", "2.0")
    reported = outcome_after_reboot(8, "1.0", "2.0")
    assert [o.failure for o in (mismatch, no_result, reported)] == [Failure.UPDATE_FAILED] * 3
    assert all(o.safe_to_repeat for o in (mismatch, no_result, reported))
    assert outcome_after_reboot(1, "2.0", "2.0").failure is None


@pytest.mark.parametrize("step", list(Step))
def test_every_time_out_is_a_timeout_and_only_the_one_after_the_update_is_unsafe_to_repeat(step: Step) -> None:
    outcome = timed_out(step)
    assert outcome.failure is Failure.TIMEOUT
    assert outcome.safe_to_repeat is (step is not Step.UPDATING)


# --- reading a policy ---


def test_the_contracts_example_reads_and_writes_back() -> None:
    plain = {
        "maxAttempts": 3,
        "backoffSeconds": [300, 3600],
        "neverRetry": ["IntegrityFailure", "UnsupportedPackage", "InvalidUri", "UnsupportedProtocol"],
    }
    policy = RetryPolicy.from_plain(plain)
    assert policy == RetryPolicy(
        3,
        (300, 3600),
        frozenset(
            {
                Failure.INTEGRITY_FAILURE,
                Failure.UNSUPPORTED_PACKAGE,
                Failure.INVALID_URI,
                Failure.UNSUPPORTED_PROTOCOL,
            }
        ),
    )
    assert policy.to_plain() == plain
    assert RetryPolicy.from_plain(policy.to_plain()) == policy


def test_a_field_left_out_keeps_the_servers_rule() -> None:
    assert RetryPolicy.from_plain({}) == RetryPolicy()
    assert RetryPolicy.from_plain({"maxAttempts": None, "backoffSeconds": None, "neverRetry": None}) == RetryPolicy()
    assert RetryPolicy().to_plain() == {
        "maxAttempts": 3,
        "backoffSeconds": [60, 120, 240, 480, 960, 1920, 3600],
        "neverRetry": ["NotEnoughFlash", "UnsupportedPackage", "InvalidUri", "UpdateFailed", "UnsupportedProtocol"],
    }
    assert RetryPolicy.from_plain({"neverRetry": []}).never_retry == frozenset()


def test_the_default_back_off_is_the_servers() -> None:
    server = UpgradePolicy(max_attempts=100)
    for attempts in range(1, 30):
        assert server.retry_at(attempts, NOW) == NOW + RetryPolicy().backoff(attempts)


@pytest.mark.parametrize(
    ("plain", "field"),
    [
        ([], "retryPolicy must be an object"),
        ("3", "retryPolicy must be an object"),
        ({"maxAttempt": 3}, "retryPolicy.maxAttempt is not a field"),
        ({"maxAttempts": 0}, "retryPolicy.maxAttempts"),
        ({"maxAttempts": -1}, "retryPolicy.maxAttempts"),
        ({"maxAttempts": 101}, "retryPolicy.maxAttempts"),
        ({"maxAttempts": True}, "retryPolicy.maxAttempts"),
        ({"maxAttempts": 2.0}, "retryPolicy.maxAttempts"),
        ({"maxAttempts": "3"}, "retryPolicy.maxAttempts"),
        ({"backoffSeconds": []}, "retryPolicy.backoffSeconds"),
        ({"backoffSeconds": [0]}, "retryPolicy.backoffSeconds"),
        ({"backoffSeconds": [300, -5]}, "retryPolicy.backoffSeconds"),
        ({"backoffSeconds": [1.5]}, "retryPolicy.backoffSeconds"),
        ({"backoffSeconds": [True]}, "retryPolicy.backoffSeconds"),
        ({"backoffSeconds": 300}, "retryPolicy.backoffSeconds"),
        ({"backoffSeconds": [30 * 24 * 3600 + 1]}, "retryPolicy.backoffSeconds"),
        ({"backoffSeconds": [60] * 101}, "retryPolicy.backoffSeconds"),
        ({"neverRetry": "IntegrityFailure"}, "retryPolicy.neverRetry"),
        ({"neverRetry": ["IntegrityFailure", "Integrity"]}, "retryPolicy.neverRetry: unknown failure 'Integrity'"),
        ({"neverRetry": ["integrityfailure"]}, "retryPolicy.neverRetry: unknown failure"),
        ({"neverRetry": [5]}, "retryPolicy.neverRetry: unknown failure 5"),
    ],
)
def test_a_wrong_policy_is_an_invalid_request_naming_the_field(plain: object, field: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        RetryPolicy.from_plain(plain)
    assert raised.value.message.startswith(field), raised.value.message


def test_the_last_back_off_repeats() -> None:
    policy = RetryPolicy(max_attempts=10, backoff_seconds=(300, 3600))
    assert [policy.backoff(n) for n in range(1, 6)] == [timedelta(seconds=s) for s in (300, 3600, 3600, 3600, 3600)]
    assert [policy.retry_at(n, NOW) for n in (1, 2, 9, 10)] == [
        NOW + timedelta(seconds=300),
        NOW + timedelta(hours=1),
        NOW + timedelta(hours=1),
        None,
    ]


# --- concluding an attempt under a policy ---

CAMPAIGN = RetryPolicy.from_plain({"maxAttempts": 3, "backoffSeconds": [300, 3600], "neverRetry": ["IntegrityFailure"]})


def conclude(
    outcome: Outcome | None, attempts: int, *, live: bool = True, policy: RetryPolicy | None = CAMPAIGN
) -> Conclusion:
    assert outcome is not None
    return conclusion(outcome, attempts=attempts, policy=POLICY, now=NOW, campaign_live=live, retry_policy=policy)


def test_a_corrupt_image_fails_the_device_after_one_attempt() -> None:
    ended = conclude(outcome_of_result(5), 1)
    assert (ended.status, ended.retry_at) == (DeviceStatus.FAILED, None)
    assert ended.reason == (
        "Update Result 5: Integrity check failure for new downloaded package (IntegrityFailure is never retried)"
    )


def test_a_lost_connection_is_retried_after_the_configured_back_off() -> None:
    first, second, third = (conclude(outcome_of_result(4), n) for n in (1, 2, 3))
    assert (first.status, first.retry_at) == (DeviceStatus.PENDING, NOW + timedelta(seconds=300))
    assert first.reason == (
        "attempt 1 failed (Update Result 4: Connection lost during downloading process); "
        f"retrying after {(NOW + timedelta(seconds=300)).isoformat()}"
    )
    assert (second.status, second.retry_at) == (DeviceStatus.PENDING, NOW + timedelta(hours=1))
    assert (third.status, third.retry_at) == (DeviceStatus.FAILED, None)
    assert third.reason == "Update Result 4: Connection lost during downloading process (after 3 attempts)"


def test_a_policy_retries_what_the_server_alone_would_not() -> None:
    assert conclude(outcome_of_result(8), 1, policy=None).status is DeviceStatus.FAILED
    assert conclude(outcome_of_result(8), 1).status is DeviceStatus.PENDING
    assert conclude(outcome_after_reboot(1, "1.0", "2.0"), 1).status is DeviceStatus.PENDING


def test_a_time_out_after_the_update_is_never_retried_whatever_the_policy() -> None:
    ended = conclude(timed_out(Step.UPDATING), 1)
    assert (ended.status, ended.reason) == (
        DeviceStatus.FAILED,
        "time-out: the device did not come back after the Update",
    )
    assert conclude(timed_out(Step.DOWNLOADING), 1).status is DeviceStatus.PENDING
    never_timeout = RetryPolicy.from_plain({"neverRetry": ["Timeout"]})
    ended = conclude(timed_out(Step.DOWNLOADING), 1, policy=never_timeout)
    assert (ended.status, ended.reason) == (
        DeviceStatus.FAILED,
        "time-out: the download did not complete (Timeout is never retried)",
    )


def test_an_unnamed_failure_is_not_retried_under_a_policy() -> None:
    ended = conclude(outcome_of_result(12), 1, policy=RetryPolicy.from_plain({"neverRetry": []}))
    assert (ended.status, ended.reason) == (DeviceStatus.FAILED, "Update Result 12: unknown Update Result 12")


def test_under_a_policy_a_stopped_campaign_retries_nothing() -> None:
    ended = conclude(outcome_of_result(4), 1, live=False)
    assert (ended.status, ended.reason) == (
        DeviceStatus.FAILED,
        "Update Result 4: Connection lost during downloading process (after 1 attempts)",
    )


def test_one_attempt_means_no_retry() -> None:
    assert conclude(outcome_of_result(4), 1, policy=RetryPolicy.from_plain({"maxAttempts": 1})).status is (
        DeviceStatus.FAILED
    )


def test_success_is_success_under_any_policy() -> None:
    ended = conclude(outcome_after_reboot(1, "2.0", "2.0"), 3)
    assert (ended.status, ended.retry_at) == (DeviceStatus.SUCCESS, None)


# --- properties ---

derived_outcomes = st.one_of(
    st.integers(min_value=2, max_value=12).map(outcome_of_result),
    st.sampled_from(list(Step)).map(timed_out),
    st.tuples(st.integers(min_value=0, max_value=9), st.sampled_from(["1.0", "2.0", None])).map(
        lambda reported: outcome_after_reboot(reported[0], reported[1], "2.0")
    ),
)
policies = st.builds(
    RetryPolicy,
    max_attempts=st.integers(min_value=1, max_value=10),
    backoff_seconds=st.lists(st.integers(min_value=1, max_value=86400), min_size=1, max_size=5).map(tuple),
    never_retry=st.frozensets(st.sampled_from(list(Failure))),
)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(derived_outcomes, st.integers(min_value=1, max_value=12), st.booleans())
def test_a_policy_of_defaults_decides_as_the_server_alone(outcome: Outcome | None, attempts: int, live: bool) -> None:
    alone = conclude(outcome, attempts, live=live, policy=None)
    defaults = conclude(outcome, attempts, live=live, policy=RetryPolicy())
    assert (defaults.status, defaults.retry_at) == (alone.status, alone.retry_at)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(policies, derived_outcomes, st.integers(min_value=1, max_value=12))
def test_a_never_retry_failure_is_never_retried(policy: RetryPolicy, outcome: Outcome | None, attempts: int) -> None:
    assert outcome is not None
    ended = conclude(outcome, attempts, policy=policy)
    if outcome.failure in policy.never_retry or not outcome.safe_to_repeat:
        assert (ended.status, ended.retry_at) == (DeviceStatus.FAILED, None)
    if ended.status is DeviceStatus.PENDING:
        assert outcome.failure is not None and outcome.failure not in policy.never_retry
        assert attempts < policy.max_attempts
        assert ended.retry_at == NOW + policy.backoff(attempts)
