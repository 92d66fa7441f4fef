"""Acceptance tests: every ThingSpace v2 operation of Verizon's SDK (`verizon` 2.0.0) against a running fota.

The SDK's own controllers and models, over real HTTP; only provisioning uses the admin API. Paged calls are walked
across more than one page; invalid requests raise the SDK's typed `FotaV2ResultException`.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select
from verizon.exceptions.fota_v2_result_exception import FotaV2ResultException
from verizon.models.campaign_software_upgrade import CampaignSoftwareUpgrade
from verizon.models.campaign_status_enum import CampaignStatusEnum
from verizon.models.device_logging_request import DeviceLoggingRequest
from verizon.models.download_time_window import DownloadTimeWindow
from verizon.models.fota_v2_callback_registration_request import FotaV2CallbackRegistrationRequest
from verizon.models.schedules_software_upgrade_request import SchedulesSoftwareUpgradeRequest
from verizon.models.upload_and_schedule_file_request import UploadAndScheduleFileRequest
from verizon.models.v2_add_or_remove_device_request import V2AddOrRemoveDeviceRequest
from verizon.models.v2_change_campaign_dates_request import V2ChangeCampaignDatesRequest
from verizon.models.v2_license_imei import V2LicenseIMEI
from verizon.models.v2_list_of_licenses_to_remove_request import V2ListOfLicensesToRemoveRequest
from verizon.models.v2_time_window import V2TimeWindow
from verizon.utilities.file_wrapper import FileWrapper
from verizon.verizon_client import VerizonClient

from fota.adapters.storage.database import make_engine
from fota.adapters.storage.tables import campaigns as campaign_rows
from fota.simulator.http_device import HttpDevice
from tests.api.sdk_client import sdk_session
from tests.api.test_sdk import FROM_FW, MAKE, MODEL, PAGE, TO_FW, opt, provision
from tests.conftest import Account, RunningServer

FLEET_SIZE = PAGE + 3
pytestmark = pytest.mark.filterwarnings("ignore::deprecation.DeprecatedWarning")


def walk(fetch: Callable[[str | None], Any], cursor: str = "last_seen_device_id") -> list[Any]:
    """Every page of a paged v2 list, passing each page's cursor back as the SDK does."""
    pages = [fetch(None)]
    while pages[-1].has_more_data:
        assert len(pages) < 10, "paging does not terminate"
        pages.append(fetch(opt(pages[-1], cursor)))
    return pages


def assert_two_pages(pages: list[Any], expected_ids: list[str]) -> None:
    ids = [d.device_id for p in pages for d in p.device_list]
    assert [len(p.device_list) for p in pages] == [PAGE, len(expected_ids) - PAGE]
    assert [p.max_page_size for p in pages] == [PAGE, PAGE]
    assert pages[0].last_seen_device_id == pages[0].device_list[-1].device_id
    assert ids == expected_ids


def raises_400(call: Callable[[], Any]) -> FotaV2ResultException:
    with pytest.raises(FotaV2ResultException) as exc:
        call()
    assert exc.value.response_code == 400, exc.value.response.text
    assert exc.value.error_code and exc.value.error_message, exc.value.response.text
    return exc.value


def dates(server: RunningServer, start: int = 3, end: int = 6) -> tuple[date, date]:
    today = server.now().date()
    return today + timedelta(days=start), today + timedelta(days=end)


def software_body(
    firmware: dict[str, str], devices: list[str], start: date, end: date, **kwargs: Any
) -> CampaignSoftwareUpgrade:
    return CampaignSoftwareUpgrade(
        software_name=firmware["firmwareName"],
        software_from=firmware["firmwareFrom"],
        software_to=firmware["firmwareTo"],
        distribution_type="LWM2M",
        start_date=start,
        end_date=end,
        device_list=devices,
        campaign_name=f"v2-{uuid.uuid4().hex[:8]}",
        **kwargs,
    )


@dataclass
class Tenant:
    account: Account
    sdk: VerizonClient


@pytest.fixture
def tenant(server: RunningServer) -> Tenant:
    account = server.new_account()
    return Tenant(account, sdk_session(account))


