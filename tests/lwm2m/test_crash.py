"""SIGKILL of the server in the middle of a 500-device campaign: after a restart every device finishes exactly once,
no Update is executed twice, and no callback is lost (each status change keeps one event id)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections import Counter
from pathlib import Path

import pytest

from fota.simulator.fleet import Fleet
from tests.conftest import BACKENDS, RunningServer, _stop_and_cleanup, start_server
from tests.lwm2m.harness import (
    TO,
    callback_receiver,
    device_report,
    resilient_template,
    settle,
    watched_campaign,
)

# 500 devices behind a SIGKILL: alone on the machine, or the load is the tests' beside it.
pytestmark = [pytest.mark.slow, pytest.mark.serial]

DEVICES = 500
# A minute per backend: CI runs it on the embedded default; `make soak` runs it on both databases.
CRASH_BACKENDS = [b for b in os.environ.get("FOTA_CRASH_BACKENDS", "sqlite").split(",") if b in BACKENDS]


@pytest.mark.parametrize("backend", CRASH_BACKENDS)
def test_sigkill_mid_campaign_loses_and_repeats_nothing(backend: str, tmp_path: Path) -> None:
    server = start_server(backend, tmp_path)
    try:
        run_crash_scenario(server)
    finally:
        _stop_and_cleanup(server)


def run_crash_scenario(server: RunningServer) -> None:
    account = server.new_account(license_count=DEVICES)
    with callback_receiver() as receiver:
        campaign_id, imeis, start = watched_campaign(server, account, receiver, DEVICES)
        # 500 devices re-register at once after the restart: a block that waits past 5 s behind them is the load of
        # this test, not the crash it is about, so a transfer may take 15 s before the device calls it lost.
        template = resilient_template(server, checkin_interval=5.0, timeout=15.0)
        finished = threading.Event()

        async def scenario() -> None:
            async with Fleet(DEVICES, template, imei_start=start, stagger=0.002) as fleet:
                # Crash while upgrades are under way: some devices done, most not.
                await fleet.wait_for(
                    lambda: sum(d.update_executions for d in fleet.devices) >= DEVICES // 5, 120, "a fifth executed"
                )
                await asyncio.to_thread(server.kill)
                await asyncio.sleep(1.0)
                await asyncio.to_thread(server.restart)
                # Downloads cut by the crash are retried after a back-off on the server's clock: move it along.
                for _ in range(120):
                    if await asyncio.to_thread(all_succeeded):
                        finished.set()
                        break
                    await asyncio.sleep(2.0)
                    await asyncio.to_thread(server.advance, 120)
                assert finished.is_set(), Counter(r["status"] for r in device_report(account, campaign_id).values())
                assert all(d.firmware_version == TO for d in fleet.devices)
                executions = Counter(d.update_executions for d in fleet.devices)
                assert executions == {1: DEVICES}, f"Update executions per device: {executions}"

        def all_succeeded() -> bool:
            return {r["status"] for r in device_report(account, campaign_id).values()} == {"UpgradeSuccess"}

        asyncio.run(scenario())

        settle(server, account.name, campaign_id, imeis, receiver)
        success_events = Counter(
            e["deviceId"]
            for e in receiver.events
            if e["eventType"] == "DeviceStatusChanged" and e["status"] == "UpgradeSuccess"
        )
        success_ids = {e["eventId"] for e in receiver.events if e["status"] == "UpgradeSuccess" and "deviceId" in e}
        assert set(success_events) == set(imeis)
        assert len(success_ids) == DEVICES, "one UpgradeSuccess event (one id) per device"
