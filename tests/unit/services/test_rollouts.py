"""services/rollouts.py on the fakes: waves planned at creation and for late devices, the held devices' reasons (a
retry's own kept through a pause), the engine's settling (soak, advance, automatic pause), resume after an automatic
pause, health verdicts at check-in, and the audit of each decision."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest

from fota.domain.errors import Conflict, InvalidRequest
from fota.domain.rollout import RolloutStatus, parse_rollout
from fota.domain.statuses import CampaignStatus, DeviceStatus
from fota.domain.upgrade import Assignment, Step, UpgradePolicy, timed_out
from fota.services import campaigns, rollouts, upgrades
from fota.services.ports import HEALTHY, CallbackRegistration
from tests.unit.services.conftest import ACCOUNT, FIRMWARE, World, world_with

SPEC = parse_rollout(
    {
        "waves": [{"name": "canary", "devices": 2}, {"percent": 50}, {"percent": 100}],
        "advance": {"successPercent": 100, "soakMinutes": 60},
        "abort": {"failurePercent": 50, "minFailures": 2},
    }
)


@pytest.fixture
def world() -> World:
    return world_with(license_count=20, device_count=10)


def scheduled(world: World) -> str:
    """A rollout campaign of the world's ten devices, moved to Scheduled as the engine would."""
    created = campaigns.create_campaign(
        uow=world.uow_factory(),
        clock=world.clock,
        account_name=ACCOUNT,
        request=replace(world.request(world.devices, start=0), rollout=SPEC),
        signing_required=False,
    )
    store = world.store
    store.campaigns[created.id] = replace(store.campaigns[created.id], status=CampaignStatus.SCHEDULED)
    store.rollout_check_at[created.id] = world.clock.now()
    return created.id


def rows(world: World, campaign_id: str) -> dict[str, tuple[int | None, DeviceStatus, str | None]]:
    return {d: (r.wave, r.status, r.reason) for (c, d), r in world.store.campaign_devices.items() if c == campaign_id}


def conclude(world: World, campaign_id: str, device_ids: list[str], status: DeviceStatus) -> None:
    """What upgrades.conclude does for a rollout campaign's device, on the fakes."""
    store, now = world.store, world.clock.now()
    uow = world.uow_factory()
    with uow:
        for device_id in device_ids:
            key = (campaign_id, device_id)
            store.campaign_devices[key] = replace(store.campaign_devices[key], status=status, reason=status.value)
            store.devices[device_id] = replace(store.devices[device_id], last_seen_at=now, firmware="2.0")
            rollouts.started_soak(uow, store.campaigns[campaign_id], device_id, status, now=now)
        uow.commit()


def operator(world: World, operation: Callable[..., object], campaign_id: str, reason: str | None) -> None:
    operation(
        uow=world.uow_factory(),
        clock=world.clock,
        account_name=ACCOUNT,
        campaign_id=campaign_id,
        actor="operator",
        reason=reason,
    )


def settle(world: World) -> int:
    return rollouts.settle_due(uow_factory=world.uow_factory, clock=world.clock)


def actions(world: World, campaign_id: str) -> list[tuple[str, str]]:
    return [(r.action, r.actor) for r in world.store.audit if r.campaign_id == campaign_id]


def test_creation_plans_the_waves_and_holds_the_later_ones(world: World) -> None:
    campaign_id = scheduled(world)
    found = rows(world, campaign_id)
    by_wave = sorted(found.values(), key=lambda r: r[0] or 0)
    assert [w for w, _, _ in by_wave] == [0, 0, 1, 1, 1, 2, 2, 2, 2, 2]
    assert {reason for wave, _, reason in found.values() if wave == 1} == {"Waiting for wave wave-2"}
    assert {reason for wave, _, reason in found.values() if wave == 0} == {rollouts.OFFERED_REASON}
    state = world.store.campaigns[campaign_id].rollout_state
    assert state is not None and state.status is RolloutStatus.RUNNING and state.current_wave == 0

    # A device enrolled later joins the last wave.
    store = world.store
    late = "350000000009999"
    store.devices[late] = replace(store.devices[world.devices[0]], device_id=late, license_assigned=False)
    campaigns.add_devices(
        uow=world.uow_factory(), clock=world.clock, account_name=ACCOUNT, campaign_id=campaign_id, device_ids=[late]
    )
    assert rows(world, campaign_id)[late] == (2, DeviceStatus.PENDING, "Waiting for wave wave-3")


