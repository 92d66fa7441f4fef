"""Device-local windows and blackouts over real LwM2M devices on loopback UDP: in one `windowZone: device` campaign
with a 02:00-06:00 window, devices in Los Angeles, Berlin and Kolkata each start only inside their own local
window, across the 2031 US and EU spring-forward and fall-back days (the skipped hour, the repeated hour open on
its first pass only); and no device starts in a blackout until the audited override lets it."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from fota.simulator.device import DeviceConfig
from fota.simulator.fleet import Fleet
from tests.api.test_validation import assert_error
from tests.conftest import BACKENDS, Account, RunningServer, _stop_and_cleanup, start_server
from tests.lwm2m.harness import FROM, MAKE, MODEL, TO, device_report, provision

LOS_ANGELES, BERLIN, KOLKATA = "America/Los_Angeles", "Europe/Berlin", "Asia/Kolkata"

pytestmark = [pytest.mark.slow, pytest.mark.serial]

# Half a minute of real check-ins per backend: the embedded default by default, both with
# FOTA_WINDOWS_BACKENDS=sqlite,postgresql (`make soak`). The API behaviour runs on both (tests/api).
WINDOWS_BACKENDS = [b for b in os.environ.get("FOTA_WINDOWS_BACKENDS", "sqlite").split(",") if b in BACKENDS]


@pytest.fixture(params=WINDOWS_BACKENDS)
def private_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(request.param, tmp_path)
    yield running
    _stop_and_cleanup(running)


def utc(month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(2031, month, day, hour, minute, tzinfo=UTC)


def template(server: RunningServer) -> DeviceConfig:
    return DeviceConfig(
        server=server.coap_url,
        make=MAKE,
        model=MODEL,
        firmware=FROM,
        checkin_interval=0.3,
        awake_seconds=3.0,
        reboot_seconds=0.2,
        lifetime=3600,
        transfer_timeout=5.0,
        register_retry=0.3,
    )


def create_campaign(account: Account, firmware: dict[str, str], imeis: list[str], **extra: Any) -> str:
    body = {
        "firmwareName": firmware["firmwareName"],
        "firmwareFrom": FROM,
        "firmwareTo": TO,
        "protocol": "LWM2M",
        "startDate": "2031-03-08",
        "endDate": "2031-11-30",
        "deviceList": imeis,
        "autoAssignLicenseFlag": True,
        "autoAddDevicesFlag": False,
        "campaignName": "device-local windows",
        **extra,
    }
    with account.client() as client:
        r = client.post(f"/campaigns/firmware/{account.name}", json=body)
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def started(account: Account, imei: str) -> bool:
    """The device began an attempt: its history has an UpgradeInProgress entry (a later time-out cannot undo it)."""
    with account.client() as client:
        history = client.get(f"/reports/{account.name}/devices/{imei}").json()
    return any(h["status"] == "UpgradeInProgress" for h in history)


async def until(predicate: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await asyncio.to_thread(predicate):
        assert loop.time() < deadline, what
        await asyncio.sleep(0.1)


async def check_ins(fleets: list[Fleet], count: int = 2) -> None:
    """`count` more registrations or updates from every device: each asked for work that often, at this time."""
    devices = [d for fleet in fleets for d in fleet.devices]
    seen = [d.registrations + d.updates for d in devices]

    def done() -> bool:
        return all(d.registrations + d.updates >= s + count for d, s in zip(devices, seen, strict=True))

    await fleets[0].wait_for(done, 30.0, f"{count} check-ins of every device")


def test_each_device_starts_only_inside_its_own_local_window_across_dst_changes(
    private_server: RunningServer,
) -> None:
    server = private_server
    server.set_clock(utc(3, 8, 0, 0))
    account = server.new_account()
    firmware, imeis, _ = provision(server, account, 9, image_size=1024)
    # Los Angeles and Berlin from the administration; Kolkata from the device's own /3/0/15 at registration.
    zones = [LOS_ANGELES, BERLIN, KOLKATA, LOS_ANGELES, BERLIN, BERLIN, LOS_ANGELES]
    la1, berlin1, kolkata1, la2, berlin2, berlin3, la3 = imeis[:7]
    for imei, zone in zip(imeis, zones, strict=False):
        if zone != KOLKATA:
            r = server.admin.patch(f"/accounts/{account.name}/devices/{imei}", json={"timeZone": zone})
            assert r.status_code == 200, r.text
    campaign_id = create_campaign(
        account, firmware, imeis[:7], campaignTimeWindowList=[{"startTime": 2, "endTime": 6}], windowZone="device"
    )
    fleets: dict[str, Fleet] = {}

    def upgraded(imei: str) -> bool:
        return bool(device_report(account, campaign_id)[imei]["status"] == "UpgradeSuccess")

    async def bring_up(*members: str) -> list[Fleet]:
        for imei in members:
            reported = KOLKATA if imei == kolkata1 else None
            fleets[imei] = Fleet(1, dataclasses.replace(template(server), time_zone=reported), imei_start=int(imei))
            await fleets[imei].start()
        return [fleets[i] for i in members]

    async def at(instant: datetime, *, starting: tuple[str, ...] = (), waiting: tuple[str, ...] = ()) -> None:
        """At `instant` exactly the `starting` devices begin their upgrade; the `waiting` ones, asked as often, not."""
        await asyncio.to_thread(server.set_clock, instant)
        for imei in starting:
            await until(partial(started, account, imei), f"{imei} starts at {instant}")
            await until(partial(upgraded, imei), f"{imei} upgrades at {instant}")
        if waiting:
            await check_ins([fleets[i] for i in waiting], 2)
        for imei in waiting:
            assert not await asyncio.to_thread(started, account, imei), f"{imei} started at {instant}"

    async def scenario() -> None:
        try:
            # US spring-forward, 9 March: 02:00 PST jumps to 03:00 PDT at 10:00 UTC.
            await asyncio.to_thread(server.set_clock, utc(3, 9, 9, 30))  # 01:30 PST, 10:30 CET, 15:00 IST
            await bring_up(la1, berlin1, kolkata1)
            await at(utc(3, 9, 9, 30), waiting=(la1, berlin1, kolkata1))
            r = server.admin.get(f"/accounts/{account.name}/devices/{kolkata1}")
            assert (r.json()["timeZone"], r.json()["timeZoneSource"]) == (KOLKATA, "device")
            await at(utc(3, 9, 12, 30), starting=(la1,), waiting=(berlin1, kolkata1))  # 05:30 PDT
            await bring_up(la2)
            await at(utc(3, 9, 13, 30), waiting=(la2, berlin1, kolkata1))  # 06:30 PDT (05:30 in PST: not open)
            await at(utc(3, 9, 21, 0), starting=(kolkata1,), waiting=(la2, berlin1))  # 02:30 IST on the 10th

            # EU spring-forward, 30 March: 02:00 CET jumps to 03:00 CEST at 01:00 UTC.
            await at(utc(3, 30, 0, 30), waiting=(berlin1, la2))  # 01:30 CET (02:30 in CEST: not open)
            await at(utc(3, 30, 3, 30), starting=(berlin1,), waiting=(la2,))  # 05:30 CEST
            await bring_up(berlin2)
            await at(utc(3, 30, 4, 30), waiting=(berlin2, la2))  # 06:30 CEST (05:30 in CET: not open)
            await at(utc(3, 30, 9, 30), starting=(la2,), waiting=(berlin2,))  # 02:30 PDT

            # EU fall-back, 26 October: 03:00 CEST goes back to 02:00 CET at 01:00 UTC; 02:xx comes twice.
            await at(utc(10, 26, 0, 30), starting=(berlin2,))  # 02:30 CEST, the first pass
            await bring_up(berlin3)
            await at(utc(10, 26, 1, 30), waiting=(berlin3,))  # 02:30 CET, the second pass: not open again
            await at(utc(10, 26, 2, 30), starting=(berlin3,))  # 03:30 CET

            # US fall-back, 2 November: 02:00 PDT goes back to 01:00 PST at 09:00 UTC.
            await bring_up(la3)
            await at(utc(11, 2, 9, 30), waiting=(la3,))  # 01:30 PST (02:30 in PDT: not open)
            await at(utc(11, 2, 10, 30), starting=(la3,))  # 02:30 PST
        finally:
            for fleet in fleets.values():
                await fleet.stop()

    asyncio.run(scenario())
    assert all(row["status"] == "UpgradeSuccess" for row in device_report(account, campaign_id).values())


def test_no_device_starts_in_a_blackout_until_the_override(private_server: RunningServer) -> None:
    server = private_server
    server.set_clock(utc(3, 8, 0, 0))
    account = server.new_account()
    firmware, imeis, start = provision(server, account, 1, image_size=1024)
    (imei,) = imeis
    blackout = {"from": "2031-03-08T12:00", "to": "2031-03-10T00:00", "reason": "release freeze"}
    campaign_id = create_campaign(account, firmware, imeis, timeZone=BERLIN, blackouts=[blackout])
    fleet = Fleet(1, template(server), imei_start=start)

    async def scenario() -> None:
        await asyncio.to_thread(server.set_clock, utc(3, 9, 10, 0))  # inside the blackout, any hour
        await fleet.start()
        try:
            await check_ins([fleet], 3)
            assert not await asyncio.to_thread(started, account, imei)
            row = (await asyncio.to_thread(device_report, account, campaign_id))[imei]
            assert (row["status"], row["resultReason"]) == (
                "UpgradePending",
                "in a blackout until 2031-03-10T00:00: release freeze",
            )
            assert row["nextAttemptTime"].startswith("2031-03-09T23:00:00")  # midnight in Berlin

            override = f"/campaigns/{account.name}/{campaign_id}/blackouts/override"
            with account.client() as client:
                assert_error(client.post(override, json={"until": "2031-03-09T18:00"}), 400)
                await check_ins([fleet], 2)
                assert not await asyncio.to_thread(started, account, imei)
                r = client.post(override, json={"until": "2031-03-09T18:00", "reason": "the fix must ship"})
                assert r.status_code == 200, r.text
            await until(lambda: started(account, imei), "the device starts after the override")
            await until(lambda: device_report(account, campaign_id)[imei]["status"] == "UpgradeSuccess", "upgrade")
        finally:
            await fleet.stop()

    asyncio.run(scenario())
