"""Acceptance tests: Verizon's published Python SDK (`verizon` 2.0.0) driving a running fota server over HTTP.

Every v3 Software Management call, the v2 license cancel list, OAuth token and session login/logout go
through the SDK unchanged; only provisioning uses the admin API. Dates come from the server's clock.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from apimatic_core.exceptions.auth_validation_exception import AuthValidationException
from verizon.exceptions.api_exception import APIException
from verizon.exceptions.connectivity_management_result_exception import ConnectivityManagementResultException
from verizon.exceptions.fota_v3_result_exception import FotaV3ResultException
from verizon.exceptions.oauth_provider_exception import OauthProviderException
from verizon.models.campaign_firmware_upgrade import CampaignFirmwareUpgrade
from verizon.models.campaign_status_enum import CampaignStatusEnum
from verizon.models.device_imei import DeviceIMEI
from verizon.models.devices_protocol_enum import DevicesProtocolEnum
from verizon.models.firmware_imei import FirmwareIMEI
from verizon.models.firmware_protocol_enum import FirmwareProtocolEnum
from verizon.models.fota_v3_callback_registration_request import FotaV3CallbackRegistrationRequest
from verizon.models.log_in_request import LogInRequest
from verizon.models.oauth_provider_error_enum import OauthProviderErrorEnum
from verizon.models.v2_list_of_licenses_to_remove_request import V2ListOfLicensesToRemoveRequest
from verizon.models.v3_add_or_remove_device_request import V3AddOrRemoveDeviceRequest
from verizon.models.v3_change_campaign_dates_request import V3ChangeCampaignDatesRequest
from verizon.models.v3_license_imei import V3LicenseIMEI
from verizon.models.v3_time_window import V3TimeWindow
from verizon.verizon_client import VerizonClient

from tests.api.sdk_client import sdk_client, sdk_session, session_token_of
from tests.conftest import Account, RunningServer

MAKE, MODEL = "SEQUANS Communications", "GM01Q"
FROM_FW, TO_FW = "SR1.2.0.0-10512", "SR1.2.0.0-10657"
WINDOWS = ((1, 5), (18, 22))
PAGE = 1000
FLEET_SIZE = PAGE + 5


# --- helpers ---------------------------------------------------------------------------------------------


def luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str(-total % 10)


def new_imeis(n: int) -> list[str]:
    """`n` distinct random 15-digit IMEIs (with a valid Luhn check digit), ascending."""
    imeis: set[str] = set()
    while len(imeis) < n:
        body = f"35{secrets.randbelow(10**12):012d}"
        imeis.add(body + luhn_digit(body))
    return sorted(imeis)


def device(imei: str, firmware: str = FROM_FW, protocol: str = "LWM2M") -> dict[str, str]:
    return {
        "deviceId": imei,
        "mdn": f"5{secrets.randbelow(10**9):09d}",
        "make": MAKE,
        "model": MODEL,
        "firmware": firmware,
        "protocol": protocol,
    }


def provision(account: Account, n: int, **kwargs: str) -> list[dict[str, str]]:
    """`n` new devices on the account in one admin call, ascending by IMEI."""
    devices = [device(imei, **kwargs) for imei in new_imeis(n)]
    account.add_devices(devices)
    return devices


def today(server: RunningServer) -> date:
    return server.now().date()


def days_from_today(server: RunningServer, start: int, end: int) -> tuple[date, date]:
    """Dates `start` and `end` days after the server's today (3+ days keeps a campaign `CampaignQueued`)."""
    now = today(server)
    return now + timedelta(days=start), now + timedelta(days=end)


def opt(model: Any, name: str) -> Any:
    """An optional model attribute: the SDK leaves it unset when the key is absent, 0, "" or empty."""
    return getattr(model, name, None)


def windows(model: Any) -> list[tuple[int | None, int | None]]:
    return [(w.start_time, w.end_time) for w in opt(model, "campaign_time_window_list") or []]