@pytest.fixture
def firmware(server: RunningServer) -> dict[str, str]:
    return server.new_firmware(make=MAKE, model=MODEL, firmware_from=FROM_FW, firmware_to=TO_FW)


@dataclass
class Fleet:
    account: Account
    sdk: VerizonClient
    imeis: list[str]
    campaign_id: str


@pytest.fixture(scope="module")
def fleet(server: RunningServer) -> Fleet:
    """More than a page of devices, licensed through v2 and all in one v2 campaign."""
    account = server.new_account(license_count=FLEET_SIZE + 5)
    imeis = [d["deviceId"] for d in provision(account, FLEET_SIZE)]
    sdk = sdk_session(account)
    assigned = sdk.software_management_licenses_v2.assign_licenses_to_devices(account.name, V2LicenseIMEI(imeis)).body
    assert (assigned.lic_total_count, assigned.lic_used_count) == (FLEET_SIZE + 5, FLEET_SIZE)
    assert {d.status for d in assigned.device_list} == {"Success"}
    firmware = server.new_firmware(make=MAKE, model=MODEL, firmware_from=FROM_FW, firmware_to=TO_FW)
    start, end = dates(server)
    campaign = sdk.campaigns_v2.schedule_campaign_firmware_upgrade(
        account.name, software_body(firmware, imeis, start, end)
    ).body
    return Fleet(account, sdk, imeis, campaign.id)


# --- subscription and licenses ---------------------------------------------------------------------------


def test_subscription(tenant: Tenant) -> None:
    body = tenant.sdk.software_management_subscriptions_v2.get_account_subscription_status(tenant.account.name).body
    assert (body.account_name, body.license_count, body.purchase_type) == (tenant.account.name, 100, "TS-HFOTA-EVNT")


def test_license_summary_pages(fleet: Fleet) -> None:
    licenses = fleet.sdk.software_management_licenses_v2
    pages = walk(lambda after: licenses.get_account_license_status(fleet.account.name, after).body)
    assert_two_pages(pages, fleet.imeis)
    assert (pages[0].total_license, pages[0].assigned_licenses) == (FLEET_SIZE + 5, FLEET_SIZE)


def test_license_assign_and_remove_answer_success_or_failure(tenant: Tenant) -> None:
    account, licenses = tenant.account, tenant.sdk.software_management_licenses_v2
    a, b = (d["deviceId"] for d in provision(account, 2))
    assigned = licenses.assign_licenses_to_devices(account.name, V2LicenseIMEI([a, b])).body
    assert (assigned.lic_used_count, {d.status for d in assigned.device_list}) == (2, {"Success"})
    removed = licenses.remove_licenses_from_devices(account.name, V2LicenseIMEI([a])).body
    assert removed.lic_used_count == 1
    again = licenses.remove_licenses_from_devices(account.name, V2LicenseIMEI([a])).body
    assert [(d.device_id, d.status) for d in again.device_list] == [(a, "Failure")]
    assert again.device_list[0].result_reason
    raises_400(lambda: licenses.assign_licenses_to_devices(account.name, V2LicenseIMEI(["not-an-imei"])))


def test_cancel_list_pages_by_start_index(fleet: Fleet) -> None:
    licenses = fleet.sdk.software_management_licenses_v2
    request = V2ListOfLicensesToRemoveRequest(device_list=fleet.imeis)
    assert licenses.create_list_of_licenses_to_remove(fleet.account.name, request).body.count == FLEET_SIZE
    first = licenses.list_licenses_to_remove(fleet.account.name).body
    second = licenses.list_licenses_to_remove(fleet.account.name, start_index=PAGE).body
    assert (len(first.device_list), first.has_more_data) == (PAGE, True)
    assert (len(second.device_list), second.has_more_data) == (FLEET_SIZE - PAGE, False)
    assert first.device_list + second.device_list == fleet.imeis
    assert licenses.delete_list_of_licenses_to_remove(fleet.account.name).body.success is True


# --- campaigns -------------------------------------------------------------------------------------------


