"""A campaign's bandwidth budget held by two LwM2M processes on one PostgreSQL database: half the fleet downloads over
real CoAP from each, and still the package bytes the devices receive in each simulated clock hour never exceed the
budget; each hour's reservations, from both processes, sum to what was sent."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from fota.simulator.fleet import Fleet
from tests.conftest import BACKENDS, RunningServer, _postgres_database, _retire
from tests.lwm2m.bandwidth_scenario import budget_campaign, counters, nine_tomorrow, template, walk_hours
from tests.lwm2m.harness import device_report, provision
from tests.multiprocess.test_two_of_each import _spawn, _wait_healthy
from tests.observability.scrape import scrape, value

pytestmark = [
    pytest.mark.slow,
    pytest.mark.serial,  # several processes: alone on the machine
    pytest.mark.skipif("postgresql" not in BACKENDS, reason="several processes need PostgreSQL"),
]

IMAGE = 4096
DEVICES = 8  # half at each LwM2M process
BUDGET = 3 * IMAGE + 1000


@dataclasses.dataclass
class Deployment:
    api: RunningServer
    lwm2m: list[RunningServer]
    database_url: str


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    name, database_url = _postgres_database()
    admin_token = secrets.token_urlsafe(24)
    started: list[RunningServer] = []
    try:
        api = _spawn("api", database_url, admin_token, tmp_path, 0, None)
        started.append(api)
        started += [_spawn("lwm2m", database_url, admin_token, tmp_path, i, api.base_url) for i in range(2)]
        deadline = time.monotonic() + 90
        for server in started:
            _wait_healthy(server, deadline)
        yield Deployment(api, started[1:], database_url)
    finally:
        _retire(started, name)


def test_two_lwm2m_processes_keep_to_one_hourly_budget(deployment: Deployment) -> None:
    api = deployment.api
    account = api.new_account(license_count=DEVICES)
    firmware, imeis, start = provision(api, account, DEVICES, image_size=IMAGE)
    nine = nine_tomorrow(api)
    campaign_id = budget_campaign(account, firmware, imeis, nine.date(), BUDGET)
    api.set_clock(nine + timedelta(minutes=10))
    first, second = deployment.lwm2m
    half = DEVICES // 2

    async def scenario() -> dict[datetime, int]:
        fleets = (
            Fleet(half, template(first.coap_url), imei_start=start),
            Fleet(half, template(second.coap_url), imei_start=start + half),
        )
        async with fleets[0] as one, fleets[1] as two:
            return await walk_hours(
                api,
                account,
                campaign_id,
                [*one.devices, *two.devices],
                first_hour=nine,
                bytes_per_hour=BUDGET,
                image_size=IMAGE,
            )

    received = asyncio.run(scenario())
    hours = [nine + timedelta(hours=i) for i in range(3)]
    assert received == dict(zip(hours, [3 * IMAGE, 3 * IMAGE, 2 * IMAGE], strict=True))
    assert max(received.values()) <= BUDGET
    assert counters(deployment.database_url, campaign_id) == received
    assert {r["status"] for r in device_report(account, campaign_id).values()} == {"UpgradeSuccess"}
    served = [value(scrape(server), "fota_download_bytes_total", transport="coap") for server in deployment.lwm2m]
    assert served == [half * IMAGE, half * IMAGE], "each process served its half of the fleet"
