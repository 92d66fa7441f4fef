"""A campaign created with Verizon's SDK upgrades simulated LwM2M devices over real CoAP: pull and push, LwM2M 1.0
(TLV) and 1.1 (SenML), only inside the campaign's window, visible in reports, history and signed callbacks."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections import Counter
from datetime import datetime, time, timedelta

import pytest

from fota.simulator.device import DeviceConfig
from fota.simulator.firmware import Delivery
from fota.simulator.fleet import Fleet
from tests.conftest import RunningServer
from tests.lwm2m.harness import (
    FROM,
    MAKE,
    MODEL,
    TO,
    callback_receiver,
    create_campaign_with_sdk,
    device_report,
    provision,
)

# Alone: beside other workers on a loaded 2-core machine the six upgrades outlasted their wait in CI.
pytestmark = [pytest.mark.slow, pytest.mark.serial]

PER_KIND = 2  # devices of each kind: 1.1 pull, 1.1 push-only, 1.0 pull


def test_campaign_upgrades_every_device_only_inside_its_window(private_server: RunningServer) -> None:
    server = private_server
    account = server.new_account()
    firmware, imeis, start = provision(server, account, 3 * PER_KIND)
    now = server.now()
    tomorrow = now.date() + timedelta(days=1)
    window_opens = datetime.combine(tomorrow, time(2), tzinfo=now.tzinfo)

    with callback_receiver() as receiver:
        with account.client() as client:
            assert client.post(f"/callbacks/{account.name}", json={"url": receiver.url}).status_code == 200
        campaign_id = create_campaign_with_sdk(
            account, firmware, imeis, tomorrow, tomorrow + timedelta(days=1), ((2, 6),)
        )

        template = DeviceConfig(
            server=server.coap_url,
            make=MAKE,
            model=MODEL,
            firmware=FROM,
            checkin_interval=1.0,
            awake_seconds=8.0,
            reboot_seconds=0.5,
            lifetime=60,
        )
        kinds = [
            template,
            dataclasses.replace(template, delivery=Delivery.PUSH, max_block_size=256),
            dataclasses.replace(template, lwm2m_version="1.0"),
        ]

        success = threading.Event()

        def watch_report() -> None:
            while not success.is_set():
                if {r["status"] for r in device_report(account, campaign_id).values()} == {"UpgradeSuccess"}:
                    success.set()
                else:
                    stop.wait(0.5)
                if stop.is_set():
                    return

        stop = threading.Event()

        async def scenario() -> None:
            fleets = [Fleet(PER_KIND, kind, imei_start=start + i * PER_KIND) for i, kind in enumerate(kinds)]
            devices = [d for fleet in fleets for d in fleet.devices]
            for fleet in fleets:
                await fleet.start()
            try:
                # Registered and checking in, but the campaign has not started: nothing may happen.
                await fleets[0].wait_for(lambda: all(d.updates >= 2 for d in devices), 30, "two check-ins each")
                assert all(d.update_executions == 0 for d in devices)
                report = await asyncio.to_thread(device_report, account, campaign_id)
                assert {r["status"] for r in report.values()} == {"UpgradePending"}

                # Into the campaign's first day, but before its window: still nothing.
                await asyncio.to_thread(server.set_clock, datetime.combine(tomorrow, time(1), tzinfo=now.tzinfo))
                before = [d.updates for d in devices]
                await fleets[0].wait_for(
                    lambda: all(d.updates >= b + 2 for d, b in zip(devices, before, strict=True)), 30, "check-ins"
                )
                assert all(d.update_executions == 0 for d in devices)

                await asyncio.to_thread(server.set_clock, window_opens)
                watcher = threading.Thread(target=watch_report, daemon=True)
                watcher.start()
                await fleets[0].wait_for(
                    lambda: all(d.firmware_version == TO and d.registered for d in devices),
                    180,
                    "every device on 2.0.0",
                )
                assert [d.update_executions for d in devices] == [1] * len(devices)
                # The devices stay up (and checking in) until the server has seen every one come back.
                await fleets[0].wait_for(lambda: success.is_set(), 60, "every device UpgradeSuccess")
            finally:
                stop.set()
                for fleet in fleets:
                    await fleet.stop()

        asyncio.run(scenario())

        report = device_report(account, campaign_id)
        assert set(report) == set(imeis)
        assert all(r["resultReason"].startswith("Upgrade completed successfully") for r in report.values())
        with account.client() as client:
            listed = client.get(f"/devices/{account.name}").json()["deviceList"]
            assert {d["deviceId"]: d["firmware"] for d in listed} == dict.fromkeys(imeis, TO)
            for imei in imeis:
                history = client.get(f"/reports/{account.name}/devices/{imei}").json()
                steps = [(h["status"], h["reason"]) for h in history if h["campaignId"] == campaign_id]
                assert [s for s, _ in steps] == [
                    "UpgradePending",
                    "UpgradeInProgress",
                    "UpgradeInProgress",
                    "UpgradeInProgress",
                    "UpgradeSuccess",
                ]
                assert [r for _, r in steps[1:4]] == ["Downloading", "Downloaded", "Updating"]
                assert all(
                    h["reportUpdatedTime"] >= window_opens.isoformat()[:19]
                    for h in history[1:]
                    if h["campaignId"] == campaign_id
                )

        # Callbacks: every device's success, each event once, each signed with the account's secret.
        def delivered() -> bool:
            return all(any(e["status"] == "UpgradeSuccess" for e in receiver.device_events(imei)) for imei in imeis)

        deadline = datetime.now().timestamp() + 30
        while not delivered() and datetime.now().timestamp() < deadline:
            server.advance(0)
            asyncio.run(asyncio.sleep(0.2))
        assert delivered()
        assert max(Counter(receiver.ids()).values()) == 1
        secret = server.admin.get(f"/accounts/{account.name}/callback").json()["signingSecret"]
        receiver.verify(secret)
