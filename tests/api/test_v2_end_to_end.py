"""End to end through ThingSpace v2: HTTP and LwM2M devices honour a campaign's separate download and install
windows, and a configuration-file campaign delivers the uploaded bytes to HTTP and LwM2M devices.

The server's clock is simulated and moved; simulated HTTP devices poll once per step, and the LwM2M fleet's state is
waited for as a condition, so nothing waits on fixed time.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from datetime import datetime, time, timedelta
from pathlib import Path

from verizon.models.campaign_software_upgrade import CampaignSoftwareUpgrade
from verizon.models.download_time_window import DownloadTimeWindow
from verizon.models.fota_v2_callback_registration_request import FotaV2CallbackRegistrationRequest
from verizon.models.schedules_software_upgrade_request import SchedulesSoftwareUpgradeRequest
from verizon.models.upload_and_schedule_file_request import UploadAndScheduleFileRequest
from verizon.models.v2_time_window import V2TimeWindow
from verizon.utilities.file_wrapper import FileWrapper

from fota.adapters.storage.database import make_engine
from fota.simulator.device import DeviceConfig
from fota.simulator.fleet import Fleet
from fota.simulator.http_device import HttpDevice
from fota.simulator.package import build_image
from tests.api.sdk_client import sdk_session
from tests.conftest import Account, RunningServer
from tests.lwm2m.harness import callback_receiver, device_report, drain_outbox, imei_block

MAKE, MODEL, FROM, TO = "Acme", "Meter-9", "5.0", "5.1"


def http_devices(server: RunningServer, account: Account, count: int, firmware: str = FROM) -> list[HttpDevice]:
    start = imei_block(count)
    imeis = [str(start + i) for i in range(count)]
    account.add_devices(
        [{"deviceId": i, "make": MAKE, "model": MODEL, "firmware": firmware, "protocol": "HTTP"} for i in imeis]
    )
    devices = []
    for imei in imeis:
        r = server.admin.post(f"/accounts/{account.name}/devices/{imei}/key")
        assert r.status_code == 201, r.text
        devices.append(HttpDevice(server.base_url, imei, r.json()["deviceKey"], firmware))
    return devices


def at(day: datetime, hour: int) -> datetime:
    return datetime.combine(day.date(), time(hour), tzinfo=day.tzinfo)


def test_http_devices_download_and_install_only_in_their_windows(private_server: RunningServer) -> None:
    server = private_server
    account = server.new_account()
    firmware = server.new_firmware(make=MAKE, model=MODEL, firmware_from=FROM, firmware_to=TO, protocol="HTTP")
    image = build_image(TO, 3000)
    assert server.admin.put(f"/firmware/{firmware['firmwareName']}/image", content=image).status_code == 200
    early, late = http_devices(server, account, 2)
    day1 = server.now() + timedelta(days=1)
    day2 = day1 + timedelta(days=1)

    with callback_receiver() as receiver:
        sdk = sdk_session(account)
        sdk.software_management_callbacks_v2.register_callback(
            account.name, FotaV2CallbackRegistrationRequest(receiver.url)
        )
        created = sdk.campaigns_v2.schedule_sw_upgrade_http_devices(
            account.name,
            SchedulesSoftwareUpgradeRequest(
                campaign_name="meters",
                software_name=firmware["firmwareName"],
                software_from=FROM,
                software_to=TO,
                distribution_type="HTTP",
                start_date=day1.date().isoformat(),
                end_date=day2.date().isoformat(),
                download_time_window_list=[DownloadTimeWindow("2", "6")],
                install_time_window_list=[DownloadTimeWindow("18", "22")],
                device_list=[early.device_id, late.device_id],
            ),
        ).body
        campaign_id = created.id

        server.set_clock(at(day1, 1))  # live, but no window open
        assert (early.poll(), late.poll()) == ("none", "none")

        server.set_clock(at(day1, 3))  # download window
        assert early.poll() == "download" and early.package == image
        assert early.poll() == "none", "downloaded, but the install window is closed"
        server.set_clock(at(day1, 12))  # past the download step's time-out: waiting for a window is not a time-out
        assert early.poll() == "none"

        server.set_clock(at(day1, 19))  # install window, download window closed
        assert late.poll() == "none", "no package is offered outside a download window"
        assert early.poll() == "update" and early.firmware == TO
        # The result comes a simulated minute after the "update" answer: the callbacks of the two are ordered by
        # their updateTime below, which must not be the same instant.
        server.advance(60)
        early.poll()  # reports the result

        server.set_clock(at(day2, 4))
        assert late.poll() == "download"
        assert late.poll() == "none"
        server.set_clock(at(day2, 20))
        assert late.poll() == "update"
        server.advance(60)
        late.poll()  # reports the result
        assert (early.actions, late.actions) == (["download", "update"], ["download", "update"])

        sdk = sdk_session(account)  # the clock moved past the first session's lifetime
        v2 = sdk.software_management_reports_v2.get_campaign_device_status(account.name, campaign_id).body
        v3 = sdk.software_management_reports_v3.get_campaign_device_status(account.name, campaign_id).body
        expected = {early.device_id: "UpgradeSuccess", late.device_id: "UpgradeSuccess"}
        assert {d.device_id: d.status for d in v2.device_list} == expected
        assert {d.device_id: d.status for d in v3.device_list} == expected
        history = sdk.software_management_reports_v2.get_device_firmware_upgrade_history(account.name, early.device_id)
        assert history.body[-1].status == "UpgradeSuccess"

        engine = make_engine(server.database_url)
        try:
            drain_outbox(engine, account.name, server)
        finally:
            engine.dispose()
        for device in (early, late):
            events = sorted(receiver.device_events(device.device_id), key=lambda e: e["updateTime"])
            assert events and all("resultReason" in e and "reason" not in e for e in events), events
            assert events[-1]["status"] == "UpgradeSuccess"
            assert [e["status"] for e in events][:2] == ["UpgradePending", "UpgradeInProgress"]


async def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


def test_lwm2m_devices_execute_the_update_only_in_the_install_window(private_server: RunningServer) -> None:
    server = private_server
    account = server.new_account()
    firmware = server.new_firmware(make=MAKE, model=MODEL, firmware_from=FROM, firmware_to=TO)
    assert (
        server.admin.put(f"/firmware/{firmware['firmwareName']}/image", content=build_image(TO, 2048)).status_code
        == 200
    )
    start = imei_block(2)
    imeis = [str(start + i) for i in range(2)]
    account.add_devices(
        [{"deviceId": i, "make": MAKE, "model": MODEL, "firmware": FROM, "protocol": "LWM2M"} for i in imeis]
    )
    day1 = server.now() + timedelta(days=1)
    created = (
        sdk_session(account)
        .campaigns_v2.schedule_campaign_firmware_upgrade(
            account.name,
            CampaignSoftwareUpgrade(
                software_name=firmware["firmwareName"],
                software_from=FROM,
                software_to=TO,
                distribution_type="LWM2M",
                start_date=day1.date(),
                end_date=day1.date() + timedelta(days=1),
                device_list=imeis,
                download_time_window_list=[V2TimeWindow(2, 6)],
                install_time_window_list=[V2TimeWindow(18, 22)],
            ),
        )
        .body
    )
    server.set_clock(at(day1, 3))  # a download window, no install window

    def statuses() -> dict[str, tuple[str, str | None]]:
        return {d: (r["status"], r.get("resultReason")) for d, r in device_report(account, created.id).items()}

    template = DeviceConfig(
        server=server.coap_url,
        make=MAKE,
        model=MODEL,
        firmware=FROM,
        checkin_interval=0.5,
        awake_seconds=8.0,
        reboot_seconds=0.5,
        lifetime=60,
    )

    async def scenario() -> None:
        fleet = Fleet(2, template, imei_start=start)
        await fleet.start()
        try:
            downloaded = dict.fromkeys(imeis, ("UpgradeInProgress", "Downloaded"))
            await wait_until(lambda: statuses() == downloaded, "both downloads")
            seen = [d.updates for d in fleet.devices]
            await wait_until(
                lambda: all(d.updates >= n + 2 for d, n in zip(fleet.devices, seen, strict=True)), "more check-ins"
            )
            assert [d.update_executions for d in fleet.devices] == [0, 0], "no Update outside the install window"
            assert statuses() == downloaded
            server.set_clock(at(day1, 19))
            success = dict.fromkeys(imeis, "UpgradeSuccess")
            await wait_until(lambda: {d: s for d, (s, _) in statuses().items()} == success, "the upgrades")
            assert [d.update_executions for d in fleet.devices] == [1, 1]
        finally:
            await fleet.stop()

    asyncio.run(scenario())


def test_configuration_file_reaches_http_and_lwm2m_devices_byte_for_byte(server: RunningServer, tmp_path: Path) -> None:
    account = server.new_account()
    # LwM2M simulated devices check what they install; a package naming their own version changes no firmware.
    content = build_image(FROM, 2500, seed=7)
    (tmp_path / "meter.conf").write_bytes(content)
    sdk = sdk_session(account)
    with (tmp_path / "meter.conf").open("rb") as stream:
        uploaded = sdk.configuration_files.upload_config_file(
            account.name,
            fileupload=FileWrapper(stream, "application/octet-stream"),
            file_version="conf-7",
            make=MAKE,
            model=MODEL,
            local_target_path="/etc/meter/meter.conf",
        ).body
    http = http_devices(server, account, 1)[0]
    lwm2m_start = imei_block(2)
    lwm2m_imeis = [str(lwm2m_start + i) for i in range(2)]
    account.add_devices(
        [{"deviceId": i, "make": MAKE, "model": MODEL, "firmware": FROM, "protocol": "LWM2M"} for i in lwm2m_imeis]
    )
    sdk.client_logging.enable_device_logging(account.name, lwm2m_imeis[0])
    today = server.now().date()
    campaigns = {}
    for protocol, devices in (("HTTP", [http.device_id]), ("LWM2M", lwm2m_imeis)):
        body = UploadAndScheduleFileRequest(
            campaign_name=f"config {protocol}",
            file_name=uploaded.file_name,
            file_version="conf-7",
            distribution_type=protocol,
            start_date=today.isoformat(),
            end_date=(today + timedelta(days=1)).isoformat(),
            device_list=devices,
        )
        campaigns[protocol] = sdk.campaigns_v2.schedule_file_upgrade(account.name, body).body.id
    server.advance(0)

    assert http.poll() == "download"
    assert http.poll() == "update"
    http.poll()
    assert hashlib.sha256(http.files["/etc/meter/meter.conf"]).digest() == hashlib.sha256(content).digest()
    assert http.firmware == FROM

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
    report = sdk.software_management_reports_v2.get_campaign_device_status

    async def run_lwm2m() -> list[str | None]:
        fleet = Fleet(2, template, imei_start=lwm2m_start)
        await fleet.start()
        try:
            for _ in range(240):
                statuses = {d.status for d in report(account.name, campaigns["LWM2M"]).body.device_list}
                if statuses == {"UpgradeSuccess"}:
                    break
                await asyncio.sleep(0.25)
            return [d.firmware.last_package_sha256 for d in fleet.devices]
        finally:
            await fleet.stop()

    received = asyncio.run(run_lwm2m())
    assert received == [hashlib.sha256(content).hexdigest()] * 2
    for protocol in campaigns:
        statuses = {d.status for d in report(account.name, campaigns[protocol]).body.device_list}
        assert statuses == {"UpgradeSuccess"}, protocol
    history = sdk.server_logging.get_device_check_in_history(account.name, lwm2m_imeis[0]).body
    assert history and {h.client_type for h in history} == {"LWM2M"}
    times = [h.time_completed.datetime for h in history]
    assert times == sorted(times, reverse=True)
    logs = sdk.client_logging.list_device_logs(account.name, lwm2m_imeis[0]).body
    kinds = {e.log_type for e in logs}
    assert kinds == {"AgentService", "SoftwareUpdate"}, [(e.log_type, e.event_log) for e in logs]
    assert any(e.event_log.startswith("UpgradeSuccess") for e in logs)
    assert not sdk.client_logging.list_device_logs(account.name, lwm2m_imeis[1]).body  # logging is off for it