def campaign_body(
    firmware: dict[str, str],
    devices: list[str],
    start: date,
    end: date,
    *,
    campaign_name: str | None = None,
    window_list: tuple[tuple[int, int], ...] = WINDOWS,
    auto_assign: bool = True,
    auto_add: bool = False,
    firmware_name: str | None = None,
) -> CampaignFirmwareUpgrade:
    return CampaignFirmwareUpgrade(
        firmware_name=firmware_name or firmware["firmwareName"],
        firmware_from=firmware["firmwareFrom"],
        firmware_to=firmware["firmwareTo"],
        protocol="LWM2M",
        start_date=start,
        end_date=end,
        device_list=devices,
        auto_assign_license_flag=auto_assign,
        auto_add_devices_flag=auto_add,
        campaign_name=campaign_name or f"sdk-{uuid.uuid4().hex[:8]}",
        campaign_time_window_list=[V3TimeWindow(start_time=s, end_time=e) for s, e in window_list],
    )


def create_campaign(
    sdk: VerizonClient,
    account: Account,
    firmware: dict[str, str],
    devices: list[str],
    server: RunningServer,
    **kwargs: Any,
) -> Any:
    start, end = days_from_today(server, 3, 5)
    body = campaign_body(firmware, devices, start, end, **kwargs)
    return sdk.campaigns_v3.schedule_campaign_firmware_upgrade(account.name, body).body


def walk_pages(fetch: Callable[[str | None], Any]) -> list[Any]:
    """Every page of a paged v3 list, passing each page's `lastSeenDeviceId` back as the SDK does."""
    pages = [fetch(None)]
    while pages[-1].has_more_data:
        last_seen = opt(pages[-1], "last_seen_device_id")
        assert last_seen, "hasMoreData is true but lastSeenDeviceId is missing"
        assert len(pages) < 10, "paging does not terminate"
        pages.append(fetch(last_seen))
    return pages


def assert_paged_exactly_once(pages: list[Any], expected_ids: list[str]) -> None:
    ids = [d.device_id for p in pages for d in p.device_list]
    assert [len(p.device_list) for p in pages] == [PAGE, len(expected_ids) - PAGE]
    assert [p.has_more_data for p in pages] == [True, False]
    assert [p.max_page_size for p in pages] == [PAGE, PAGE]
    assert pages[0].last_seen_device_id == pages[0].device_list[-1].device_id
    assert len(set(ids)) == len(ids), "a device appears on more than one page"
    assert ids == expected_ids


def assert_fota_400(exc: pytest.ExceptionInfo[FotaV3ResultException], error_code: str) -> None:
    assert exc.value.response_code == 400, exc.value.response.text
    assert exc.value.error_message, exc.value.response.text
    assert exc.value.error_code == error_code, exc.value.response.text


# --- fixtures --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def account(server: RunningServer) -> Account:
    """One account per backend, shared by the tests that look only at their own devices and campaigns.

    Tests of account-wide state (licence pool, callbacks, cancel list, campaign and device lists, logout)
    take a fresh `tenant` instead.
    """
    return server.new_account(license_count=1000)


@pytest.fixture(scope="module")
def sdk(account: Account) -> VerizonClient:
    return sdk_session(account)


@dataclass
class Tenant:
    account: Account
    sdk: VerizonClient


@pytest.fixture
def tenant(server: RunningServer) -> Tenant:
    """A fresh account of its own, with an SDK session."""
    account = server.new_account()
    return Tenant(account, sdk_session(account))


@pytest.fixture
def firmware(server: RunningServer) -> dict[str, str]:
    return server.new_firmware(make=MAKE, model=MODEL, firmware_from=FROM_FW, firmware_to=TO_FW)


@dataclass
class Fleet:
    """An account with more than one page of devices, all licensed and all in one campaign."""

    account: Account
    sdk: VerizonClient
    imeis: list[str]
    campaign_id: str


@pytest.fixture(scope="module")
def fleet(server: RunningServer) -> Fleet:
    account = server.new_account(license_count=FLEET_SIZE + 95)
    imeis = [d["deviceId"] for d in provision(account, FLEET_SIZE)]
    sdk = sdk_session(account)
    licenses = sdk.software_management_licenses_v3
    assigned = licenses.assign_licenses_to_devices(account.name, V3LicenseIMEI(imeis))
    assert assigned.body.lic_used_count == FLEET_SIZE, assigned.text
    firmware = server.new_firmware(make=MAKE, model=MODEL, firmware_from=FROM_FW, firmware_to=TO_FW)
    campaign = create_campaign(sdk, account, firmware, imeis, server, auto_assign=False)
    return Fleet(account, sdk, imeis, campaign.id)


