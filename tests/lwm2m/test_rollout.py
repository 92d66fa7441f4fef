"""Staged rollouts over real LwM2M devices on the simulated clock (issue 13's acceptance): a canary, a second wave
whose Update failures pause the rollout by themselves while the third wave's devices never see a Package URI or a
block, a resume that carries it to the end, the audit of every step; and the health gate, which keeps the next
wave closed when canary devices fall silent or come back on their old firmware after reporting success."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from fota.simulator.device import DeviceConfig, SimulatedDevice
from fota.simulator.faults import Fault
from fota.simulator.fleet import Fleet
from tests.conftest import BACKENDS, Account, RunningServer, _stop_and_cleanup, start_server
from tests.lwm2m.harness import FROM, MAKE, MODEL, TO, device_report, provision

OFFER_EVENTS = ("download-start", "push-start")


def template(server: RunningServer, *, lifetime: int) -> DeviceConfig:
    return DeviceConfig(
        server=server.coap_url,
        make=MAKE,
        model=MODEL,
        firmware=FROM,
        checkin_interval=1.0,
        awake_seconds=4.0,
        reboot_seconds=0.3,
        lifetime=lifetime,
        transfer_timeout=5.0,
    )


def offered(device: SimulatedDevice) -> bool:
    """Whether the server ever offered the device the package: a write to the Firmware Update object (a Package
    URI or a pushed block) or a download begun."""
    return any(e.kind in OFFER_EVENTS or (e.kind == "write" and e.detail.startswith("(5, ")) for e in device.events)


def create(account: Account, firmware: dict[str, str], imeis: list[str], today: Any, **extra: Any) -> str:
    body = {
        "firmwareName": firmware["firmwareName"],
        "firmwareFrom": FROM,
        "firmwareTo": TO,
        "protocol": "LWM2M",
        "startDate": today.isoformat(),
        "endDate": (today + timedelta(days=5)).isoformat(),
        "deviceList": imeis,
        "autoAssignLicenseFlag": True,
        "autoAddDevicesFlag": False,
        "campaignName": "staged",
        **extra,
    }
    with account.client() as client:
        r = client.post(f"/campaigns/firmware/{account.name}", json=body)
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def rollout(account: Account, campaign_id: str) -> dict[str, Any]:
    with account.client() as client:
        r = client.get(f"/campaigns/{account.name}/{campaign_id}")
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()["rollout"]
    return found


async def until(
    predicate: Callable[[], bool],
    what: str,
    timeout: float = 120.0,
    *,
    passing: RunningServer | None = None,
    seen: Callable[[], object] | None = None,
) -> None:
    """Polls `predicate` until it holds. With `passing`, the server's clock moves PASSING_STEP seconds a round, as a
    fleet's does: a device whose transfer broke (a block lost under load) is retried after its back-off, which a
    stopped clock never reaches. `seen` describes the state for the failure message."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await asyncio.to_thread(predicate):
        if loop.time() >= deadline:
            state = await asyncio.to_thread(seen) if seen is not None else None
            raise AssertionError(f"{what}: not within {timeout:g}s; {state}")
        if passing is not None:
            await asyncio.to_thread(passing.advance, PASSING_STEP)
        await asyncio.sleep(0.3)


# Ten simulated seconds a poll: a minute's retry back-off passes in a few seconds of wall time. The shortest step
# time-out, a start's five minutes, then lasts about fifteen: several times what a start takes, even under load; a
# start that runs past it anyway is retried, as the retry policy below allows.
PASSING_STEP = 10.0


def statuses(account: Account, campaign_id: str, imeis: list[str]) -> list[str]:
    report = device_report(account, campaign_id)
    return [str(report[i]["status"]) for i in imeis]


def tally(account: Account, campaign_id: str, imeis: list[str]) -> Counter[str]:
    return Counter(statuses(account, campaign_id, imeis))


# A hundred devices' upgrades take half a minute: the embedded default by default, both with
# FOTA_ROLLOUT_BACKENDS=sqlite,postgresql. The API behaviour runs on both (tests/api).
ROLLOUT_BACKENDS = [b for b in os.environ.get("FOTA_ROLLOUT_BACKENDS", "sqlite").split(",") if b in BACKENDS]


@pytest.fixture(params=ROLLOUT_BACKENDS)
def fleet_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(request.param, tmp_path)
    yield running
    _stop_and_cleanup(running)


