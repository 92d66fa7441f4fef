"""Acceptance tests of the v1 API: Verizon's SDK (`verizon` 2.0.0) drives all 18 v1 operations over real HTTP.

Each call uses the SDK's own models and checks the documented 2xx shape; paged calls cross a page; invalid
requests raise the SDK's typed `FotaV1ResultException`. Provisioning goes through the admin API.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from verizon.exceptions.api_exception import APIException
from verizon.exceptions.fota_v1_result_exception import FotaV1ResultException
from verizon.models.callback_service_enum import CallbackServiceEnum
from verizon.models.firmware_type_list_enum import FirmwareTypeListEnum
from verizon.models.firmware_upgrade_change_request import FirmwareUpgradeChangeRequest
from verizon.models.firmware_upgrade_request import FirmwareUpgradeRequest
from verizon.models.fota_v1_callback_registration_request import FotaV1CallbackRegistrationRequest
from verizon.models.fota_v3_callback_registration_request import FotaV3CallbackRegistrationRequest
from verizon.models.upgrade_status_enum import UpgradeStatusEnum
from verizon.models.v1_licenses_assigned_removed_request import V1LicensesAssignedRemovedRequest
from verizon.models.v1_list_of_licenses_to_remove_request import V1ListOfLicensesToRemoveRequest
from verizon.verizon_client import VerizonClient

from tests.api.sdk_client import sdk_session
from tests.api.test_sdk import FROM_FW, MAKE, MODEL, PAGE, TO_FW, days_from_today, new_imeis, opt, provision
from tests.conftest import Account, RunningServer

pytestmark = pytest.mark.filterwarnings("ignore::deprecation.DeprecatedWarning")  # the v1 license calls

FLEET_SIZE = PAGE + 5
UPGRADE_PAGE = 100


@dataclass
class Tenant:
    account: Account
    sdk: VerizonClient
    firmware: dict[str, str]

    def licensed(self, n: int) -> list[str]:
        imeis = [d["deviceId"] for d in provision(self.account, n)]
        licenses = self.sdk.software_management_licenses_v1
        licenses.assign_licenses_to_devices(self.account.name, V1LicensesAssignedRemovedRequest(imeis))
        return imeis

    def schedule(self, server: RunningServer, imeis: list[str], days: tuple[int, int] = (3, 5)) -> Any:
        start, end = days_from_today(server, *days)
        body = FirmwareUpgradeRequest(
            account_name=self.account.name,
            firmware_name=self.firmware["firmwareName"],
            firmware_to=TO_FW,
            start_date=start,
            end_date=end,
            device_list=imeis,
        )
        return self.sdk.firmware_v1.schedule_firmware_upgrade(body).body


def new_tenant(server: RunningServer, license_count: int = 100) -> Tenant:
    account = server.new_account(license_count=license_count)
    firmware = server.new_firmware(make=MAKE, model=MODEL, firmware_from=FROM_FW, firmware_to=TO_FW)
    return Tenant(account, sdk_session(account), firmware)


@pytest.fixture(scope="module")
def tenant(server: RunningServer) -> Tenant:
    """Shared by tests that look only at their own devices and upgrades."""
    return new_tenant(server, license_count=500)


@pytest.fixture(scope="module")
def fleet(server: RunningServer) -> tuple[Tenant, list[str]]:
    """More than a page of licensed devices, licensed through v1."""
    fleet = new_tenant(server, license_count=FLEET_SIZE + 10)
    return fleet, fleet.licensed(FLEET_SIZE)


def assert_v1_400(exc: pytest.ExceptionInfo[FotaV1ResultException], code: str = "InvalidRequest") -> None:
    assert exc.value.response_code == 400, exc.value.response.text
    assert exc.value.error_code == code, exc.value.response.text
    assert exc.value.error_message, exc.value.response.text


# --- subscription and licenses -----------------------------------------------------------------------------


def test_subscription_and_license_assign_remove(server: RunningServer) -> None:
    t = new_tenant(server, license_count=7)
    a, b = (d["deviceId"] for d in provision(t.account, 2))
    subscription = t.sdk.software_management_subscriptions_v1.get_account_subscription_status(t.account.name).body
    assert (subscription.account_name, subscription.license_count) == (t.account.name, 7)
    assert subscription.purchase_type == "TS-HFOTA-EVNT"

    licenses = t.sdk.software_management_licenses_v1
    assigned = licenses.assign_licenses_to_devices(t.account.name, V1LicensesAssignedRemovedRequest([a, b])).body
    assert (assigned.account_name, assigned.lic_count, assigned.lic_used_count) == (t.account.name, 7, 2)
    assert {(d.device_id, d.status) for d in assigned.device_list} == {
        (a, "LicenseAssignSuccess"),
        (b, "LicenseAssignSuccess"),
    }
    removed = licenses.remove_licenses_from_devices(t.account.name, V1LicensesAssignedRemovedRequest([a])).body
    assert (removed.lic_used_count, [(d.device_id, d.status) for d in removed.device_list]) == (
        1,
        [(a, "LicenseRemoveSuccess")],
    )
    assert json.loads(
        licenses.remove_licenses_from_devices(t.account.name, V1LicensesAssignedRemovedRequest([a])).text
    )["deviceList"] == [{"deviceId": a, "status": "LicenseRemoveFailed", "Reason": "No license attached to device"}]


def test_license_index_pages_by_position(fleet: tuple[Tenant, list[str]]) -> None:
    t, imeis = fleet
    status = t.sdk.software_management_subscriptions_v1.get_account_license_status
    first = status(t.account.name, "0").body
    assert (first.total_licenses, first.assigned_licenses, first.has_more_data) == (FLEET_SIZE + 10, FLEET_SIZE, True)
    assert first.last_seen_device_id == PAGE
    assert isinstance(first.device_list[0].assignment_time.datetime, datetime)  # RFC 3339 on the wire
    second = status(t.account.name, str(first.last_seen_device_id)).body
    assert second.has_more_data is False
    assert opt(second, "last_seen_device_id") is None  # 0 when there is no next page (and the SDK drops 0)
    assert [d.device_id for d in first.device_list + second.device_list] == imeis


def test_device_index_pages_by_imei(fleet: tuple[Tenant, list[str]]) -> None:
    t, imeis = fleet
    devices = t.sdk.software_management_reports_v1.list_account_devices
    first = devices(t.account.name, "0").body
    assert (first.account_name, first.has_more_data, first.last_seen_device_id) == (
        t.account.name,
        True,
        int(imeis[PAGE - 1]),
    )
    second = devices(t.account.name, str(first.last_seen_device_id)).body
    assert second.has_more_data is False
    listed = first.device_list + second.device_list
    assert [d.device_id for d in listed] == imeis
    item = listed[0]
    assert (item.make, item.model, item.firmware, item.license_assigned, item.fota_eligible) == (
        MAKE,
        MODEL,
        FROM_FW,
        True,
        True,
    )
    assert item.mdn and item.upgrade_time  # when fota first learnt its firmware


def test_license_cancel_list_create_append_read_delete(server: RunningServer) -> None:
    t = new_tenant(server)
    a, b, c = t.licensed(3)
    licenses = t.sdk.software_management_licenses_v1
    created = licenses.create_list_of_licenses_to_remove(t.account.name, V1ListOfLicensesToRemoveRequest([a, b])).body
    assert (created.count, sorted(created.device_list)) == (2, sorted([a, b]))
    licenses.create_list_of_licenses_to_remove(t.account.name, V1ListOfLicensesToRemoveRequest([c], mtype="append"))
    listing = licenses.list_licenses_to_remove(t.account.name, "0").body
    assert (listing.count, listing.has_more_data, sorted(listing.device_list)) == (3, False, sorted([a, b, c]))
    assert isinstance(listing.update_time.datetime, datetime)
    assert licenses.delete_list_of_licenses_to_remove(t.account.name).body.success is True
    assert opt(licenses.list_licenses_to_remove(t.account.name, "0").body, "count") is None  # 0 comes back as None


# --- firmware and upgrades ---------------------------------------------------------------------------------


def test_firmware_list_uses_v1_names(tenant: Tenant) -> None:
    listed = {f.firmware_name: f for f in tenant.sdk.firmware_v1.list_available_firmware(tenant.account.name).body}
    mine = listed[tenant.firmware["firmwareName"]]
    assert (mine.make, mine.model, mine.from_version, mine.to_version) == (MAKE, MODEL, FROM_FW, TO_FW)
    assert mine.release_note == "test release"
    assert isinstance(mine.launch_date.datetime, datetime)


def test_upgrade_schedule_read_change_cancel_and_its_v3_campaign(server: RunningServer, tenant: Tenant) -> None:
    first, second, added = tenant.licensed(3)
    [unlicensed] = [d["deviceId"] for d in provision(tenant.account, 1)]
    created = tenant.schedule(server, [first, second, unlicensed])
    start, end = days_from_today(server, 3, 5)
    assert created.id and created.account_name == tenant.account.name
    assert (created.firmware_name, created.firmware_to, created.start_date) == (
        tenant.firmware["firmwareName"],
        TO_FW,
        start.isoformat(),
    )
    assert created.status == "Queued"
    statuses = {d.device_id: d for d in created.device_list}
    assert {statuses[first].status, statuses[second].status} == {"UpgradePending"}
    assert statuses[unlicensed].status == "DeviceRejected" and statuses[unlicensed].result_reason

    upgrades = tenant.sdk.firmware_v1
    change = upgrades.update_firmware_upgrade_devices
    name = tenant.account.name
    appended = change(name, created.id, FirmwareUpgradeChangeRequest(FirmwareTypeListEnum.APPEND, [added])).body
    assert (appended.account_name, appended.id) == (name, created.id)
    assert [(d.device_id, d.status) for d in appended.device_list] == [(added, "AddDeviceSucceed")]
    removed = change(name, created.id, FirmwareUpgradeChangeRequest(FirmwareTypeListEnum.REMOVE, [second])).body
    assert [(d.device_id, d.status, d.reason) for d in removed.device_list] == [
        (second, "RemoveDeviceSucceed", "Device removed Successfully")
    ]
    details = upgrades.list_firmware_upgrade_details(name, created.id).body
    assert details.status == "Queued"
    assert {d.device_id: d.status for d in details.device_list} == {
        first: "UpgradePending",
        second: "DeviceRemoved",
        added: "UpgradePending",
        unlicensed: "DeviceRejected",
    }

    # The same upgrade is a v3 campaign with the firmware's own versions and protocol.
    campaign = tenant.sdk.campaigns_v3.get_campaign_information(name, created.id).body
    assert (campaign.status, campaign.firmware_from, campaign.firmware_to, campaign.protocol) == (
        "CampaignQueued",
        FROM_FW,
        TO_FW,
        "LWM2M",
    )
    assert (campaign.start_date, campaign.end_date, campaign.auto_assign_license_flag) == (start, end, False)
    # ... and listed by the v3 campaign history that `fota campaigns list` reads.
    history = tenant.sdk.software_management_reports_v3.get_campaign_history_by_status(name, "CampaignQueued").body
    assert created.id in {c.id for c in history.campaign_list}

    assert upgrades.cancel_scheduled_firmware_upgrade(name, created.id).body.success is True
    details = upgrades.list_firmware_upgrade_details(name, created.id).body
    assert details.status == "Finished"
    assert {d.status for d in details.device_list if d.device_id in (first, added)} == {"CampaignCancelled"}
    assert tenant.sdk.campaigns_v3.get_campaign_information(name, created.id).body.status == "CampaignCancelled"
    with pytest.raises(FotaV1ResultException) as exc:
        upgrades.cancel_scheduled_firmware_upgrade(name, created.id)
    assert_v1_400(exc, "InvalidCampaignState")


def test_upgrades_by_status_page_by_index(server: RunningServer) -> None:
    t = new_tenant(server)
    ids = [t.schedule(server, []).id for _ in range(UPGRADE_PAGE + 1)]
    reports = t.sdk.software_management_reports_v1
    first = reports.list_upgrades_for_specified_status(t.account.name, UpgradeStatusEnum.QUEUED, "0").body
    assert (first.has_more_flag, first.last_seen_upgrade_id, len(first.report_list)) == (
        True,
        UPGRADE_PAGE,
        UPGRADE_PAGE,
    )
    second = reports.list_upgrades_for_specified_status(
        t.account.name, UpgradeStatusEnum.QUEUED, str(first.last_seen_upgrade_id)
    ).body
    assert second.has_more_flag is False
    listed = [u.id for u in first.report_list + second.report_list]
    assert sorted(listed) == sorted(ids) and len(set(listed)) == len(ids)
    assert {u.status for u in first.report_list} == {"Queued"}

    t.sdk.firmware_v1.cancel_scheduled_firmware_upgrade(t.account.name, ids[0])
    finished = reports.list_upgrades_for_specified_status(t.account.name, UpgradeStatusEnum.FINISHED, "0").body
    assert [u.id for u in finished.report_list] == [ids[0]]
    in_progress = reports.list_upgrades_for_specified_status(t.account.name, UpgradeStatusEnum.INPROGRESS, "0").body
    assert in_progress.has_more_flag is False and opt(in_progress, "report_list") is None  # [] comes back as None


def test_device_history_has_one_item_per_upgrade(server: RunningServer, tenant: Tenant) -> None:
    [imei] = tenant.licensed(1)
    created = tenant.schedule(server, [imei])
    history = tenant.sdk.software_management_reports_v1.get_device_firmware_upgrade_history(tenant.account.name, imei)
    [item] = [h for h in history.body if h.id == created.id]
    assert (item.device_id, item.account_name, item.firmware_from, item.firmware_to) == (
        imei,
        tenant.account.name,
        FROM_FW,
        TO_FW,
    )
    assert (item.status, item.start_date) == ("UpgradePending", created.start_date)
    assert opt(item, "upgrade_start_time") is None  # not started: "" on the wire


# --- callbacks ---------------------------------------------------------------------------------------------


def test_callback_service_register_list_deregister(server: RunningServer) -> None:
    t = new_tenant(server)
    callbacks = t.sdk.software_management_callbacks_v1
    url = f"https://hooks.example.com/v1/{uuid.uuid4().hex}"
    body = FotaV1CallbackRegistrationRequest(name="Fota", url=url, username="hook-user", password="hook-pass")
    registered = callbacks.register_callback(t.account.name, body).body
    assert (registered.account_name, registered.service_name) == (t.account.name, "Fota")
    [listed] = callbacks.list_registered_callbacks(t.account.name).body
    assert (listed.aname, listed.name, listed.url, listed.username, listed.password) == (
        t.account.name,
        "Fota",
        url,
        "hook-user",
        "hook-pass",
    )
    # One callback per account: v3 sees the URL v1 registered.
    assert t.sdk.software_management_callbacks_v3.list_registered_callbacks(t.account.name).body.url == url
    # Registering through v3 makes it a v3 callback again: the v1 credentials are gone.
    t.sdk.software_management_callbacks_v3.update_callback(t.account.name, FotaV3CallbackRegistrationRequest(url=url))
    [listed] = callbacks.list_registered_callbacks(t.account.name).body
    assert (listed.url, opt(listed, "username"), opt(listed, "password")) == (url, None, None)
    assert callbacks.deregister_callback(t.account.name, CallbackServiceEnum.FOTA).body.success is True
    assert callbacks.list_registered_callbacks(t.account.name).body == []
    with pytest.raises(APIException) as exc:
        callbacks.deregister_callback(t.account.name, CallbackServiceEnum.FOTA)
    assert exc.value.response_code == 404


# --- invalid requests --------------------------------------------------------------------------------------


def _bad_upgrade(t: Tenant, server: RunningServer, **change: Any) -> None:
    start, end = days_from_today(server, 3, 5)
    fields: dict[str, Any] = {
        "account_name": t.account.name,
        "firmware_name": t.firmware["firmwareName"],
        "firmware_to": TO_FW,
        "start_date": start,
        "end_date": end,
        "device_list": new_imeis(1),
    }
    t.sdk.firmware_v1.schedule_firmware_upgrade(FirmwareUpgradeRequest(**{**fields, **change}))


INVALID: dict[str, Any] = {
    "unknown firmware": lambda t, s: _bad_upgrade(t, s, firmware_name=f"nothing-{uuid.uuid4().hex[:6]}"),
    "firmwareTo not the firmware's": lambda t, s: _bad_upgrade(t, s, firmware_to="9.9.9"),
    "end before start": lambda t, s: _bad_upgrade(t, s, end_date=days_from_today(s, 3, 1)[1]),
    "not an IMEI": lambda t, s: _bad_upgrade(t, s, device_list=["12345"]),
    "unknown change type": lambda t, s: t.sdk.firmware_v1.update_firmware_upgrade_devices(
        t.account.name, str(uuid.uuid4()), FirmwareUpgradeChangeRequest("replace", new_imeis(1))
    ),
    "unknown upgrade status": lambda t, s: t.sdk.software_management_reports_v1.list_upgrades_for_specified_status(
        t.account.name, "Sleeping", "0"
    ),
    "negative index": lambda t, s: t.sdk.software_management_subscriptions_v1.get_account_license_status(
        t.account.name, "-1"
    ),
    "callback service not Fota": lambda t, s: t.sdk.software_management_callbacks_v1.register_callback(
        t.account.name, FotaV1CallbackRegistrationRequest(name="Other", url="https://hooks.example.com/x")
    ),
    "callback URL not http(s)": lambda t, s: t.sdk.software_management_callbacks_v1.register_callback(
        t.account.name, FotaV1CallbackRegistrationRequest(name="Fota", url="ftp://hooks.example.com/x")
    ),
    "deregister another service": lambda t, s: t.sdk.software_management_callbacks_v1.deregister_callback(
        t.account.name, "Other"
    ),
    "cancel list of non-IMEIs": lambda t, s: t.sdk.software_management_licenses_v1.create_list_of_licenses_to_remove(
        t.account.name, V1ListOfLicensesToRemoveRequest(["x"])
    ),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_requests_raise_the_typed_v1_error(server: RunningServer, tenant: Tenant, case: str) -> None:
    with pytest.raises(FotaV1ResultException) as exc:
        INVALID[case](tenant, server)
    assert_v1_400(exc)
