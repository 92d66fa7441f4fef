"""The bandwidth budget's use cases on the fake unit of work: admission in the claim (a device the hour cannot carry
stays pending until the next hour, no attempt spent), the download's reservations and their hand-over of the start
grant, the serving process's allowances (blocks from them touch no counter), and pruning old counters."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from fota.adapters.delivery.budget import DownloadBudget
from fota.domain.bandwidth import BandwidthBudget, BudgetWait, Grant
from fota.domain.statuses import DeviceStatus
from fota.domain.upgrade import Assignment, UpgradePolicy
from fota.services import bandwidth, campaigns, engine, upgrades
from fota.services.ports import DownloadLink
from tests.unit.services.conftest import ACCOUNT, FIRMWARE, World, world_with

IMAGE = 3000
POLICY = UpgradePolicy()


def scheduled(world: World, budget: BandwidthBudget | None) -> str:
    """A campaign of the world's devices, live from tomorrow 09:10 (the clock is set there)."""
    world.store.firmware[FIRMWARE] = replace(world.store.firmware[FIRMWARE], image_size=IMAGE)
    request = replace(world.request(world.devices, start=1, end=3), bandwidth=budget)
    campaign = campaigns.create_campaign(
        uow=world.uow_factory(), clock=world.clock, account_name=ACCOUNT, request=request, signing_required=False
    )
    world.clock.set(datetime.combine(world.day(1), time(9, 10), tzinfo=UTC))
    engine.tick(uow_factory=world.uow_factory, clock=world.clock)
    return campaign.id


def assignment(campaign_id: str) -> Assignment:
    return Assignment(
        campaign_id, ACCOUNT, FIRMWARE, "2.0", step=None, attempts=0, delivery=None, update_executed=False
    )


def claim(world: World, campaign_id: str, devices: list[str]) -> list[bool]:
    claims = [(assignment(campaign_id), d) for d in devices]
    return upgrades.claim_many(uow=world.uow_factory(), clock=world.clock, policy=POLICY, claims=claims)


def hour(world: World, offset: int = 0) -> datetime:
    return world.clock.now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=offset)


@pytest.fixture
def world() -> World:
    return world_with(license_count=5, device_count=4)


def test_a_start_the_hour_cannot_carry_waits_for_the_next_hour_without_an_attempt(world: World) -> None:
    campaign_id = scheduled(world, BandwidthBudget(5000))
    nine, ten = hour(world), hour(world, 1)
    assert claim(world, campaign_id, world.devices) == [True, False, False, False]
    assert world.store.bandwidth == {(campaign_id, nine): IMAGE}, "the refusal stops the batch's reservations"
    assert world.store.start_grants == {(campaign_id, world.devices[0]): nine}
    rows = [world.store.campaign_devices[(campaign_id, d)] for d in world.devices]
    assert rows[0].status is DeviceStatus.IN_PROGRESS and rows[0].attempts == 1
    reason = BandwidthBudget(5000).wait(world.clock.now()).reason
    for row in rows[1:]:
        assert (row.status, row.reason, row.next_attempt_at, row.attempts) == (DeviceStatus.PENDING, reason, ten, 0)
    waits = [e for e in world.store.history if e.device_id in world.devices[1:]]
    assert [(e.status, e.reason) for e in waits][-3:] == [("UpgradePending", reason)] * 3

    # Later in the hour nothing is due: no claim, no counter statement, no history.
    world.clock.advance(20 * 60)
    history = len(world.store.history)
    assert claim(world, campaign_id, world.devices[1:]) == [False, False, False]
    assert world.store.bandwidth == {(campaign_id, nine): IMAGE} and len(world.store.history) == history

    # At ten the next device is admitted; a claim that loses its race gives its reservation back.
    world.clock.set(ten)
    assert claim(world, campaign_id, [world.devices[0], world.devices[1]]) == [False, True]
    assert world.store.bandwidth[(campaign_id, ten)] == IMAGE


def test_an_image_larger_than_the_budget_is_admitted_with_one_hour_of_it(world: World) -> None:
    campaign_id = scheduled(world, BandwidthBudget(2048))
    assert claim(world, campaign_id, world.devices[:2]) == [True, False]
    assert world.store.bandwidth == {(campaign_id, hour(world)): 2048}


def test_a_campaign_without_a_budget_does_no_budget_work(world: World) -> None:
    campaign_id = scheduled(world, None)
    assert claim(world, campaign_id, world.devices) == [True] * 4
    assert world.store.bandwidth == {} and world.store.start_grants == {}


