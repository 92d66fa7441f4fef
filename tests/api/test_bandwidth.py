"""v3's `bandwidth` on campaign creation: a bad one is a 400 naming the field and stores nothing, a good one is
echoed by the create response and the campaign's read, and a campaign without one answers exactly as before."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.api.test_retry_policy import CREATE_KEYS, READ_KEYS
from tests.api.test_validation import assert_error, device, luhn_imei
from tests.fota_server import Account, FotaServer

BAD_BUDGETS = [
    pytest.param([], "bandwidth", id="not-an-object"),
    pytest.param("5 MB", "bandwidth", id="a-string"),
    pytest.param(5000, "bandwidth", id="a-number"),
    pytest.param({}, "bandwidth.bytesPerHour must be a whole number", id="empty"),
    pytest.param({"bytesPerHour": 5000, "burst": 1}, "bandwidth.burst is not a field", id="unknown-field"),
    pytest.param({"bytesperhour": 5000}, "bandwidth.bytesperhour is not a field", id="misspelt"),
    pytest.param({"bytesPerHour": 1023}, "bandwidth.bytesPerHour", id="below-one-block"),
    pytest.param({"bytesPerHour": 10**15 + 1}, "bandwidth.bytesPerHour", id="too-large"),
    pytest.param({"bytesPerHour": "5000"}, "bandwidth.bytesPerHour", id="as-text"),
    pytest.param({"bytesPerHour": 5000.5}, "bandwidth.bytesPerHour", id="fractional"),
    pytest.param({"bytesPerHour": True}, "bandwidth.bytesPerHour", id="a-boolean"),
    pytest.param({"bytesPerHour": None}, "bandwidth.bytesPerHour", id="null-limit"),
]


@pytest.fixture(scope="module")
def owner(in_process_server: FotaServer) -> tuple[Account, dict[str, str]]:
    return in_process_server.new_account(license_count=50), in_process_server.new_firmware()


def body(server: FotaServer, firmware: dict[str, str], imei: str, **extra: Any) -> dict[str, Any]:
    today = server.now().date()
    return {
        "firmwareName": firmware["firmwareName"],
        "firmwareFrom": firmware["firmwareFrom"],
        "firmwareTo": firmware["firmwareTo"],
        "protocol": "LWM2M",
        "startDate": (today + timedelta(days=3)).isoformat(),
        "endDate": (today + timedelta(days=6)).isoformat(),
        "deviceList": [imei],
        "autoAssignLicenseFlag": True,
        "autoAddDevicesFlag": False,
        "campaignName": "bandwidth",
        **extra,
    }


def queued(account: Account) -> set[str]:
    with account.client() as client:
        r = client.get(f"/reports/{account.name}/campaigns", params={"campaignStatus": "CampaignQueued"})
    assert r.status_code == 200, r.text
    return {c["id"] for c in r.json().get("campaignList") or []}


@pytest.mark.parametrize(("budget", "message"), BAD_BUDGETS)
def test_a_bad_bandwidth_is_400_naming_the_field(
    in_process_server: FotaServer, owner: tuple[Account, dict[str, str]], budget: Any, message: str
) -> None:
    account, firmware = owner
    imei = luhn_imei()
    account.add_devices([device(firmware, imei)])
    before = queued(account)
    with account.client() as client:
        r = client.post(
            f"/campaigns/firmware/{account.name}", json=body(in_process_server, firmware, imei, bandwidth=budget)
        )
    error = assert_error(r, 400, "InvalidRequest")
    assert message in error["errorMessage"], error
    assert queued(account) == before


@pytest.mark.parametrize("limit", [1024, 5_000_000_000, 10**15])
def test_a_bandwidth_is_stored_and_echoed(
    in_process_server: FotaServer, owner: tuple[Account, dict[str, str]], limit: int
) -> None:
    account, firmware = owner
    imei = luhn_imei()
    account.add_devices([device(firmware, imei)])
    budget = {"bytesPerHour": limit}
    with account.client() as client:
        r = client.post(
            f"/campaigns/firmware/{account.name}", json=body(in_process_server, firmware, imei, bandwidth=budget)
        )
        assert r.status_code == 200, r.text
        created = r.json()
        assert set(created) == CREATE_KEYS | {"bandwidth"}
        assert created["bandwidth"] == budget
        read = client.get(f"/campaigns/{account.name}/{created['id']}").json()
        assert set(read) == READ_KEYS | {"bandwidth"}
        assert read["bandwidth"] == budget


def test_a_campaign_without_a_bandwidth_answers_as_before(
    in_process_server: FotaServer, owner: tuple[Account, dict[str, str]]
) -> None:
    account, firmware = owner
    with account.client() as client:
        for extra in ({}, {"bandwidth": None}):
            imei = luhn_imei()
            account.add_devices([device(firmware, imei)])
            r = client.post(
                f"/campaigns/firmware/{account.name}", json=body(in_process_server, firmware, imei, **extra)
            )
            assert r.status_code == 200, r.text
            created = r.json()
            assert set(created) == CREATE_KEYS, extra
            read = client.get(f"/campaigns/{account.name}/{created['id']}").json()
            assert set(read) == READ_KEYS, extra
            listed = client.get(f"/reports/{account.name}/campaigns", params={"campaignStatus": "CampaignQueued"})
            listing = next(c for c in listed.json()["campaignList"] if c["id"] == created["id"])
            assert listing == created