def test_software_campaign_create_read_change_cancel(server: RunningServer, tenant: Tenant, firmware: Any) -> None:
    account, campaigns = tenant.account, tenant.sdk.campaigns_v2
    a, b, c = (d["deviceId"] for d in provision(account, 3))
    start, end = dates(server)
    body = software_body(
        firmware,
        [a, b],
        start,
        end,
        download_after_date=start + timedelta(days=1),
        download_time_window_list=[V2TimeWindow(1, 5)],
        install_after_date=start + timedelta(days=2),
        install_time_window_list=[V2TimeWindow(18, 22)],
    )
    created = campaigns.schedule_campaign_firmware_upgrade(account.name, body).body
    assert (created.status, created.software_name, created.software_to) == (
        "CampaignQueued",
        firmware["firmwareName"],
        TO_FW,
    )
    assert (created.make, created.model, created.distribution_type) == (MAKE, MODEL, "LWM2M")
    assert (created.download_after_date, created.install_after_date) == (
        start + timedelta(days=1),
        start + timedelta(days=2),
    )
    assert [(w.start_time, w.end_time) for w in created.install_time_window_list] == [(18, 22)]

    read = campaigns.get_campaign_information(account.name, created.id).body
    assert (read.id, read.start_date, read.end_date) == (created.id, start, end)
    # The same campaign through v3: a v2 campaign is a campaign.
    v3 = tenant.sdk.campaigns_v3.get_campaign_information(account.name, created.id).body
    assert (v3.firmware_name, v3.firmware_to, v3.status) == (firmware["firmwareName"], TO_FW, "CampaignQueued")

    changed = campaigns.update_campaign_firmware_devices(
        account.name, created.id, V2AddOrRemoveDeviceRequest("append", [c])
    ).body
    assert (changed.account_name, changed.campaign_id) == (account.name, created.id) and changed.request_id
    campaigns.update_campaign_firmware_devices(account.name, created.id, V2AddOrRemoveDeviceRequest("remove", [a]))
    report = tenant.sdk.software_management_reports_v2.get_campaign_device_status(account.name, created.id).body
    assert {d.device_id: d.status for d in report.device_list} == {
        a: "DeviceRemoved",
        b: "UpgradePending",
        c: "UpgradePending",
    }

    new_dates = V2ChangeCampaignDatesRequest(
        start_date=start,
        end_date=end + timedelta(days=1),
        download_time_window_list=[V2TimeWindow(1, 5), V2TimeWindow(8, 12)],
    )
    dated = campaigns.update_campaign_dates(account.name, created.id, new_dates).body
    assert dated.end_date == end + timedelta(days=1)
    assert [(w.start_time, w.end_time) for w in dated.download_time_window_list] == [(1, 5), (8, 12)]
    removing = V2ChangeCampaignDatesRequest(
        start_date=start, end_date=end, download_time_window_list=[V2TimeWindow(8, 12)]
    )
    raises_400(lambda: campaigns.update_campaign_dates(account.name, created.id, removing))

    assert campaigns.cancel_campaign(account.name, created.id).body.success is True
    assert campaigns.get_campaign_information(account.name, created.id).body.status == "CampaignCancelled"
    raises_400(lambda: campaigns.cancel_campaign(account.name, created.id))


def test_invalid_software_campaigns_raise_typed_400(server: RunningServer, tenant: Tenant, firmware: Any) -> None:
    account, campaigns = tenant.account, tenant.sdk.campaigns_v2
    imei = provision(account, 1)[0]["deviceId"]
    start, end = dates(server)
    unknown = software_body({**firmware, "firmwareName": "no-such-software"}, [imei], start, end)
    raises_400(lambda: campaigns.schedule_campaign_firmware_upgrade(account.name, unknown))
    late = software_body(firmware, [imei], start, end, install_after_date=end + timedelta(days=3))
    raises_400(lambda: campaigns.schedule_campaign_firmware_upgrade(account.name, late))
    short = software_body(firmware, [imei], start, end, download_time_window_list=[V2TimeWindow(1, 2)])
    raises_400(lambda: campaigns.schedule_campaign_firmware_upgrade(account.name, short))