def link(campaign_id: str, device_id: str, budget: BandwidthBudget, now: datetime) -> DownloadLink:
    return DownloadLink(device_id, campaign_id, FIRMWARE, now, now + timedelta(days=1), budget)


def test_the_first_reservation_takes_over_the_start_grant_of_its_hour(world: World) -> None:
    budget = BandwidthBudget(5000)
    campaign_id = scheduled(world, budget)
    claim(world, campaign_id, world.devices[:1])
    download = link(campaign_id, world.devices[0], budget, world.clock.now())

    def reserve(remaining: int, first: bool) -> Grant | BudgetWait:
        return bandwidth.reserve_for_download(
            uow=world.uow_factory(),
            clock=world.clock,
            link=download,
            remaining=remaining,
            image_size=IMAGE,
            first=first,
        )

    assert reserve(IMAGE, True) == Grant(IMAGE, hour(world))
    assert world.store.bandwidth == {(campaign_id, hour(world)): IMAGE}, "taken over, not counted again"
    # Another process's first reservation finds the grant taken: it reserves, and the hour has 2000 bytes left.
    assert isinstance(reserve(IMAGE, True), BudgetWait)
    assert reserve(2000, False) == Grant(2000, hour(world))
    assert world.store.bandwidth == {(campaign_id, hour(world)): 5000}
    wait = reserve(1, False)
    assert isinstance(wait, BudgetWait) and wait.until == hour(world, 1) and wait.max_age == 50 * 60
    # In the next hour a resumed download reserves the rest of its image from where it is.
    world.clock.set(hour(world, 1))
    assert reserve(1000, False) == Grant(1000, hour(world))


def test_a_start_grant_of_an_earlier_hour_is_not_taken_over(world: World) -> None:
    budget = BandwidthBudget(5000)
    campaign_id = scheduled(world, budget)
    claim(world, campaign_id, world.devices[:1])
    world.clock.set(hour(world, 1))
    download = link(campaign_id, world.devices[0], budget, world.clock.now())
    granted = bandwidth.reserve_for_download(
        uow=world.uow_factory(), clock=world.clock, link=download, remaining=IMAGE, image_size=IMAGE, first=True
    )
    assert granted == Grant(IMAGE, hour(world))
    assert world.store.bandwidth[(campaign_id, hour(world))] == IMAGE


def test_blocks_from_an_allowance_touch_no_counter(world: World) -> None:
    budget = BandwidthBudget(2048)
    campaign_id = scheduled(world, budget)
    claim(world, campaign_id, world.devices[:1])
    download = link(campaign_id, world.devices[0], budget, world.clock.now())
    services: Any = SimpleNamespace(uow=world.uow_factory, clock=world.clock, simulated_clock=None)
    held = DownloadBudget(services)

    def send(offset: int, size: int = 1024) -> BudgetWait | None:
        return asyncio.run(held.clear("token", download, offset=offset, size=size, total=IMAGE))

    commits = world.store.commits
    assert send(0) is None  # takes the start grant over: one statement
    assert world.store.commits == commits + 1
    assert send(1024) is None  # from the allowance: nothing
    assert world.store.commits == commits + 1
    wait = send(2048, IMAGE - 2048)  # the hour's 2048 bytes are spent
    assert isinstance(wait, BudgetWait) and wait.max_age == 50 * 60
    assert world.store.bandwidth == {(campaign_id, hour(world)): 2048}
    world.clock.set(hour(world, 1))
    assert send(2048, IMAGE - 2048) is None
    assert world.store.bandwidth[(campaign_id, hour(world))] == IMAGE - 2048


def test_a_download_without_a_budget_does_no_budget_work(world: World) -> None:
    campaign_id = scheduled(world, None)
    download = replace(link(campaign_id, world.devices[0], BandwidthBudget(2048), world.clock.now()), bandwidth=None)
    services: Any = SimpleNamespace(uow=None, clock=None, simulated_clock=None)  # touched, they would fail
    held = DownloadBudget(services)
    commits = world.store.commits
    for offset in range(0, IMAGE, 1024):
        assert asyncio.run(held.clear("token", download, offset=offset, size=1024, total=IMAGE)) is None
    assert world.store.commits == commits and world.store.bandwidth == {}


def test_counters_older_than_a_day_are_pruned(world: World) -> None:
    world.store.bandwidth = {("c", hour(world, -25)): 1, ("c", hour(world, -24)): 2, ("c", hour(world)): 3}
    assert bandwidth.prune(uow_factory=world.uow_factory, clock=world.clock) == 1
    assert world.store.bandwidth == {("c", hour(world, -24)): 2, ("c", hour(world)): 3}
