"""The per-device upgrade state machine: every transition from each step and device report, the deadline rule, how
an ended attempt concludes, and (by property) that no sequence of reports executes Update twice in one attempt or
leaves a device in progress past its deadline."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fota.domain.campaign import Campaign
from fota.domain.protocols import Protocol
from fota.domain.statuses import CampaignStatus, DeviceStatus
from fota.domain.upgrade import (
    Assignment,
    Claim,
    Conclude,
    DeliveryMethod,
    ExecuteUpdate,
    HoldForInstall,
    Observation,
    OfferPackage,
    Outcome,
    ReadStatus,
    RecordDownloaded,
    ResendUpdate,
    Step,
    UpdateState,
    UpgradePolicy,
    Wait,
    WaitReason,
    conclusion,
    may_start,
    next_action,
    timed_out,
)
from fota.domain.windows import Schedule, TimeWindow

NOW = datetime(2030, 3, 1, 12, tzinfo=UTC)
POLICY = UpgradePolicy()
PENDING = Assignment("c1", "acct", "fw-2", "2.0", None, 0, None, False)
IDLE, DOWNLOADING, DOWNLOADED, UPDATING = (int(s) for s in UpdateState)


def at(step: Step, **changes: object) -> Assignment:
    """An attempt in progress at `step`, its deadline an hour away."""
    return replace(PENDING, step=step, attempts=1, deadline=NOW + timedelta(hours=1), **changes)


def seen(
    state: int, result: int = 0, firmware: str | None = None, delivery: DeliveryMethod | None = None
) -> Observation:
    return Observation(state, result, firmware, delivery)


# --- a pending assignment ---


def campaign(status: CampaignStatus = CampaignStatus.SCHEDULED) -> Campaign:
    schedule = Schedule(date(2030, 3, 1), date(2030, 3, 2), (TimeWindow(8, 16),))
    return Campaign(
        "c1", "acct", None, "fw-2", "1.0", "2.0", Protocol.LWM2M, "Acme", "M1", schedule, True, False, status
    )


def test_a_new_attempt_starts_only_in_a_scheduled_campaign_inside_a_window_after_the_back_off() -> None:
    assert may_start(campaign(), NOW)
    assert not may_start(campaign(CampaignStatus.PRE_SCHEDULED), NOW)
    assert not may_start(campaign(), NOW.replace(hour=20)), "outside the download window"
    assert not may_start(campaign(), NOW, retry_after=NOW + timedelta(minutes=1))
    assert may_start(campaign(), NOW, retry_after=NOW)


def test_a_pending_assignment_is_claimed_without_reading_the_device() -> None:
    assert next_action(PENDING, None, now=NOW) == Claim()
    assert next_action(PENDING, seen(DOWNLOADED), now=NOW) == Claim()


def test_a_pending_assignment_waits_for_a_download_window() -> None:
    assert next_action(replace(PENDING, may_download=False), None, now=NOW) == Wait(WaitReason.NO_DOWNLOAD_WINDOW)


@pytest.mark.parametrize("step", list(Step))
def test_a_step_in_progress_reads_the_device_first(step: Step) -> None:
    assert next_action(at(step), None, now=NOW) == ReadStatus()


# --- before the download: Starting and Downloading ---


@pytest.mark.parametrize("step", [Step.STARTING, Step.DOWNLOADING])
def test_a_device_holding_the_package_is_recorded_downloaded(step: Step) -> None:
    assert next_action(at(step), seen(DOWNLOADED), now=NOW) == RecordDownloaded()


@pytest.mark.parametrize("step", [Step.STARTING, Step.DOWNLOADING])
def test_a_downloading_device_is_watched(step: Step) -> None:
    action = next_action(at(step), seen(DOWNLOADING), now=NOW)
    assert action == Wait(WaitReason.DOWNLOADING) and action.why.device_busy


@pytest.mark.parametrize("state", [UPDATING, 7])
@pytest.mark.parametrize("step", [Step.STARTING, Step.DOWNLOADING])
def test_an_update_this_upgrade_did_not_ask_for_is_left_to_finish(step: Step, state: int) -> None:
    action = next_action(at(step), seen(state), now=NOW)
    assert action == Wait(WaitReason.UNASKED_UPDATE) and not action.why.device_busy


@pytest.mark.parametrize("step", [Step.STARTING, Step.DOWNLOADING])
@pytest.mark.parametrize("result", [0, 1])
def test_an_idle_device_is_offered_the_package(step: Step, result: int) -> None:
    assert next_action(at(step), seen(IDLE, result), now=NOW) == OfferPackage(DeliveryMethod.PULL)


@pytest.mark.parametrize(
    ("declared", "method"),
    [
        (None, DeliveryMethod.PULL),
        (DeliveryMethod.PULL, DeliveryMethod.PULL),
        (DeliveryMethod.BOTH, DeliveryMethod.PULL),
        (DeliveryMethod.PUSH, DeliveryMethod.PUSH),
    ],
)
def test_the_offer_pulls_unless_the_device_only_takes_a_push(
    declared: DeliveryMethod | None, method: DeliveryMethod
) -> None:
    assert next_action(at(Step.STARTING), seen(IDLE, delivery=declared), now=NOW) == OfferPackage(method)


def test_at_starting_a_failure_result_is_an_earlier_attempts_and_the_package_is_offered() -> None:
    assert next_action(at(Step.STARTING), seen(IDLE, 4), now=NOW) == OfferPackage(DeliveryMethod.PULL)


def test_a_transient_download_failure_ends_the_attempt_retryable() -> None:
    assert next_action(at(Step.DOWNLOADING), seen(IDLE, 4), now=NOW) == Conclude(
        Outcome(False, "Update Result 4: Connection lost during downloading process", retryable=True)
    )


def test_a_permanent_download_failure_ends_the_attempt_for_good() -> None:
    assert next_action(at(Step.DOWNLOADING), seen(IDLE, 6), now=NOW) == Conclude(
        Outcome(False, "Update Result 6: Unsupported package type", retryable=False)
    )


def test_a_device_just_offered_the_package_is_given_time_to_start() -> None:
    action = next_action(at(Step.DOWNLOADING), seen(IDLE), now=NOW, awaiting_download=True)
    assert action == Wait(WaitReason.NOT_STARTED) and action.why.device_busy
    # A failure still ends the attempt while it is watched.
    assert isinstance(next_action(at(Step.DOWNLOADING), seen(IDLE, 5), now=NOW, awaiting_download=True), Conclude)


@pytest.mark.parametrize("step", [Step.STARTING, Step.DOWNLOADING])
def test_no_package_is_offered_outside_a_download_window(step: Step) -> None:
    action = next_action(at(step, may_download=False), seen(IDLE), now=NOW)
    assert action == Wait(WaitReason.NO_DOWNLOAD_WINDOW)
    # A download under way, or finished, goes on whatever the hour.
    assert next_action(at(step, may_download=False), seen(DOWNLOADED), now=NOW) == RecordDownloaded()


# --- Downloaded ---


@pytest.mark.parametrize("state", [IDLE, DOWNLOADED])
def test_a_downloaded_package_is_installed_when_the_campaign_lets_it(state: int) -> None:
    assert next_action(at(Step.DOWNLOADED), seen(state), now=NOW) == ExecuteUpdate()


def test_a_downloaded_package_is_held_for_the_install_window() -> None:
    until = NOW + timedelta(hours=6)
    assignment = at(Step.DOWNLOADED, may_install=False, install_wait_until=until)
    assert next_action(assignment, seen(DOWNLOADED), now=NOW) == HoldForInstall(until)


# --- Updating ---


def test_a_device_still_installing_is_waited_for() -> None:
    assert next_action(at(Step.UPDATING), seen(UPDATING), now=NOW) == Wait(WaitReason.INSTALLING)


def test_a_lost_execute_is_sent_again() -> None:
    assert next_action(at(Step.UPDATING), seen(DOWNLOADED, 0), now=NOW) == ResendUpdate()


def test_the_device_back_on_the_new_firmware_is_a_success() -> None:
    assert next_action(at(Step.UPDATING), seen(IDLE, 1, "2.0"), now=NOW) == Conclude(
        Outcome(True, "Upgrade completed successfully: device runs 2.0")
    )


def test_a_success_result_on_the_old_firmware_is_a_mismatch() -> None:
    assert next_action(at(Step.UPDATING), seen(IDLE, 1, "1.0"), now=NOW) == Conclude(
        Outcome(False, "firmware mismatch after reboot: device reports '1.0', expected '2.0'")
    )


def test_a_failed_update_is_final() -> None:
    assert next_action(at(Step.UPDATING), seen(IDLE, 8, "1.0"), now=NOW) == Conclude(
        Outcome(False, "Update Result 8: Firmware update failed")
    )


def test_a_device_back_without_an_update_result_failed() -> None:
    action = next_action(at(Step.UPDATING), seen(IDLE, 0, "2.0"), now=NOW)
    assert action == Conclude(Outcome(False, "device came back on firmware '2.0' without an Update Result"))


def test_a_configuration_file_needs_only_the_success_result() -> None:
    assignment = at(Step.UPDATING, package_kind="file", firmware_to="meter.cfg")
    assert next_action(assignment, seen(IDLE, 1, "1.0"), now=NOW) == Conclude(
        Outcome(True, "Configuration file meter.cfg installed successfully")
    )


# --- deadlines ---


@pytest.mark.parametrize(
    ("step", "observation"),
    [
        (Step.STARTING, seen(IDLE)),
        (Step.STARTING, seen(DOWNLOADED)),
        (Step.DOWNLOADING, seen(DOWNLOADING)),
        (Step.DOWNLOADED, seen(DOWNLOADED)),
        (Step.UPDATING, seen(UPDATING)),
        (Step.UPDATING, seen(DOWNLOADED, 0)),
    ],
)
def test_past_its_deadline_a_step_times_out(step: Step, observation: Observation) -> None:
    assignment = at(step)
    assert assignment.deadline is not None
    assert next_action(assignment, observation, now=assignment.deadline) == Conclude(timed_out(step), timed_out=True)
    assert not isinstance(
        next_action(assignment, observation, now=assignment.deadline - timedelta(seconds=1)), Conclude
    )


def test_past_its_deadline_what_the_device_reports_still_decides_the_attempt() -> None:
    late = NOW + timedelta(days=1)
    assert next_action(at(Step.UPDATING), seen(IDLE, 1, "2.0"), now=late) == Conclude(
        Outcome(True, "Upgrade completed successfully: device runs 2.0")
    )
    failed = next_action(at(Step.DOWNLOADING), seen(IDLE, 5), now=late)
    assert isinstance(failed, Conclude) and not failed.timed_out and failed.outcome.retryable


def test_only_steps_before_the_update_time_out_retryable() -> None:
    assert [timed_out(step).retryable for step in Step] == [True, True, True, False]
    assert timed_out(Step.UPDATING).reason == "time-out: the device did not come back after the Update"


def test_each_recorded_step_gets_its_own_deadline() -> None:
    claimed = PENDING.claimed(POLICY, NOW)
    assert (claimed.step, claimed.attempts, claimed.deadline) == (Step.STARTING, 1, NOW + POLICY.start_timeout)
    downloading = claimed.moved_to(Step.DOWNLOADING, POLICY, NOW)
    assert (downloading.step, downloading.attempts, downloading.deadline) == (
        Step.DOWNLOADING,
        1,
        NOW + POLICY.download_timeout,
    )
    assert claimed.moved_to(Step.UPDATING, POLICY, NOW).deadline == NOW + POLICY.update_timeout


def test_each_step_is_reached_only_from_the_steps_before_it() -> None:
    assert Step.STARTING.reached_from == ()
    assert Step.DOWNLOADING.reached_from == (Step.STARTING, Step.DOWNLOADING)
    assert Step.DOWNLOADED.reached_from == (Step.STARTING, Step.DOWNLOADING)
    assert Step.UPDATING.reached_from == (Step.DOWNLOADED,)


# --- how an attempt concludes ---

TRANSIENT = Outcome(False, "Update Result 4: Connection lost during downloading process", retryable=True)


def test_a_success_concludes_the_upgrade() -> None:
    ended = conclusion(Outcome(True, "done"), attempts=1, policy=POLICY, now=NOW, campaign_live=True)
    assert ended == (conclusion(Outcome(True, "done"), attempts=3, policy=POLICY, now=NOW, campaign_live=False))
    assert (ended.status, ended.reason, ended.retry_at) == (DeviceStatus.SUCCESS, "done", None)


@pytest.mark.parametrize(("attempts", "delay"), [(1, timedelta(minutes=1)), (2, timedelta(minutes=2))])
def test_a_transient_failure_is_retried_with_back_off(attempts: int, delay: timedelta) -> None:
    ended = conclusion(TRANSIENT, attempts=attempts, policy=POLICY, now=NOW, campaign_live=True)
    assert (ended.status, ended.retry_at) == (DeviceStatus.PENDING, NOW + delay)
    assert ended.reason == (
        f"attempt {attempts} failed (Update Result 4: Connection lost during downloading process); "
        f"retrying after {(NOW + delay).isoformat()}"
    )


def test_the_back_off_is_capped() -> None:
    policy = UpgradePolicy(max_attempts=20)
    ended = conclusion(TRANSIENT, attempts=15, policy=policy, now=NOW, campaign_live=True)
    assert ended.retry_at == NOW + policy.retry_max


def test_a_transient_failure_fails_once_the_attempts_are_used_up() -> None:
    ended = conclusion(TRANSIENT, attempts=3, policy=POLICY, now=NOW, campaign_live=True)
    assert (ended.status, ended.retry_at) == (DeviceStatus.FAILED, None)
    assert ended.reason == "Update Result 4: Connection lost during downloading process (after 3 attempts)"


def test_a_transient_failure_is_not_retried_once_the_campaign_stopped() -> None:
    ended = conclusion(TRANSIENT, attempts=1, policy=POLICY, now=NOW, campaign_live=False)
    assert (ended.status, ended.reason) == (
        DeviceStatus.FAILED,
        "Update Result 4: Connection lost during downloading process (after 1 attempts)",
    )


def test_a_permanent_failure_is_never_retried() -> None:
    ended = conclusion(
        Outcome(False, "Update Result 8: Firmware update failed"),
        attempts=1,
        policy=POLICY,
        now=NOW,
        campaign_live=True,
    )
    assert (ended.status, ended.reason, ended.retry_at) == (
        DeviceStatus.FAILED,
        "Update Result 8: Firmware update failed",
        None,
    )


# --- properties over any sequence of device reports ---

observations = st.builds(
    Observation,
    state=st.integers(min_value=0, max_value=4),  # 4: a State the object does not define
    result=st.integers(min_value=0, max_value=10),
    firmware=st.sampled_from(["2.0", "1.0", None]),
    delivery=st.sampled_from([None, *DeliveryMethod]),
)
reports = st.tuples(
    observations,
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=3)),  # time since the last report
    st.booleans(),  # a download window is open
    st.booleans(),  # an install window is open
    st.booleans(),  # the exchange is watching the device take up the package
)


@settings(max_examples=400, deadline=None)
@given(st.lists(reports, max_size=40), st.sampled_from(["firmware", "file"]))
def test_no_sequence_of_reports_executes_update_twice_or_outstays_a_deadline(
    sequence: list[tuple[Observation, timedelta, bool, bool, bool]], package_kind: str
) -> None:
    assignment = replace(PENDING, package_kind=package_kind)
    now = NOW
    executed: Counter[int] = Counter()  # Updates executed, by attempt
    for observation, elapsed, may_download, may_install, watching in sequence:
        now += elapsed
        assignment = replace(assignment, may_download=may_download, may_install=may_install)
        action = next_action(assignment, observation, now=now, awaiting_download=watching)
        if assignment.deadline is not None and now >= assignment.deadline:
            assert isinstance(action, Conclude), (assignment, observation, action)
        match action:
            case Claim():
                assignment = assignment.claimed(POLICY, now)
            case OfferPackage():
                assignment = assignment.moved_to(Step.DOWNLOADING, POLICY, now)
            case RecordDownloaded():
                assignment = assignment.moved_to(Step.DOWNLOADED, POLICY, now)
            case ExecuteUpdate():
                assert assignment.step is Step.DOWNLOADED
                executed[assignment.attempts] += 1
                assignment = assignment.moved_to(Step.UPDATING, POLICY, now)
            case ResendUpdate():
                # Only the Execute that never arrived: the device holds the package and has not run it.
                assert assignment.step is Step.UPDATING
                assert (observation.state, observation.result) == (DOWNLOADED, 0)
            case HoldForInstall(until=until):
                held_until = max(now, until or now)
                assignment = replace(assignment, deadline=POLICY.deadline(Step.DOWNLOADED, held_until))
            case Wait():
                assert assignment.deadline is None or now < assignment.deadline
            case Conclude(outcome=outcome):
                ended = conclusion(outcome, attempts=assignment.attempts, policy=POLICY, now=now, campaign_live=True)
                if ended.status is not DeviceStatus.PENDING:
                    break
                assignment = replace(assignment, step=None, deadline=None)
            case ReadStatus():
                pytest.fail("a report was given: nothing is left to read")
        assert all(count <= 1 for count in executed.values()), executed