def test_http_software_campaign_answers_in_strings(server: RunningServer, tenant: Tenant) -> None:
    account = tenant.account
    fw = server.new_firmware(make=MAKE, model=MODEL, firmware_from=FROM_FW, firmware_to=TO_FW, protocol="HTTP")
    imei = provision(account, 1, protocol="HTTP")[0]["deviceId"]
    start, end = dates(server)
    body = SchedulesSoftwareUpgradeRequest(
        campaign_name="http devices",
        software_name=fw["firmwareName"],
        software_from=FROM_FW,
        software_to=TO_FW,
        distribution_type="HTTP",
        start_date=start.isoformat(),
        end_date=end.isoformat(),
        download_time_window_list=[DownloadTimeWindow("1", "5")],
        install_after_date=(start + timedelta(days=1)).isoformat(),
        install_time_window_list=[DownloadTimeWindow("18", "22")],
        device_list=[imei],
    )
    created = tenant.sdk.campaigns_v2.schedule_sw_upgrade_http_devices(account.name, body).body
    assert (created.status, created.distribution_type, created.software_name) == (
        "CampaignQueued",
        "HTTP",
        fw["firmwareName"],
    )
    assert (created.start_date, created.install_after_date) == (start.isoformat(), body.install_after_date)
    assert [(w.start_time, w.end_time) for w in created.install_time_window_list] == [("18", "22")]
    assert created.device_list == [imei]
    bad = SchedulesSoftwareUpgradeRequest(software_name=fw["firmwareName"], distribution_type="HTTP")
    raises_400(lambda: tenant.sdk.campaigns_v2.schedule_sw_upgrade_http_devices(account.name, bad))
    body.download_time_window_list = [DownloadTimeWindow("²", "5")]  # a digit to str.isdigit, not to int()
    raises_400(lambda: tenant.sdk.campaigns_v2.schedule_sw_upgrade_http_devices(account.name, body))


# --- configuration files ---------------------------------------------------------------------------------


def test_file_upload_list_and_campaign(server: RunningServer, tenant: Tenant, tmp_path: Path) -> None:
    account, files = tenant.account, tenant.sdk.configuration_files
    content = secrets.token_bytes(700)
    (tmp_path / "agent.conf").write_bytes(content)
    with (tmp_path / "agent.conf").open("rb") as stream:
        upload = files.upload_config_file(
            account.name,
            fileupload=FileWrapper(stream, "application/octet-stream"),
            file_version="cfg-1",
            make=MAKE,
            model=MODEL,
            local_target_path="/etc/agent/agent.conf",
        )
    uploaded = upload.body
    assert (uploaded.file_version, uploaded.make, uploaded.local_target_path) == (
        "cfg-1",
        MAKE,
        "/etc/agent/agent.conf",
    )
    assert upload.text and hashlib.sha256(content).hexdigest() in upload.text
    listed = files.get_list_of_files(account.name, "HTTP").body.available_files_response
    assert [(f.file_name, f.file_version) for f in listed] == [(uploaded.file_name, "cfg-1")]
    stranger = server.new_account()  # files are the uploading account's own
    assert (
        not sdk_session(stranger)
        .configuration_files.get_list_of_files(stranger.name, "HTTP")
        .body.available_files_response
    )

    imei = provision(account, 1, protocol="HTTP")[0]["deviceId"]
    start, end = dates(server)
    body = UploadAndScheduleFileRequest(
        campaign_name="config push",
        file_name=uploaded.file_name,
        file_version="cfg-1",
        distribution_type="HTTP",
        start_date=start.isoformat(),
        end_date=end.isoformat(),
        device_list=[imei],
    )
    created = tenant.sdk.campaigns_v2.schedule_file_upgrade(account.name, body).body
    assert (created.file_name, created.file_version, created.status) == (uploaded.file_name, "cfg-1", "CampaignQueued")
    report = tenant.sdk.software_management_reports_v2.get_campaign_device_status(account.name, created.id).body
    assert [(d.device_id, d.status) for d in report.device_list] == [(imei, "UpgradePending")]
    missing = UploadAndScheduleFileRequest(file_name="nope", distribution_type="HTTP", start_date=start.isoformat())
    raises_400(lambda: tenant.sdk.campaigns_v2.schedule_file_upgrade(account.name, missing))
    with (tmp_path / "agent.conf").open("rb") as stream:
        wrapped = FileWrapper(stream, "application/octet-stream")
        raises_400(lambda: files.upload_config_file(account.name, fileupload=wrapped, make=MAKE, model=MODEL))