# --- auth ------------------------------------------------------------------------------------------------


def test_token_endpoint_issues_bearer_token_to_sdk(account: Account) -> None:
    client = sdk_client(account.server.base_url, account.client_id, account.client_secret)
    token = client.thingspace_oauth.fetch_token()
    assert token.access_token
    assert token.token_type.lower() == "bearer"
    assert token.expires_in == 3600


def test_token_endpoint_rejects_wrong_secret_with_oauth_error(account: Account) -> None:
    client = sdk_client(account.server.base_url, account.client_id, account.client_secret + "x")
    with pytest.raises(OauthProviderException) as exc:
        client.thingspace_oauth.fetch_token()
    assert exc.value.response_code in (400, 401)
    assert exc.value.error == OauthProviderErrorEnum.INVALID_CLIENT


def test_session_login_through_sdk_gives_token_accepted_by_fota_calls(account: Account) -> None:
    sdk = sdk_session(account)
    assert session_token_of(sdk)
    subscription = sdk.software_management_subscriptions_v3.get_account_subscription_status(account.name).body
    assert subscription.account_name == account.name


def test_session_login_with_wrong_password_raises_typed_error(account: Account) -> None:
    client = sdk_client(account.server.base_url, account.client_id, account.client_secret)
    with pytest.raises(ConnectivityManagementResultException) as exc:
        client.session_management.start_connectivity_management_session(
            LogInRequest(username=account.username, password=account.password + "x")
        )
    assert exc.value.response_code == 400
    assert exc.value.error_message


def test_fota_call_without_session_token_is_refused_locally(account: Account) -> None:
    client = sdk_client(account.server.base_url, account.client_id, account.client_secret)
    with pytest.raises(AuthValidationException, match="vz_m2m_token is undefined"):
        client.software_management_subscriptions_v3.get_account_subscription_status(account.name)


def test_logout_returns_the_session_token_and_invalidates_it(tenant: Tenant) -> None:
    account, sdk = tenant.account, tenant.sdk
    token = session_token_of(sdk)
    logout = sdk.session_management.end_connectivity_management_session()
    assert logout.body.session_token == token
    with pytest.raises(APIException) as exc:
        sdk.software_management_subscriptions_v3.get_account_subscription_status(account.name)
    assert type(exc.value) is APIException
    assert exc.value.response_code == 401


# --- subscription, licenses ------------------------------------------------------------------------------


def test_subscription_reports_provisioned_license_count(server: RunningServer) -> None:
    account = server.new_account(license_count=37, purchase_type="TS-HFOTA-MRC")
    subscription = (
        sdk_session(account).software_management_subscriptions_v3.get_account_subscription_status(account.name).body
    )
    assert subscription.account_name == account.name
    assert subscription.license_count == 37
    assert subscription.purchase_type == "TS-HFOTA-MRC"
    assert opt(subscription, "license_used_count") is None  # 0 is dropped (contract §3)