def test_the_canary_soaks_then_the_next_wave_opens(world: World) -> None:
    world.store.callbacks[ACCOUNT] = CallbackRegistration("https://example.test/hook", "secret")
    campaign_id = scheduled(world)
    canary = [d for d, (w, _, _) in rows(world, campaign_id).items() if w == 0]
    assert settle(world) == 0
    conclude(world, campaign_id, canary, DeviceStatus.SUCCESS)
    assert settle(world) == 0  # succeeded, not soaked
    assert world.store.rollout_check_at[campaign_id] == world.clock.now() + timedelta(minutes=60)
    assert {world.store.soaks[(campaign_id, d)][2] for d in canary} == {None}

    world.clock.advance(3600)
    assert settle(world) == 1
    assert {world.store.soaks[(campaign_id, d)][2] for d in canary} == {HEALTHY}
    state = world.store.campaigns[campaign_id].rollout_state
    assert state is not None and state.current_wave == 1
    assert {r for w, _, r in rows(world, campaign_id).values() if w == 1} == {rollouts.OFFERED_REASON}
    assert actions(world, campaign_id) == [("advance", "fota")]
    # The decision is in the campaign's history too (and so a callback).
    said = [h.reason for h in world.store.history if h.campaign_id == campaign_id and h.device_id is None]
    assert said[-1] is not None and said[-1].startswith("rollout advance by fota: canary gate met")
    announced = [row.event.payload for row in world.store.outbox.values()]
    assert announced[-1]["eventType"] == "CampaignStatusChanged"
    assert announced[-1]["status"] == "CampaignScheduled" and announced[-1]["reason"] == said[-1]


def test_failures_pause_by_themselves_and_a_resume_needs_a_reason(world: World) -> None:
    campaign_id = scheduled(world)
    canary = [d for d, (w, _, _) in rows(world, campaign_id).items() if w == 0]
    conclude(world, campaign_id, canary, DeviceStatus.FAILED)
    assert settle(world) == 1
    state = world.store.campaigns[campaign_id].rollout_state
    assert state is not None and state.status is RolloutStatus.AUTO_PAUSED
    assert {r for w, s, r in rows(world, campaign_id).values() if w == 1} == {"Waiting for wave wave-2"}

    with pytest.raises(InvalidRequest):
        operator(world, rollouts.resume_rollout, campaign_id, None)
    with pytest.raises(Conflict):
        operator(world, rollouts.pause_rollout, campaign_id, "again")
    with pytest.raises(Conflict):
        operator(world, rollouts.approve_rollout, campaign_id, "nothing waits")
    operator(world, rollouts.resume_rollout, campaign_id, "known bad units")
    state = world.store.campaigns[campaign_id].rollout_state
    assert state is not None and state.status is RolloutStatus.RUNNING and state.excused_failures == 2
    assert settle(world) == 0  # the excused failures do not pause it again
    assert actions(world, campaign_id) == [("autoPause", "fota"), ("resume", "operator")]
    assert world.store.audit[-1].reason == "known bad units"


def test_a_rolled_back_device_is_unhealthy_at_its_check_in(world: World) -> None:
    campaign_id = scheduled(world)
    canary = [d for d, (w, _, _) in rows(world, campaign_id).items() if w == 0]
    conclude(world, campaign_id, canary, DeviceStatus.SUCCESS)
    settle(world)
    world.clock.advance(300)
    uow = world.uow_factory()
    with uow:
        rollouts.judge_check_in(uow, canary[0], firmware="1.0", now=world.clock.now())  # the old firmware
        rollouts.judge_check_in(uow, canary[1], firmware="2.0", now=world.clock.now())
        uow.commit()
    assert [world.store.soaks[(campaign_id, d)][2] for d in canary] == ["rolledBack", None]
    assert world.store.rollout_check_at[campaign_id] == world.clock.now()
    assert actions(world, campaign_id) == [("unhealthy", "fota")]
    world.clock.advance(3600)
    settle(world)
    state = world.store.campaigns[campaign_id].rollout_state
    assert state is not None and state.current_wave == 0  # 1 of 2 soaked: the gate (100 %) is not met


def test_a_firmware_read_before_the_success_is_no_rollback(world: World) -> None:
    campaign_id = scheduled(world)
    canary = [d for d, (w, _, _) in rows(world, campaign_id).items() if w == 0]
    before = world.clock.now()
    world.clock.advance(1)
    conclude(world, campaign_id, canary, DeviceStatus.SUCCESS)
    world.clock.advance(5)
    uow = world.uow_factory()
    with uow:
        # An exchange read the old firmware just before the Update and reports it after the success was recorded.
        rollouts.judge_check_in(uow, canary[0], firmware="1.0", read_at=before, now=world.clock.now())
        uow.commit()
    assert world.store.soaks[(campaign_id, canary[0])][2] is None
    assert actions(world, campaign_id) == []


