"""Admission under saturation, over real CoAP on loopback: a server held to two download places and a fleet that
checks in far more often than it can start upgrades. Downloads under way keep their places and finish, new starts
wait in line (or for the next check-in) and never take a place mid-download, and in the end every device upgrades.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest

from fota.simulator.device import DeviceConfig
from fota.simulator.fleet import Fleet
from tests.conftest import BACKENDS, RunningServer, _stop_and_cleanup, start_server
from tests.lwm2m.harness import FROM, MAKE, MODEL, TO, create_campaign_with_sdk, device_report, provision
from tests.observability.scrape import Samples, scrape, value

PLACES = 2
DEVICES = 12


@pytest.fixture(params=BACKENDS)
def narrow_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(request.param, tmp_path, "--max-downloads", str(PLACES))
    yield running
    _stop_and_cleanup(running)


def test_a_flood_of_check_ins_never_stalls_downloads_under_way(narrow_server: RunningServer) -> None:
    server = narrow_server
    account = server.new_account()
    # 128 blocks of 512 bytes a device: each download outlasts the check-ins that arrive meanwhile.
    firmware, imeis, start = provision(server, account, DEVICES, image_size=64 * 1024)
    now = server.now()
    tomorrow = now.date() + timedelta(days=1)
    opening = datetime.combine(tomorrow, time(2), tzinfo=now.tzinfo)
    campaign_id = create_campaign_with_sdk(account, firmware, imeis, tomorrow, tomorrow + timedelta(days=1), ((2, 6),))
    server.set_clock(opening - timedelta(seconds=30))  # Scheduled, window still closed
    template = DeviceConfig(
        server=server.coap_url,
        make=MAKE,
        model=MODEL,
        firmware=FROM,
        checkin_interval=0.3,  # the flood: every device knocks several times during each download
        awake_seconds=8.0,
        reboot_seconds=0.5,
        lifetime=120,
        request_timeout=30.0,
        transfer_timeout=60.0,
    )
    samples: list[Samples] = []

    def all_succeeded() -> bool:
        return {r["status"] for r in device_report(account, campaign_id).values()} == {"UpgradeSuccess"}

    async def sample_metrics() -> None:
        while True:
            samples.append(await asyncio.to_thread(scrape, server))
            await asyncio.sleep(0.1)

    async def scenario() -> None:
        fleet = Fleet(DEVICES, dataclasses.replace(template), imei_start=start, stagger=0.002)
        await fleet.start()
        sampling = asyncio.create_task(sample_metrics())
        try:
            await fleet.wait_all(lambda d: d.updates >= 2, 60, "two check-ins each")
            await asyncio.to_thread(server.set_clock, opening)
            # Saturated: with two places and a dozen devices, starts queue while the first downloads run.
            await fleet.wait_for(
                lambda: any(_waited(s) for s in samples), 60, "upgrade starts waiting for a download place"
            )
            await fleet.wait_all(lambda d: d.firmware_version == TO and d.registered, 240, "every device on 2.0.0")
            await _eventually(all_succeeded, 60, "every device reported UpgradeSuccess")
        finally:
            sampling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampling
            await fleet.stop()
        assert [d.update_executions for d in fleet.devices] == [1] * DEVICES
        # A download, once under way, was never told to come back later, nor broken off.
        for device in fleet.devices:
            kinds = [e.kind for e in device.events]
            assert "download-busy" not in kinds, device.events
            assert "download-failed" not in kinds, device.events
            assert kinds.count("download-done") == 1, device.events

    asyncio.run(scenario())
    assert max(value(s, "fota_downloads_active") for s in samples) <= PLACES
    assert {value(s, "fota_download_limit") for s in samples} == {PLACES}  # the ceiling is --max-downloads
    final = scrape(server)
    assert value(final, "fota_downloads_total", transport="coap") == DEVICES
    assert value(final, "fota_downloads_refused_total", transport="coap") == 0


def _waited(samples: Samples) -> bool:
    return (
        value(samples, "fota_download_starts_waiting") > 0 or value(samples, "fota_download_starts_deferred_total") > 0
    )


async def _eventually(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await asyncio.to_thread(condition):
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.5)