def test_license_assign_and_remove_move_the_counts(server: RunningServer) -> None:
    account = server.new_account(license_count=10)
    sdk = sdk_session(account)
    licenses = sdk.software_management_licenses_v3
    a, b, c = (d["deviceId"] for d in provision(account, 3))

    summary = licenses.get_account_licenses_status(account.name).body
    assert (summary.account_name, summary.total_licenses) == (account.name, 10)
    assert summary.assigned_licenses is None  # 0 comes back as None
    assert summary.has_more_data is False

    assigned = licenses.assign_licenses_to_devices(account.name, V3LicenseIMEI([a, b])).body
    assert (assigned.account_name, assigned.lic_count, assigned.lic_used_count) == (account.name, 10, 2)
    assert {(d.device_id, d.status) for d in assigned.device_list} == {
        (a, "LicenseAssignSuccess"),
        (b, "LicenseAssignSuccess"),
    }

    again = licenses.assign_licenses_to_devices(account.name, V3LicenseIMEI([a])).body
    assert again.lic_used_count == 2  # an already licensed device does not use another license
    assert [(d.device_id, d.status) for d in again.device_list] == [(a, "LicenseAssignSuccess")]

    summary = licenses.get_account_licenses_status(account.name).body
    assert (summary.total_licenses, summary.assigned_licenses, summary.max_page_size) == (10, 2, PAGE)
    assert sorted(d.device_id for d in summary.device_list) == sorted([a, b])
    subscription = sdk.software_management_subscriptions_v3.get_account_subscription_status(account.name).body
    assert (subscription.license_count, subscription.license_used_count) == (10, 2)

    removed = licenses.remove_licenses_from_devices(account.name, V3LicenseIMEI([a, c])).body
    assert (removed.lic_count, removed.lic_used_count) == (10, 1)
    statuses = {d.device_id: d for d in removed.device_list}
    assert statuses[a].status == "LicenseRemoveSuccess"
    assert statuses[c].status == "LicenseRemoveFailed"
    assert statuses[c].result_reason

    summary = licenses.get_account_licenses_status(account.name).body
    assert summary.assigned_licenses == 1
    assert [d.device_id for d in summary.device_list] == [b]


def test_license_summary_pages_with_last_seen_device_id(fleet: Fleet) -> None:
    licenses = fleet.sdk.software_management_licenses_v3
    pages = walk_pages(lambda last: licenses.get_account_licenses_status(fleet.account.name, last).body)
    assert_paged_exactly_once(pages, fleet.imeis)
    assert {(p.total_licenses, p.assigned_licenses) for p in pages} == {(FLEET_SIZE + 95, FLEET_SIZE)}


# --- campaigns -------------------------------------------------------------------------------------------


def test_created_campaign_is_queued_and_get_returns_the_fields_sent(
    server: RunningServer, account: Account, sdk: VerizonClient, firmware: dict[str, str]
) -> None:
    imeis = [d["deviceId"] for d in provision(account, 2)]
    start, end = days_from_today(server, 3, 5)
    name = f"sdk-create-{uuid.uuid4().hex[:6]}"
    body = campaign_body(firmware, imeis, start, end, campaign_name=name)
    created = sdk.campaigns_v3.schedule_campaign_firmware_upgrade(account.name, body).body

    assert created.id
    assert (created.account_name, created.campaign_name) == (account.name, name)
    assert created.status == "CampaignQueued"
    assert (created.firmware_name, created.firmware_from, created.firmware_to) == (
        firmware["firmwareName"],
        FROM_FW,
        TO_FW,
    )
    assert (created.protocol, created.make, created.model) == ("LWM2M", MAKE, MODEL)
    assert (created.start_date, created.end_date) == (start, end)
    assert windows(created) == list(WINDOWS)

    response = sdk.campaigns_v3.get_campaign_information(account.name, created.id)
    campaign = response.body
    assert (campaign.id, campaign.account_name, campaign.campaign_name) == (created.id, account.name, name)
    assert campaign.status == "CampaignQueued"
    assert (campaign.firmware_name, campaign.firmware_from, campaign.firmware_to) == (
        firmware["firmwareName"],
        FROM_FW,
        TO_FW,
    )
    assert (campaign.protocol, campaign.make, campaign.model) == ("LWM2M", MAKE, MODEL)
    assert (campaign.start_date, campaign.end_date) == (start, end)
    assert windows(campaign) == list(WINDOWS)
    assert campaign.auto_assign_license_flag is True
    assert campaign.auto_add_devices_flag is False

    raw = json.loads(response.text)
    assert (raw["startDate"], raw["endDate"]) == (start.isoformat(), end.isoformat())  # YYYY-MM-DD on the wire
    expected_windows = [{"startTime": s, "endTime": e} for s, e in WINDOWS]
    assert raw["campaignTimeWindowList"] == expected_windows
    assert raw["timeWindowList"] == expected_windows