@pytest.mark.slow
@pytest.mark.serial
def test_waves_auto_pause_on_failures_and_resume_to_the_end(fleet_server: RunningServer) -> None:
    server = fleet_server
    account = server.new_account(license_count=100)
    firmware, imeis, start = provision(server, account, 100)
    canary, second, third = imeis[:5], imeis[5:25], imeis[25:]
    failing = set(second[:4])  # 4 of 20: the abort's 20 % and above its minimum of 2
    soak = 60
    campaign_id = create(
        account,
        firmware,
        imeis,
        server.now().date(),
        rollout={
            "waves": [{"name": "canary", "devices": 5}, {"percent": 25}, {"percent": 100}],
            "advance": {"successPercent": 80, "soakMinutes": soak},
            "abort": {"failurePercent": 20, "minFailures": 2},
        },
        # An Update failure is final at once, so that 16 of the 20 is what the second wave ends with; a transfer
        # that breaks under load is retried a minute later, as often as it takes.
        retryPolicy={"maxAttempts": 10, "backoffSeconds": [60], "neverRetry": ["UpdateFailed"]},
    )
    server.advance(0)  # scheduled now: it starts today, any hour

    base = template(server, lifetime=86400)

    async def scenario() -> None:
        fleets = [
            Fleet(
                1,
                dataclasses.replace(base, faults=frozenset({Fault.UPDATE_FAILS}) if imei in failing else frozenset()),
                imei_start=start + index,
            )
            for index, imei in enumerate(imeis)
        ]
        for fleet in fleets:
            await fleet.start()
        devices = {imei: fleet.devices[0] for imei, fleet in zip(imeis, fleets, strict=True)}
        try:
            await until(
                lambda: statuses(account, campaign_id, canary) == ["UpgradeSuccess"] * 5,
                "the canary upgrades",
                passing=server,
                seen=lambda: tally(account, campaign_id, canary),
            )
            assert not any(offered(devices[i]) for i in second + third), "only the canary is offered"
            state = await asyncio.to_thread(rollout, account, campaign_id)
            assert state["currentWave"] == 0 and state["waves"][0]["state"] == "soaking", state

            # The canary soaks; the second wave opens once its hour is over.
            await asyncio.to_thread(server.advance, soak * 60 + 1)
            await until(lambda: rollout(account, campaign_id)["currentWave"] == 1, "the second wave opens")
            await until(lambda: rollout(account, campaign_id)["state"] == "autoPaused", "the failures pause it")
            paused = await asyncio.to_thread(rollout, account, campaign_id)
            assert paused["waves"][1]["failed"] >= 4, paused
            # What was under way finishes; nothing new starts, and the third wave never saw the package.
            await until(
                lambda: all(s not in ("UpgradeInProgress",) for s in statuses(account, campaign_id, second)),
                "the second wave's started devices finish",
            )
            await asyncio.to_thread(server.advance, soak * 60 + 1)
            await asyncio.sleep(3.0)  # several engine ticks and check-ins on the paused rollout
            assert await asyncio.to_thread(rollout, account, campaign_id) | {"waves": None} == paused | {"waves": None}
            assert not any(offered(devices[i]) for i in third), "no device of the third wave was offered anything"
            report = await asyncio.to_thread(device_report, account, campaign_id)
            assert {report[i]["resultReason"] for i in third} == {"Waiting for wave wave-3"}

            # A resume without a reason is refused after an automatic pause; with one it continues.
            with account.client() as client:
                r = client.post(f"/campaigns/{account.name}/{campaign_id}/rollout/resume", json={})
                assert r.status_code == 400, r.text
                r = client.post(
                    f"/campaigns/{account.name}/{campaign_id}/rollout/resume",
                    json={"reason": "the four failures are a known bad batch"},
                )
                assert r.status_code == 200, r.text
            await until(
                lambda: statuses(account, campaign_id, second).count("UpgradeSuccess") == 16,
                "the second wave's held devices upgrade",
                passing=server,
                seen=lambda: tally(account, campaign_id, second),
            )
            if (await asyncio.to_thread(rollout, account, campaign_id))["currentWave"] == 1:
                # They finished after the paused hour, so their soak is still to come. (When they finished before
                # it, the resume opened the third wave at once: an hour's jump now would find its first devices
                # mid-start and time them out, to be retried.)
                await asyncio.to_thread(server.advance, soak * 60 + 1)
            await until(lambda: rollout(account, campaign_id)["currentWave"] == 2, "the third wave opens")
            await until(
                lambda: statuses(account, campaign_id, third) == ["UpgradeSuccess"] * 75,
                "the third wave upgrades",
                timeout=300.0,
                passing=server,
                seen=lambda: tally(account, campaign_id, third),
            )
            await asyncio.to_thread(server.advance, soak * 60 + 1)
            await until(lambda: rollout(account, campaign_id)["state"] == "completed", "the rollout completes")
            assert all(offered(devices[i]) for i in third)
            assert sum(devices[i].update_executions for i in imeis) == 100
        finally:
            for fleet in fleets:
                await fleet.stop()

    asyncio.run(scenario())

    with account.client() as client:
        entries = client.get(f"/campaigns/{account.name}/{campaign_id}/audit").json()
    steps = [(e["action"], e["actor"]) for e in entries]
    assert steps == [
        ("advance", "fota"),
        ("autoPause", "fota"),
        ("resume", account.username),
        ("advance", "fota"),
        ("complete", "fota"),
    ], entries
    assert entries[1]["reason"].startswith("wave-2: 4 of 20 devices failed or are unhealthy"), entries[1]
    assert entries[2]["reason"] == "the four failures are a known bad batch"
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    final = rollout(account, campaign_id)
    assert [(w["devices"], w["succeeded"], w["failed"], w["state"]) for w in final["waves"]] == [
        (5, 5, 0, "done"),
        (20, 16, 4, "done"),
        (75, 75, 0, "done"),
    ]


