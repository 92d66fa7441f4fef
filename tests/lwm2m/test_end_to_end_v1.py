"""A v1 upgrade scheduled with Verizon's SDK upgrades simulated LwM2M devices over real CoAP; the v1 status report,
the v3 reports and the v1-shaped callbacks of the `Fota` service all show the outcome."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import datetime, time, timedelta

import pytest
from verizon.models.firmware_upgrade_request import FirmwareUpgradeRequest
from verizon.models.fota_v1_callback_registration_request import FotaV1CallbackRegistrationRequest
from verizon.models.upgrade_status_enum import UpgradeStatusEnum
from verizon.models.v1_licenses_assigned_removed_request import V1LicensesAssignedRemovedRequest

from fota.adapters.storage.database import make_engine
from fota.simulator.device import DeviceConfig
from fota.simulator.fleet import Fleet
from tests.api.sdk_client import sdk_session
from tests.conftest import RunningServer
from tests.lwm2m.harness import FROM, MAKE, MODEL, TO, callback_receiver, device_report, drain_outbox, provision

pytestmark = pytest.mark.slow

DEVICES = 3


@pytest.mark.filterwarnings("ignore::deprecation.DeprecatedWarning")
def test_v1_upgrade_reaches_every_device_and_reports_v1_statuses(private_server: RunningServer) -> None:
    server = private_server
    account = server.new_account()
    firmware, imeis, start = provision(server, account, DEVICES)
    sdk = sdk_session(account)  # made again after each move of the clock: its tokens live an hour of it
    now = server.now()
    tomorrow = now.date() + timedelta(days=1)

    with callback_receiver() as receiver:
        sdk.software_management_callbacks_v1.register_callback(
            account.name,
            FotaV1CallbackRegistrationRequest(name="Fota", url=receiver.url, username="hooks", password="s3cret"),
        )
        sdk.software_management_licenses_v1.assign_licenses_to_devices(
            account.name, V1LicensesAssignedRemovedRequest(imeis)
        )
        upgrade = sdk.firmware_v1.schedule_firmware_upgrade(
            FirmwareUpgradeRequest(
                account_name=account.name,
                firmware_name=firmware["firmwareName"],
                firmware_to=TO,
                start_date=tomorrow,
                end_date=tomorrow,
                device_list=imeis,
            )
        ).body
        upgrade_id = upgrade.id
        assert upgrade.status == "Queued"

        def v1_status() -> str:
            fresh = sdk_session(account)
            return str(fresh.firmware_v1.list_firmware_upgrade_details(account.name, upgrade_id).body.status)

        # Starting within a day, the campaign is laid out (CampaignScheduled) but v1 still says Queued.
        server.advance(0)
        with account.client() as client:
            assert client.get(f"/campaigns/{account.name}/{upgrade_id}").json()["status"] == "CampaignScheduled"
        assert v1_status() == "Queued"

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
        success, stop = threading.Event(), threading.Event()

        def watch_report() -> None:
            while not stop.is_set():
                if {r["status"] for r in device_report(account, upgrade_id).values()} == {"UpgradeSuccess"}:
                    success.set()
                    return
                stop.wait(0.5)

        async def scenario() -> None:
            fleet = Fleet(DEVICES, template, imei_start=start)
            await fleet.start()
            try:
                await fleet.wait_for(lambda: all(d.updates >= 2 for d in fleet.devices), 30, "two check-ins each")
                assert all(d.update_executions == 0 for d in fleet.devices)  # before the start date: nothing
                await asyncio.to_thread(server.set_clock, datetime.combine(tomorrow, time(8), tzinfo=now.tzinfo))
                assert await asyncio.to_thread(v1_status) == "InProgress"
                threading.Thread(target=watch_report, daemon=True).start()
                await fleet.wait_for(
                    lambda: all(d.firmware_version == TO and d.registered for d in fleet.devices), 90, "devices on TO"
                )
                # The devices stay up (and checking in) until the server has seen every one come back.
                await fleet.wait_for(success.is_set, 60, "every device UpgradeSuccess")
            finally:
                stop.set()
                await fleet.stop()

        asyncio.run(scenario())
        sdk = sdk_session(account)

        # Over for every device: Finished before its end date, while v3 still says CampaignScheduled.
        details = sdk.firmware_v1.list_firmware_upgrade_details(account.name, upgrade_id).body
        assert details.status == "Finished"
        assert {d.device_id: d.status for d in details.device_list} == dict.fromkeys(imeis, "UpgradeSuccess")
        with account.client() as client:
            assert client.get(f"/campaigns/{account.name}/{upgrade_id}").json()["status"] == "CampaignScheduled"

        # Past the end date it stays Finished, in the v1 status report as in the upgrade itself.
        server.set_clock(datetime.combine(tomorrow + timedelta(days=1), time(1), tzinfo=now.tzinfo))
        sdk = sdk_session(account)
        finished = sdk.software_management_reports_v1.list_upgrades_for_specified_status(
            account.name, UpgradeStatusEnum.FINISHED, "0"
        ).body
        [reported] = finished.report_list
        assert (reported.id, reported.status) == (upgrade_id, "Finished")
        assert {d.status for d in reported.device_list} == {"UpgradeSuccess"}
        for imei in imeis:
            [item] = sdk.software_management_reports_v1.get_device_firmware_upgrade_history(account.name, imei).body
            assert (item.id, item.status, item.firmware_to) == (upgrade_id, "UpgradeSuccess", TO)
            assert item.upgrade_start_time >= f"{tomorrow.isoformat()}T08:00"

        # Callbacks: v1 messages, each once, with the registration's credentials echoed; every upgrade status
        # announced once, the end date adding nothing after the last device's success.
        engine = make_engine(server.database_url)
        try:
            drain_outbox(engine, account.name, server)
        finally:
            engine.dispose()
        with receiver.lock:
            events = list(receiver.events)
        assert max(Counter(receiver.ids()).values()) == 1
        assert {(e["accountName"], e["username"], e["password"]) for e in events} == {(account.name, "hooks", "s3cret")}
        upgrade_parts = [e[e["type"]] for e in events if e["type"] in ("upgradeScheduled", "upgradeStatus")]
        statuses = [p["status"] for p in sorted(upgrade_parts, key=lambda p: p["time"])]
        # Devices starting at the same moment in separate transactions may each announce InProgress; the upgrade's
        # other statuses are announced exactly once.
        assert [s for i, s in enumerate(statuses) if i == 0 or s != statuses[i - 1]] == [
            "Queued",
            "InProgress",
            "Finished",
        ]
        assert Counter(statuses)["Queued"] == Counter(statuses)["Finished"] == 1
        [scheduled] = [e for e in events if e["type"] == "upgradeScheduled"]
        assert scheduled["upgradeScheduled"] == {
            **scheduled["upgradeScheduled"],
            "upgradeId": upgrade_id,
            "firmwareName": firmware["firmwareName"],
            "firmwareTo": TO,
            "startDate": tomorrow.isoformat(),
            "status": "Queued",
        }
        assert scheduled["upgradeStatus"] == {} and scheduled["upgradeProgress"] == {}
        progress = [e["upgradeProgress"] for e in events if e["type"] == "upgradeProgress"]
        assert {p["upgradeId"] for p in progress} == {upgrade_id}
        assert {p["deviceId"] for p in progress if p["status"] == "UpgradeSuccess"} == set(imeis)
        assert {p["status"] for p in progress} == {"UpgradePending", "UpgradeInProgress", "UpgradeSuccess"}
        secret = server.admin.get(f"/accounts/{account.name}/callback").json()["signingSecret"]
        receiver.verify(secret)