def test_campaign_device_report_gives_every_listed_device_a_status(
    server: RunningServer, account: Account, sdk: VerizonClient, firmware: dict[str, str]
) -> None:
    eligible = [d["deviceId"] for d in provision(account, 2)]
    [wrong_firmware] = [d["deviceId"] for d in provision(account, 1, firmware="SR0.9.9.9-00001")]
    campaign = create_campaign(sdk, account, firmware, [*eligible, wrong_firmware], server)

    report = sdk.software_management_reports_v3.get_campaign_device_status(account.name, campaign.id).body
    assert report.has_more_data is False
    assert report.max_page_size == PAGE
    assert report.total_device == 3
    statuses = {d.device_id: d for d in report.device_list}
    assert sorted(statuses) == sorted([*eligible, wrong_firmware])
    assert {statuses[i].status for i in eligible} == {"UpgradePending"}
    assert statuses[wrong_firmware].status == "DeviceRejected"
    assert statuses[wrong_firmware].result_reason


def test_campaign_device_report_pages_with_last_seen_device_id(fleet: Fleet) -> None:
    reports = fleet.sdk.software_management_reports_v3
    pages = walk_pages(
        lambda last: reports.get_campaign_device_status(fleet.account.name, fleet.campaign_id, last).body
    )
    assert_paged_exactly_once(pages, fleet.imeis)
    assert {d.status for p in pages for d in p.device_list} == {"UpgradePending"}


def test_add_and_remove_devices_answer_per_device(
    server: RunningServer, account: Account, sdk: VerizonClient, firmware: dict[str, str]
) -> None:
    first, second, added = (d["deviceId"] for d in provision(account, 3))
    unknown = new_imeis(1)[0]
    campaign = create_campaign(sdk, account, firmware, [first, second], server)
    campaigns = sdk.campaigns_v3

    append = V3AddOrRemoveDeviceRequest(mtype="append", device_list=[added, unknown])
    result = campaigns.update_campaign_firmware_devices(account.name, campaign.id, append).body
    assert (result.account_name, result.campaign_id) == (account.name, campaign.id)
    items = {d.device_id: d for d in result.device_list}
    assert items[added].status == "AddDeviceSucceed"
    assert items[unknown].status == "AddDeviceFailed"
    assert items[unknown].reason

    result = campaigns.update_campaign_firmware_devices(
        account.name, campaign.id, V3AddOrRemoveDeviceRequest(mtype="remove", device_list=[second])
    ).body
    assert [(d.device_id, d.status) for d in result.device_list] == [(second, "RemoveDeviceSucceed")]

    report = sdk.software_management_reports_v3.get_campaign_device_status(account.name, campaign.id).body
    statuses = {d.device_id: d.status for d in report.device_list}
    assert statuses[first] == statuses[added] == "UpgradePending"
    assert statuses[second] == "DeviceRemoved"


def test_change_dates_replaces_dates_and_windows(
    server: RunningServer, account: Account, sdk: VerizonClient, firmware: dict[str, str]
) -> None:
    imeis = [d["deviceId"] for d in provision(account, 1)]
    campaign = create_campaign(sdk, account, firmware, imeis, server)
    start, end = days_from_today(server, 4, 9)
    body = V3ChangeCampaignDatesRequest(
        start_date=start, end_date=end, campaign_time_window_list=[V3TimeWindow(start_time=2, end_time=6)]
    )
    changed = sdk.campaigns_v3.update_campaign_dates(account.name, campaign.id, body).body
    assert (changed.id, changed.start_date, changed.end_date) == (campaign.id, start, end)
    assert windows(changed) == [(2, 6)]
    assert changed.firmware_name == firmware["firmwareName"]

    fetched = sdk.campaigns_v3.get_campaign_information(account.name, campaign.id).body
    assert (fetched.start_date, fetched.end_date, windows(fetched)) == (start, end, [(2, 6)])
    assert fetched.status == "CampaignQueued"