@pytest.mark.slow
def test_unhealthy_canary_devices_keep_the_next_wave_closed(private_server: RunningServer) -> None:
    server = private_server
    account = server.new_account(license_count=10)
    firmware, imeis, start = provision(server, account, 6)
    canary, rest = imeis[:2], imeis[2:]
    lifetime = 300
    campaign_id = create(
        account,
        firmware,
        imeis,
        server.now().date(),
        rollout={
            "waves": [{"name": "canary", "devices": 2}, {"percent": 100}],
            "advance": {"successPercent": 50, "soakMinutes": 60},
            # High enough that the gate, not the abort rule, is what holds the next wave.
            "abort": {"failurePercent": 100, "minFailures": 10},
        },
    )
    server.advance(0)
    base = template(server, lifetime=lifetime)

    async def scenario() -> None:
        canary_fleet = Fleet(2, base, imei_start=start)
        others = Fleet(4, base, imei_start=start + 2)
        await canary_fleet.start()
        await others.start()
        comeback: Fleet | None = None
        try:
            await until(lambda: statuses(account, campaign_id, canary) == ["UpgradeSuccess"] * 2, "canary upgrades")
            # Both canaries go quiet without deregistering; one of them comes back on the old firmware.
            for device in canary_fleet.devices:
                await device.stop(deregister=False)
            # A minute later (a rollback is a reboot after the success, never the same instant), within the lifetime.
            await asyncio.to_thread(server.advance, 60)
            comeback = Fleet(1, dataclasses.replace(base, firmware=FROM), imei_start=start + 1)
            await comeback.start()
            await until(lambda: rollout(account, campaign_id)["waves"][0]["unhealthy"] == 1, "a rollback is seen")
            # The other stays silent past its lifetime, within its soak.
            await asyncio.to_thread(server.advance, lifetime + 60)
            await until(lambda: rollout(account, campaign_id)["waves"][0]["unhealthy"] == 2, "the silence is seen")
            await asyncio.to_thread(server.advance, 3600)
            await asyncio.sleep(3.0)  # engine ticks past the soak's end
            state = await asyncio.to_thread(rollout, account, campaign_id)
            assert state["currentWave"] == 0 and state["state"] == "running", state
            assert state["waves"][0] | {"name": None} == {
                "name": None,
                "devices": 2,
                "succeeded": 0,
                "failed": 0,
                "unhealthy": 2,
                "state": "open",
            }
            assert state["waves"][1]["state"] == "waiting"
            assert not any(offered(d) for d in others.devices), "the next wave stays closed"
            report = await asyncio.to_thread(device_report, account, campaign_id)
            assert {report[i]["resultReason"] for i in rest} == {"Waiting for wave wave-2"}
        finally:
            for fleet in (canary_fleet, others, comeback):
                if fleet is not None:
                    await fleet.stop()

    asyncio.run(scenario())
    with account.client() as client:
        entries = client.get(f"/campaigns/{account.name}/{campaign_id}/audit").json()
    assert sorted(e["detail"]["health"] for e in entries if e["action"] == "unhealthy") == ["rolledBack", "silent"]
    assert not any(e["action"] == "advance" for e in entries)
