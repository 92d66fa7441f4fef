"""A campaign's bandwidth budget over real CoAP on loopback: with N bytes per hour the package bytes the simulated
devices receive in each simulated clock hour never exceed N; devices the hour cannot carry wait as UpgradePending
with the budget's reason and start in a later hour; a download that outgrows its hour gets 5.03 with Max-Age to the
next hour and finishes in it. One server, on each database."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta

import pytest

from fota.simulator.firmware import Delivery
from fota.simulator.fleet import Fleet
from tests.conftest import RunningServer
from tests.lwm2m.bandwidth_scenario import budget_campaign, counters, nine_tomorrow, template, until, walk_hours
from tests.lwm2m.harness import device_report, provision

IMAGE = 4096
DEVICES = 7
BUDGET = 3 * IMAGE + 1000  # three images an hour, and not a fourth


@pytest.mark.slow
def test_the_bytes_served_per_hour_never_exceed_the_budget(private_server: RunningServer) -> None:
    server = private_server
    account = server.new_account()
    firmware, imeis, start = provision(server, account, DEVICES, image_size=IMAGE)
    nine = nine_tomorrow(server)
    campaign_id = budget_campaign(account, firmware, imeis, nine.date(), BUDGET)
    server.set_clock(nine + timedelta(minutes=10))

    async def scenario() -> dict[datetime, int]:
        async with Fleet(DEVICES, template(server.coap_url), imei_start=start) as fleet:
            return await walk_hours(
                server,
                account,
                campaign_id,
                fleet.devices,
                first_hour=nine,
                bytes_per_hour=BUDGET,
                image_size=IMAGE,
            )

    received = asyncio.run(scenario())
    hours = [nine + timedelta(hours=i) for i in range(3)]
    assert received == dict(zip(hours, [3 * IMAGE, 3 * IMAGE, IMAGE], strict=True))
    assert max(received.values()) <= BUDGET
    # What was reserved is what was sent: the claims' start grants were taken over by the first blocks.
    assert counters(server.database_url, campaign_id) == received
    report = device_report(account, campaign_id)
    assert {r["status"] for r in report.values()} == {"UpgradeSuccess"}


@pytest.mark.slow
def test_a_download_larger_than_the_hour_waits_with_max_age_and_finishes_in_the_next(
    private_server: RunningServer,
) -> None:
    server = private_server
    account = server.new_account()
    image = 3000
    budget = 2048  # the admission grants four of the 512-byte blocks the devices ask for; the fifth waits
    firmware, imeis, start = provision(server, account, 1, image_size=image)
    nine = nine_tomorrow(server)
    campaign_id = budget_campaign(account, firmware, imeis, nine.date(), budget)
    server.set_clock(nine + timedelta(minutes=59, seconds=58))

    async def scenario() -> tuple[str, int, int]:
        async with Fleet(1, template(server.coap_url), imei_start=start) as fleet:
            device = fleet.devices[0]
            await until(lambda: bool(device.events_of("download-busy")), "the fifth block is refused")
            busy = device.events_of("download-busy")[0].detail
            in_first_hour = device.package_bytes_received
            await asyncio.to_thread(server.set_clock, nine + timedelta(hours=1, seconds=30))
            await until(lambda: device_report(account, campaign_id)[imeis[0]]["status"] == "UpgradeSuccess", "done")
            return busy, in_first_hour, device.package_bytes_received

    busy, in_first_hour, in_all = asyncio.run(scenario())
    assert busy == "5.03 at block 4; retrying in 2s", "Max-Age: the seconds to the next hour"
    assert (in_first_hour, in_all) == (budget, image)
    ten = nine + timedelta(hours=1)
    assert counters(server.database_url, campaign_id) == {nine: budget, ten: image - budget}


@pytest.mark.slow
def test_pushed_images_keep_to_the_budget_too(private_server: RunningServer) -> None:
    server = private_server
    account = server.new_account()
    firmware, imeis, start = provision(server, account, 3, image_size=IMAGE)
    nine = nine_tomorrow(server)
    budget = 2 * IMAGE + 100
    campaign_id = budget_campaign(account, firmware, imeis, nine.date(), budget)
    server.set_clock(nine + timedelta(minutes=10))
    push_only = dataclasses.replace(template(server.coap_url), delivery=Delivery.PUSH)

    async def scenario() -> dict[datetime, int]:
        async with Fleet(3, push_only, imei_start=start) as fleet:
            received = await walk_hours(
                server, account, campaign_id, fleet.devices, first_hour=nine, bytes_per_hour=budget, image_size=IMAGE
            )
            assert all(device.events_of("push-done") for device in fleet.devices)
            return received

    received = asyncio.run(scenario())
    assert received == {nine: 2 * IMAGE, nine + timedelta(hours=1): IMAGE}
    assert counters(server.database_url, campaign_id) == received