def test_cancel_before_start_cancels_and_a_final_campaign_cannot_change(
    server: RunningServer, account: Account, sdk: VerizonClient, firmware: dict[str, str]
) -> None:
    first, other = (d["deviceId"] for d in provision(account, 2))
    campaign = create_campaign(sdk, account, firmware, [first], server)

    cancelled = sdk.campaigns_v3.cancel_campaign(account.name, campaign.id).body
    assert cancelled.success is True
    fetched = sdk.campaigns_v3.get_campaign_information(account.name, campaign.id).body
    assert fetched.status == "CampaignCancelled"
    report = sdk.software_management_reports_v3.get_campaign_device_status(account.name, campaign.id).body
    assert [(d.device_id, d.status) for d in report.device_list] == [(first, "CampaignCancelled")]

    with pytest.raises(FotaV3ResultException) as exc:
        sdk.campaigns_v3.cancel_campaign(account.name, campaign.id)
    assert_fota_400(exc, "InvalidCampaignState")
    with pytest.raises(FotaV3ResultException) as exc:
        sdk.campaigns_v3.update_campaign_firmware_devices(
            account.name, campaign.id, V3AddOrRemoveDeviceRequest(mtype="append", device_list=[other])
        )
    assert_fota_400(exc, "InvalidCampaignState")


INVALID_CAMPAIGNS: dict[str, dict[str, Any]] = {
    "window shorter than 4 hours": {"window_list": ((10, 12),)},
    "end date before start date": {"dates": (3, 1)},
    "start date before today": {"dates": (-1, 2)},
    "unknown firmware": {"firmware_name": "no-such-firmware"},
    "auto add without auto assign": {"auto_add": True, "auto_assign": False},
}


@pytest.mark.parametrize("case", list(INVALID_CAMPAIGNS))
def test_invalid_campaign_is_rejected_with_typed_400(
    server: RunningServer,
    account: Account,
    sdk: VerizonClient,
    firmware: dict[str, str],
    case: str,
) -> None:
    imeis = [d["deviceId"] for d in provision(account, 1)]
    kwargs = dict(INVALID_CAMPAIGNS[case])
    start, end = days_from_today(server, *kwargs.pop("dates", (3, 5)))
    if "firmware_name" in kwargs:
        kwargs["firmware_name"] += f"-{uuid.uuid4().hex[:8]}"
    body = campaign_body(firmware, imeis, start, end, **kwargs)
    with pytest.raises(FotaV3ResultException) as exc:
        sdk.campaigns_v3.schedule_campaign_firmware_upgrade(account.name, body)
    assert_fota_400(exc, "InvalidRequest")


def test_change_dates_with_end_before_start_is_rejected_with_typed_400(
    server: RunningServer, account: Account, sdk: VerizonClient, firmware: dict[str, str]
) -> None:
    campaign = create_campaign(sdk, account, firmware, [d["deviceId"] for d in provision(account, 1)], server)
    start, end = days_from_today(server, 3, 5)
    body = V3ChangeCampaignDatesRequest(
        start_date=end, end_date=start, campaign_time_window_list=[V3TimeWindow(start_time=2, end_time=6)]
    )
    with pytest.raises(FotaV3ResultException) as exc:
        sdk.campaigns_v3.update_campaign_dates(account.name, campaign.id, body)
    assert_fota_400(exc, "InvalidRequest")


# --- reports ---------------------------------------------------------------------------------------------


def test_campaigns_by_status_accept_both_queued_spellings_and_the_v3_alias(
    server: RunningServer, tenant: Tenant, firmware: dict[str, str]
) -> None:
    account, sdk = tenant.account, tenant.sdk
    first, second = (d["deviceId"] for d in provision(account, 2))
    queued = create_campaign(sdk, account, firmware, [first], server)
    cancelled = create_campaign(sdk, account, firmware, [second], server)
    sdk.campaigns_v3.cancel_campaign(account.name, cancelled.id)
    reports = sdk.software_management_reports_v3

    for status in (CampaignStatusEnum.CAMPAIGNREQUESTQUEUED, "CampaignQueued"):
        history = reports.get_campaign_history_by_status(account.name, status).body
        assert history.has_more_data is False
        assert [c.id for c in history.campaign_list] == [queued.id]
        [meta] = history.campaign_list
        assert (meta.account_name, meta.status, meta.firmware_name) == (
            account.name,
            "CampaignQueued",
            firmware["firmwareName"],
        )
        assert (meta.make, meta.model, meta.start_date, meta.end_date) == (
            MAKE,
            MODEL,
            queued.start_date,
            queued.end_date,
        )
        assert windows(meta) == list(WINDOWS)

    history = reports.get_campaign_history_by_status(account.name, CampaignStatusEnum.CAMPAIGNCANCELLED).body
    assert [c.id for c in history.campaign_list] == [cancelled.id]

    with account.client() as http:
        r = http.get(f"/reports/{account.name}/campaigns", params={"campaignStatus": "CampaignRequestQueued"})
    assert r.status_code == 200, r.text
    assert [c["id"] for c in r.json()["campaignList"]] == [queued.id]


