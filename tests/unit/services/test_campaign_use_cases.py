"""Campaign use cases on the fake unit of work: creation with its licences, date changes, cancellation, the engine's
tick; each checks what the service stored, recorded in history and queued as callbacks."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from fota.domain.errors import InvalidRequest, InvalidState
from fota.domain.statuses import CampaignStatus, DeviceStatus
from fota.domain.windows import TimeWindow
from fota.services import campaigns, engine
from fota.services.ports import CallbackRegistration
from tests.unit.services.conftest import ACCOUNT, World, world_with


def create(world: World, devices: list[str], **changes: object) -> campaigns.Campaign:
    return campaigns.create_campaign(
        uow=world.uow_factory(),
        clock=world.clock,
        account_name=ACCOUNT,
        request=world.request(devices, **changes),  # type: ignore[arg-type]
        signing_required=False,
    )


def statuses(world: World, campaign_id: str) -> dict[str, DeviceStatus]:
    return {d: r.status for (c, d), r in world.store.campaign_devices.items() if c == campaign_id}


def test_create_enrols_eligible_devices_and_licenses_them_from_the_pool(world: World) -> None:
    campaign = create(world, world.devices)

    assert world.store.campaigns[campaign.id].status is CampaignStatus.QUEUED
    enrolled = statuses(world, campaign.id)
    # Three licences for five devices: the first three get one and are pending, the rest are rejected.
    assert [enrolled[d] for d in world.devices] == [DeviceStatus.PENDING] * 3 + [DeviceStatus.REJECTED] * 2
    assert world.store.accounts[ACCOUNT].licenses_used == 3
    assert [d for d in world.devices if world.store.devices[d].license_assigned] == world.devices[:3]
    licence_entries = [e for e in world.store.history if e.status == "LicenseAssigned"]
    assert sorted(e.device_id for e in licence_entries if e.device_id) == world.devices[:3]


def test_create_without_auto_licence_rejects_unlicensed_devices(world: World) -> None:
    campaign = create(world, world.devices[:2], auto_license=False)
    assert set(statuses(world, campaign.id).values()) == {DeviceStatus.REJECTED}
    assert world.store.accounts[ACCOUNT].licenses_used == 0


def test_a_device_in_a_live_campaign_is_rejected_by_another(world: World) -> None:
    first = create(world, world.devices[:1])
    second = create(world, world.devices[:2])
    assert statuses(world, first.id) == {world.devices[0]: DeviceStatus.PENDING}
    assert statuses(world, second.id) == {
        world.devices[0]: DeviceStatus.REJECTED,
        world.devices[1]: DeviceStatus.PENDING,
    }
    assert world.store.accounts[ACCOUNT].licenses_used == 2, "a rejected device takes no licence"


def test_a_rejected_create_stores_nothing(world: World) -> None:
    with pytest.raises(InvalidRequest):
        create(world, world.devices, start=-1)  # a start date in the past
    assert world.store.campaigns == {} and world.store.campaign_devices == {} and world.store.history == []
    assert world.store.accounts[ACCOUNT].licenses_used == 0


def test_status_changes_become_callback_events_only_for_a_registered_account(world: World) -> None:
    create(world, world.devices[:1])
    assert world.store.outbox == {}, "no callback registered: nothing queued"
    world.store.callbacks[ACCOUNT] = CallbackRegistration("https://hooks.example.com/fota", "00" * 32)
    campaign = create(world, world.devices[1:2])
    events = [r.event.payload for r in world.store.outbox.values()]
    assert [(e["eventType"], e["status"]) for e in events] == [
        ("CampaignStatusChanged", "CampaignQueued"),
        ("DeviceStatusChanged", "UpgradePending"),
    ]
    assert {e["campaignId"] for e in events} == {campaign.id}


def test_date_change_before_the_start_moves_dates_and_windows(world: World) -> None:
    campaign = create(world, world.devices[:1])
    changed = campaigns.change_dates(
        uow=world.uow_factory(),
        clock=world.clock,
        account_name=ACCOUNT,
        campaign_id=campaign.id,
        start_date=world.day(4),
        end_date=world.day(9),
        windows=[TimeWindow(2, 6)],
    )
    stored = world.store.campaigns[campaign.id]
    assert stored == changed
    assert (stored.schedule.start_date, stored.schedule.end_date) == (world.day(4), world.day(9))
    assert stored.schedule.windows == (TimeWindow(2, 6),)
    assert world.store.history[-1].reason == f"dates changed to {world.day(4)}..{world.day(9)}, windows 2-6"


def test_after_the_start_the_start_date_is_fixed(world: World) -> None:
    campaign = create(world, world.devices[:1], start=0, end=3)
    world.clock.set(world.clock.now() + timedelta(hours=1))
    with pytest.raises(InvalidState, match="only endDate and the time windows can change"):
        campaigns.change_dates(
            uow=world.uow_factory(),
            clock=world.clock,
            account_name=ACCOUNT,
            campaign_id=campaign.id,
            start_date=world.day(1),
            end_date=world.day(4),
            windows=None,
        )
    assert world.store.campaigns[campaign.id].schedule.start_date == campaign.schedule.start_date


def test_cancel_before_the_start_cancels_the_campaign_and_its_pending_devices(world: World) -> None:
    campaign = create(world, world.devices[:2])
    cancelled = campaigns.cancel_campaign(
        uow=world.uow_factory(), clock=world.clock, account_name=ACCOUNT, campaign_id=campaign.id
    )
    assert cancelled.status is CampaignStatus.CANCELLED
    assert set(statuses(world, campaign.id).values()) == {DeviceStatus.CAMPAIGN_CANCELLED}
    # Cancelled, the campaign no longer holds its devices: another one can enrol them.
    again = create(world, world.devices[:2])
    assert set(statuses(world, again.id).values()) == {DeviceStatus.PENDING}


def test_the_engine_tick_schedules_ends_and_finishes_devices_on_the_clock() -> None:
    world = world_with(license_count=5, device_count=2)
    campaign = create(world, world.devices, start=2, end=3)

    def tick() -> CampaignStatus:
        engine.tick(uow_factory=world.uow_factory, clock=world.clock)
        return world.store.campaigns[campaign.id].status

    assert tick() is CampaignStatus.QUEUED, "more than 24 h before the start nothing moves"
    world.clock.set(datetime.combine(world.day(1), time(1), tzinfo=UTC))  # less than 24 h before the start
    assert tick() is CampaignStatus.SCHEDULED
    assert tick() is CampaignStatus.SCHEDULED, "a second tick at the same time changes nothing"
    world.clock.set(datetime.combine(campaign.schedule.end_date + timedelta(days=1), time(0), tzinfo=UTC))
    assert tick() is CampaignStatus.ENDED
    assert set(statuses(world, campaign.id).values()) == {DeviceStatus.CAMPAIGN_ENDED}
    campaign_statuses = [e.status for e in world.store.history if e.campaign_id == campaign.id and not e.device_id]
    assert campaign_statuses[0] == "CampaignQueued" and campaign_statuses[-1] == "CampaignEnded"
    assert "CampaignScheduled" in campaign_statuses