# --- callbacks -------------------------------------------------------------------------------------------


def test_callback_register_read_update_deregister(tenant: Tenant) -> None:
    name, callbacks = tenant.account.name, tenant.sdk.software_management_callbacks_v2
    url = "https://callbacks.example.com/v2"
    assert callbacks.register_callback(name, FotaV2CallbackRegistrationRequest(url)).body.url == url
    assert callbacks.list_registered_callbacks(name).body.url == url
    assert callbacks.update_callback(name, FotaV2CallbackRegistrationRequest(url + "/b")).body.url == url + "/b"
    assert callbacks.deregister_callback(name).body.success is True
    raises_400(lambda: callbacks.register_callback(name, FotaV2CallbackRegistrationRequest("not a url")))


# --- reports ---------------------------------------------------------------------------------------------


def test_software_list_filters_by_distribution_type(server: RunningServer, tenant: Tenant) -> None:
    lwm2m = server.new_firmware(make=MAKE, model=MODEL, firmware_from=FROM_FW, firmware_to=TO_FW)
    http = server.new_firmware(make=MAKE, model=MODEL, firmware_from=FROM_FW, firmware_to=TO_FW, protocol="HTTP")
    reports = tenant.sdk.software_management_reports_v2
    listed = reports.list_available_software(tenant.account.name, "HTTP").body
    assert isinstance(listed, list)
    names = {p.software_name for p in listed}
    assert http["firmwareName"] in names and lwm2m["firmwareName"] not in names
    everything = {p.software_name: p for p in reports.list_available_software(tenant.account.name).body}
    package = everything[lwm2m["firmwareName"]]
    assert (package.make, package.model, package.distribution_type) == (MAKE, MODEL, "LWM2M")
    assert isinstance(package.launch_date, date) and package.device_platform_id


def test_account_devices_page(fleet: Fleet) -> None:
    reports = fleet.sdk.software_management_reports_v2
    pages = walk(lambda after: reports.list_account_devices(fleet.account.name, after, "LWM2M").body)
    assert [len(p.device_list) for p in pages] == [PAGE, FLEET_SIZE - PAGE]
    assert [d.device_id for p in pages for d in p.device_list] == fleet.imeis
    first = pages[0].device_list[0]
    assert (first.make, first.distribution_type, first.license_assigned) == (MAKE, "LWM2M", True)
    assert [s.version for s in first.software_list] == [FROM_FW]


def test_campaign_devices_page(fleet: Fleet) -> None:
    reports = fleet.sdk.software_management_reports_v2
    pages = walk(lambda after: reports.get_campaign_device_status(fleet.account.name, fleet.campaign_id, after).body)
    assert_two_pages(pages, fleet.imeis)
    assert pages[0].total_device == FLEET_SIZE
    assert {d.status for p in pages for d in p.device_list} == {"UpgradePending"}


def add_queued_campaigns(server: RunningServer, like: str, count: int) -> list[str]:
    """`count` copies of campaign `like` (same account, status and dates), inserted in one statement: a second page
    of campaign history without a thousand API round trips."""
    engine = make_engine(server.database_url)
    try:
        with engine.begin() as connection:
            template = dict(connection.execute(select(campaign_rows).where(campaign_rows.c.id == like)).one()._mapping)
            ids = sorted(str(uuid.uuid4()) for _ in range(count))
            connection.execute(insert(campaign_rows), [{**template, "id": campaign_id} for campaign_id in ids])
    finally:
        engine.dispose()
    return ids