def test_device_history_lists_the_campaigns_of_a_device(
    server: RunningServer, account: Account, sdk: VerizonClient, firmware: dict[str, str]
) -> None:
    [imei] = [d["deviceId"] for d in provision(account, 1)]
    campaign = create_campaign(sdk, account, firmware, [imei], server)
    history = sdk.software_management_reports_v3.get_device_firmware_upgrade_history(account.name, imei).body
    assert isinstance(history, list)
    [entry] = [h for h in history if h.campaign_id == campaign.id]
    assert (entry.device_id, entry.account_name, entry.status) == (imei, account.name, "UpgradePending")
    assert (entry.firmware_name, entry.firmware_from, entry.firmware_to) == (
        firmware["firmwareName"],
        FROM_FW,
        TO_FW,
    )
    assert entry.start_date == campaign.start_date


# --- firmware --------------------------------------------------------------------------------------------


def test_firmware_list_filters_by_protocol(
    server: RunningServer, account: Account, sdk: VerizonClient, firmware: dict[str, str]
) -> None:
    http_firmware = server.new_firmware(model="HTTP-MODEL", protocol="HTTP")
    firmware_v3 = sdk.firmware_v3

    lwm2m = {
        f.firmware_name: f for f in firmware_v3.list_available_firmware(account.name, FirmwareProtocolEnum.LW_M2M).body
    }
    package = lwm2m[firmware["firmwareName"]]
    assert (package.firmware_from, package.firmware_to, package.make, package.model, package.protocol) == (
        FROM_FW,
        TO_FW,
        MAKE,
        MODEL,
        "LWM2M",
    )
    assert package.release_note == "test release"
    assert isinstance(package.launch_date.datetime, datetime)  # the SDK wraps RFC 3339 values
    assert http_firmware["firmwareName"] not in lwm2m
    assert {f.protocol for f in lwm2m.values()} == {"LWM2M"}

    everything = {
        f.firmware_name for f in firmware_v3.list_available_firmware(account.name, FirmwareProtocolEnum.ALL).body
    }
    assert {firmware["firmwareName"], http_firmware["firmwareName"]} <= everything


def test_firmware_sync_returns_each_devices_firmware(account: Account, sdk: VerizonClient) -> None:
    devices = provision(account, 2)
    result = sdk.firmware_v3.synchronize_device_firmware(
        account.name, FirmwareIMEI([d["deviceId"] for d in devices])
    ).body
    assert result.account_name == account.name
    versions = {v.device_id: v.firmware_version for v in result.device_firmwar_version_list}
    assert versions == {d["deviceId"]: d["firmware"] for d in devices}


def test_async_firmware_report_returns_a_request_id(account: Account, sdk: VerizonClient) -> None:
    [dev] = provision(account, 1)
    result = sdk.firmware_v3.report_device_firmware(account.name, dev["deviceId"]).body
    assert result.account_name == account.name
    assert result.request_id


# --- callbacks -------------------------------------------------------------------------------------------


def test_callback_register_read_update_deregister(tenant: Tenant) -> None:
    account, sdk = tenant.account, tenant.sdk
    callbacks = sdk.software_management_callbacks_v3
    first = f"https://hooks.example.com/fota/{uuid.uuid4().hex}"
    second = f"https://hooks.example.com/fota/{uuid.uuid4().hex}"

    registered = callbacks.register_callback(account.name, FotaV3CallbackRegistrationRequest(url=first))
    assert registered.body.url == first
    assert callbacks.list_registered_callbacks(account.name).body.url == first
    updated = callbacks.update_callback(account.name, FotaV3CallbackRegistrationRequest(url=second))
    assert updated.body.url == second
    assert callbacks.list_registered_callbacks(account.name).body.url == second
    assert callbacks.deregister_callback(account.name).body.success is True


# --- account devices -------------------------------------------------------------------------------------