def test_a_silence_that_a_check_in_ends_is_still_unhealthy(world: World) -> None:
    long_soak = parse_rollout({"waves": [{"devices": 2}, {"percent": 100}], "advance": {"soakMinutes": 3000}})
    created = campaigns.create_campaign(
        uow=world.uow_factory(),
        clock=world.clock,
        account_name=ACCOUNT,
        request=replace(world.request(world.devices, start=0), rollout=long_soak),
        signing_required=False,
    )
    world.store.campaigns[created.id] = replace(world.store.campaigns[created.id], status=CampaignStatus.SCHEDULED)
    canary = [d for d, (w, _, _) in rows(world, created.id).items() if w == 0]
    conclude(world, created.id, canary, DeviceStatus.SUCCESS)
    world.clock.advance(25 * 3600)  # past the 24 hours an HTTP device may stay silent, within the soak
    uow = world.uow_factory()
    with uow:
        rollouts.judge_check_in(uow, canary[0], firmware="2.0", now=world.clock.now())
        uow.commit()
    assert [world.store.soaks[(created.id, d)][2] for d in canary] == ["silent", None]
    assert world.store.audit[-1].detail == {"deviceId": canary[0], "wave": "wave-1", "health": "silent"}


def test_a_met_gate_waits_for_approval_then_the_call_opens_the_wave(world: World) -> None:
    gated = parse_rollout(
        {"waves": [{"devices": 2}, {"percent": 100}], "advance": {"soakMinutes": 0, "approval": True}}
    )
    created = campaigns.create_campaign(
        uow=world.uow_factory(),
        clock=world.clock,
        account_name=ACCOUNT,
        request=replace(world.request(world.devices, start=0), rollout=gated),
        signing_required=False,
    )
    world.store.campaigns[created.id] = replace(world.store.campaigns[created.id], status=CampaignStatus.SCHEDULED)
    canary = [d for d, (w, _, _) in rows(world, created.id).items() if w == 0]
    conclude(world, created.id, canary, DeviceStatus.SUCCESS)
    assert settle(world) == 1
    state = world.store.campaigns[created.id].rollout_state
    assert state is not None and state.status is RolloutStatus.WAITING_APPROVAL and state.current_wave == 0
    assert {r for w, _, r in rows(world, created.id).values() if w == 1} == {"Waiting for wave wave-2"}

    opened = rollouts.approve_rollout(
        uow=world.uow_factory(),
        clock=world.clock,
        account_name=ACCOUNT,
        campaign_id=created.id,
        actor="operator",
        reason="canary looks fine",
    )
    assert opened.rollout_state is not None and opened.rollout_state.current_wave == 1
    assert {r for w, _, r in rows(world, created.id).values() if w == 1} == {rollouts.OFFERED_REASON}
    assert actions(world, created.id) == [("awaitApproval", "fota"), ("approve", "operator")]


def test_a_retrying_device_keeps_its_own_reason_through_a_pause_and_a_resume(world: World) -> None:
    campaign_id = scheduled(world)
    retrying, offered = sorted(d for d, (w, _, _) in rows(world, campaign_id).items() if w == 0)
    policy = UpgradePolicy()
    start = Assignment(
        campaign_id, ACCOUNT, FIRMWARE, "2.0", step=None, attempts=0, delivery=None, update_executed=False, wave=0
    )
    claims = [(start, retrying)]
    assert upgrades.claim_many(uow=world.uow_factory(), clock=world.clock, policy=policy, claims=claims) == [True]
    world.clock.advance(6 * 60)  # the device never answered the offer
    concluded = upgrades.conclude(
        uow=world.uow_factory(),
        clock=world.clock,
        policy=policy,
        campaign_id=campaign_id,
        account_name=ACCOUNT,
        device_id=retrying,
        outcome=timed_out(Step.STARTING),
        attempts=1,
    )
    assert concluded is DeviceStatus.PENDING
    retry = world.store.campaign_devices[(campaign_id, retrying)]
    assert retry.reason is not None and retry.reason.startswith("attempt 1 failed")
    assert retry.attempts == 1 and retry.next_attempt_at == world.clock.now() + policy.retry_base

    operator(world, rollouts.pause_rollout, campaign_id, "checking the canary")
    # While paused the retry still says why it failed and when it may go again (the rollout's state says it is
    # paused): the row has room for one reason, and the pause's would leave nothing to give back at the resume.
    found = rows(world, campaign_id)
    assert found[retrying] == (0, DeviceStatus.PENDING, retry.reason)
    assert found[offered] == (0, DeviceStatus.PENDING, "Rollout paused: checking the canary")
    assert {r for w, _, r in found.values() if w == 1} == {"Waiting for wave wave-2"}

    world.clock.advance(60)
    operator(world, rollouts.resume_rollout, campaign_id, "canary is fine")
    found = rows(world, campaign_id)
    assert found[retrying] == (0, DeviceStatus.PENDING, retry.reason)
    assert found[offered] == (0, DeviceStatus.PENDING, rollouts.OFFERED_REASON)
    assert {r for w, _, r in found.values() if w == 1} == {"Waiting for wave wave-2"}
    assert world.store.campaign_devices[(campaign_id, retrying)] == retry