def test_campaigns_by_status_page_and_device_history(server: RunningServer, fleet: Fleet) -> None:
    reports = fleet.sdk.software_management_reports_v2
    more = add_queued_campaigns(server, fleet.campaign_id, PAGE)
    queued = str(CampaignStatusEnum.CAMPAIGNREQUESTQUEUED)
    pages = walk(
        lambda after: reports.get_campaign_history_by_status(fleet.account.name, queued, after).body,
        cursor="last_seen_campaign_id",
    )
    assert [len(p.campaign_list) for p in pages] == [PAGE, 1]
    assert pages[0].last_seen_campaign_id == pages[0].campaign_list[-1].id
    listed = [c for p in pages for c in p.campaign_list]
    assert [c.id for c in listed] == sorted([fleet.campaign_id, *more])
    first = next(c for c in listed if c.id == fleet.campaign_id)
    assert (first.software_from, first.software_to, first.status) == (FROM_FW, TO_FW, "CampaignQueued")
    history = reports.get_device_firmware_upgrade_history(fleet.account.name, fleet.imeis[0]).body
    assert isinstance(history, list)
    assert [(h.id, h.status) for h in history] == [(fleet.campaign_id, "UpgradePending")]
    raises_400(lambda: reports.get_campaign_history_by_status(fleet.account.name, "NoSuchStatus"))


# --- logging ---------------------------------------------------------------------------------------------


def http_device(server: RunningServer, account: Account, imei: str) -> HttpDevice:
    r = server.admin.post(f"/accounts/{account.name}/devices/{imei}/key")
    assert r.status_code == 201, r.text
    return HttpDevice(server.base_url, imei, r.json()["deviceKey"], FROM_FW)


def test_logging_enable_upload_read_disable(server: RunningServer, tenant: Tenant) -> None:
    account, logging = tenant.account, tenant.sdk.client_logging
    imeis = [d["deviceId"] for d in provision(account, 22, protocol="HTTP")]
    device = http_device(server, account, imeis[0])
    assert device.upload_logs([{"logType": "Event", "eventLog": "too early"}]).status_code == 400

    enabled = logging.enable_logging_for_devices(account.name, DeviceLoggingRequest(imeis[:19])).body
    assert isinstance(enabled, list) and [s.device_id for s in enabled] == imeis[:19]
    assert all(s.expiry_date > server.now().date() for s in enabled)
    one = logging.enable_device_logging(account.name, imeis[19]).body
    assert one.device_id == imeis[19]
    raises_400(lambda: logging.enable_device_logging(account.name, imeis[20]))  # the 21st device
    assert [s.device_id for s in logging.list_devices_with_logging_enabled(account.name).body] == imeis[:20]

    device.poll()
    r = device.upload_logs([{"logType": "Event", "eventLog": "agent started", "logTime": "2020-01-01T00:00:00"}])
    assert r.status_code == 200 and r.json() == {"accepted": 1}, r.text
    assert device.upload_logs([{"logType": "Diary", "eventLog": "x"}]).status_code == 400
    # An engine pass prunes past retention: counted from the upload, not from the device's clock (2020).
    server.advance(1)
    logs = logging.list_device_logs(account.name, imeis[0]).body
    assert [(e.log_type, e.event_log) for e in logs] == [
        ("AgentService", "HTTP check-in, firmware " + FROM_FW),
        ("Event", "agent started"),
    ]
    assert logs[1].log_time.datetime.year == 2020  # the device's own time, read as UTC

    history = tenant.sdk.server_logging.get_device_check_in_history(account.name, imeis[1]).body
    assert history is None or history == []  # never heard from
    http_device(server, account, imeis[1]).poll()
    history = tenant.sdk.server_logging.get_device_check_in_history(account.name, imeis[1]).body
    assert [(h.client_type, h.result) for h in history] == [("HTTP", "Success")]

    logging.disable_device_logging(account.name, imeis[0])
    logging.disable_logging_for_devices(account.name, ",".join(imeis[1:5]))
    assert [s.device_id for s in logging.list_devices_with_logging_enabled(account.name).body] == imeis[5:20]
    raises_400(lambda: logging.enable_logging_for_devices(account.name, DeviceLoggingRequest(["123"])))