def test_account_devices_get_lists_provisioned_devices_with_firmware(tenant: Tenant) -> None:
    account, sdk = tenant.account, tenant.sdk
    lwm2m = provision(account, 3)
    [http_device] = provision(account, 1, protocol="HTTP")
    sdk.software_management_licenses_v3.assign_licenses_to_devices(account.name, V3LicenseIMEI([lwm2m[0]["deviceId"]]))

    listing = sdk.account_devices.get_account_device_information(account.name).body
    assert (listing.account_name, listing.has_more_data, listing.max_page_size) == (account.name, False, PAGE)
    got = {d.device_id: d for d in listing.device_list}
    assert sorted(got) == [d["deviceId"] for d in lwm2m]
    for dev in lwm2m:
        item = got[dev["deviceId"]]
        assert (item.mdn, item.make, item.model, item.firmware, item.protocol) == (
            dev["mdn"],
            MAKE,
            MODEL,
            dev["firmware"],
            "LWM2M",
        )
    assert [got[d["deviceId"]].license_assigned for d in lwm2m] == [True, False, False]

    http_listing = sdk.account_devices.get_account_device_information(
        account.name, protocol=DevicesProtocolEnum.HTTP
    ).body
    assert [(d.device_id, d.protocol) for d in http_listing.device_list] == [(http_device["deviceId"], "HTTP")]


def test_account_devices_get_pages_with_last_seen_device_id(fleet: Fleet) -> None:
    devices = fleet.sdk.account_devices
    pages = walk_pages(lambda last: devices.get_account_device_information(fleet.account.name, last).body)
    assert_paged_exactly_once(pages, fleet.imeis)
    assert {p.account_name for p in pages} == {fleet.account.name}
    assert {(d.firmware, d.license_assigned) for p in pages for d in p.device_list} == {(FROM_FW, True)}


def test_account_devices_post_returns_the_requested_devices(account: Account, sdk: VerizonClient) -> None:
    devices = provision(account, 3)
    wanted = devices[:2]
    result = sdk.account_devices.list_account_devices_information(
        account.name, DeviceIMEI([d["deviceId"] for d in wanted])
    ).body
    assert (result.account_name, result.device_count) == (account.name, 2)
    got = {d.device_id: d for d in result.device_list}
    assert sorted(got) == [d["deviceId"] for d in wanted]
    for dev in wanted:
        assert (got[dev["deviceId"]].firmware, got[dev["deviceId"]].mdn) == (dev["firmware"], dev["mdn"])


# --- v2 cancel list --------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::deprecation.DeprecatedWarning")
def test_v2_license_cancel_list_create_append_read_delete(tenant: Tenant) -> None:
    account, sdk = tenant.account, tenant.sdk
    a, b, c = (d["deviceId"] for d in provision(account, 3))
    sdk.software_management_licenses_v3.assign_licenses_to_devices(account.name, V3LicenseIMEI([a, b, c]))
    licenses_v2 = sdk.software_management_licenses_v2

    created = licenses_v2.create_list_of_licenses_to_remove(
        account.name, V2ListOfLicensesToRemoveRequest(device_list=[a, b])
    ).body
    assert created.count == 2
    assert sorted(created.device_list) == sorted([a, b])

    listing = licenses_v2.list_licenses_to_remove(account.name).body
    assert (listing.count, listing.has_more_data) == (2, False)
    assert sorted(listing.device_list) == sorted([a, b])

    licenses_v2.create_list_of_licenses_to_remove(
        account.name, V2ListOfLicensesToRemoveRequest(device_list=[c], mtype="append")
    )
    listing = licenses_v2.list_licenses_to_remove(account.name).body
    assert listing.count == 3
    assert sorted(listing.device_list) == sorted([a, b, c])

    # without `type` the list is replaced
    replace = V2ListOfLicensesToRemoveRequest(device_list=[c])
    licenses_v2.create_list_of_licenses_to_remove(account.name, replace)
    assert licenses_v2.list_licenses_to_remove(account.name).body.device_list == [c]

    assert licenses_v2.delete_list_of_licenses_to_remove(account.name).body.success is True
    listing = licenses_v2.list_licenses_to_remove(account.name).body
    assert listing.count is None  # 0 and [] come back as None (contract §3)
    assert listing.device_list is None
