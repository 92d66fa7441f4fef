"""v3's `retryPolicy` on campaign creation: a bad one is a 400 naming the field and stores nothing, a good one is
echoed (every field filled in) by the create response, the campaign's read and its history listing, and a campaign
without one answers exactly as it did before the field existed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.api.test_validation import assert_error, device, luhn_imei
from tests.conftest import Account, RunningServer

# The v3 create response and the campaign read, key by key, of a campaign created without extension fields.
CREATE_KEYS = {
    "id",
    "accountName",
    "campaignName",
    "firmwareName",
    "firmwareFrom",
    "firmwareTo",
    "protocol",
    "make",
    "model",
    "startDate",
    "endDate",
    "campaignTimeWindowList",
    "status",
}
READ_KEYS = CREATE_KEYS | {"autoAssignLicenseFlag", "autoAddDevicesFlag", "timeWindowList"}

BAD_POLICIES = [
    pytest.param([], "retryPolicy", id="not-an-object"),
    pytest.param("3 attempts", "retryPolicy", id="a-string"),
    pytest.param({"maxAttempt": 3}, "retryPolicy.maxAttempt is not a field", id="unknown-field"),
    pytest.param({"maxAttempts": 0}, "retryPolicy.maxAttempts", id="no-attempts"),
    pytest.param({"maxAttempts": 101}, "retryPolicy.maxAttempts", id="too-many-attempts"),
    pytest.param({"maxAttempts": "3"}, "retryPolicy.maxAttempts", id="attempts-as-text"),
    pytest.param({"maxAttempts": True}, "retryPolicy.maxAttempts", id="attempts-as-boolean"),
    pytest.param({"backoffSeconds": []}, "retryPolicy.backoffSeconds", id="empty-backoff"),
    pytest.param({"backoffSeconds": 300}, "retryPolicy.backoffSeconds", id="backoff-not-a-list"),
    pytest.param({"backoffSeconds": [300, 0]}, "retryPolicy.backoffSeconds", id="zero-backoff"),
    pytest.param({"backoffSeconds": [2.5]}, "retryPolicy.backoffSeconds", id="fractional-backoff"),
    pytest.param({"backoffSeconds": [31 * 24 * 3600]}, "retryPolicy.backoffSeconds", id="backoff-too-long"),
    pytest.param({"neverRetry": "IntegrityFailure"}, "retryPolicy.neverRetry", id="never-not-a-list"),
    pytest.param({"neverRetry": ["Integrity"]}, "retryPolicy.neverRetry: unknown failure 'Integrity'", id="unknown"),
    pytest.param({"neverRetry": [5]}, "retryPolicy.neverRetry: unknown failure 5", id="result-number"),
]


@pytest.fixture(scope="module")
def account(server: RunningServer) -> tuple[Account, dict[str, str]]:
    account = server.new_account(license_count=50)
    return account, server.new_firmware()


def body(server: RunningServer, firmware: dict[str, str], imei: str, **extra: Any) -> dict[str, Any]:
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
        "campaignName": "retry policy",
        "campaignTimeWindowList": [{"startTime": 18, "endTime": 22}],
        **extra,
    }


def queued(account: Account) -> set[str]:
    with account.client() as client:
        r = client.get(f"/reports/{account.name}/campaigns", params={"campaignStatus": "CampaignQueued"})
    assert r.status_code == 200, r.text
    return {c["id"] for c in r.json().get("campaignList") or []}


@pytest.mark.parametrize(("policy", "message"), BAD_POLICIES)
def test_a_bad_retry_policy_is_400_naming_the_field(
    server: RunningServer, account: tuple[Account, dict[str, str]], policy: Any, message: str
) -> None:
    owner, firmware = account
    imei = luhn_imei()
    owner.add_devices([device(firmware, imei)])
    before = queued(owner)
    with owner.client() as client:
        r = client.post(f"/campaigns/firmware/{owner.name}", json=body(server, firmware, imei, retryPolicy=policy))
    error = assert_error(r, 400, "InvalidRequest")
    assert message in error["errorMessage"], error
    assert queued(owner) == before


def test_a_retry_policy_is_echoed_with_every_field_filled_in(
    server: RunningServer, account: tuple[Account, dict[str, str]]
) -> None:
    owner, firmware = account
    imei = luhn_imei()
    owner.add_devices([device(firmware, imei)])
    policy = {"maxAttempts": 3, "backoffSeconds": [300, 3600], "neverRetry": ["IntegrityFailure"]}
    with owner.client() as client:
        r = client.post(f"/campaigns/firmware/{owner.name}", json=body(server, firmware, imei, retryPolicy=policy))
        assert r.status_code == 200, r.text
        created = r.json()
        assert set(created) == CREATE_KEYS | {"retryPolicy"}
        assert created["retryPolicy"] == policy
        read = client.get(f"/campaigns/{owner.name}/{created['id']}").json()
        assert set(read) == READ_KEYS | {"retryPolicy"}
        assert read["retryPolicy"] == policy

        # A field left out is the server's own rule, spelled out: what the campaign will really do.
        other = luhn_imei()
        owner.add_devices([device(firmware, other)])
        partial = client.post(
            f"/campaigns/firmware/{owner.name}",
            json=body(server, firmware, other, retryPolicy={"neverRetry": []}),
        ).json()
    assert partial["retryPolicy"] == {
        "maxAttempts": 3,
        "backoffSeconds": [60, 120, 240, 480, 960, 1920, 3600],
        "neverRetry": [],
    }


def test_a_campaign_without_a_retry_policy_answers_as_before(
    server: RunningServer, account: tuple[Account, dict[str, str]]
) -> None:
    owner, firmware = account
    with owner.client() as client:
        for extra in ({}, {"retryPolicy": None}):
            imei = luhn_imei()
            owner.add_devices([device(firmware, imei)])
            r = client.post(f"/campaigns/firmware/{owner.name}", json=body(server, firmware, imei, **extra))
            assert r.status_code == 200, r.text
            created = r.json()
            assert set(created) == CREATE_KEYS, extra
            read = client.get(f"/campaigns/{owner.name}/{created['id']}").json()
            assert set(read) == READ_KEYS, extra
            listed = client.get(f"/reports/{owner.name}/campaigns", params={"campaignStatus": "CampaignQueued"})
            listing = next(c for c in listed.json()["campaignList"] if c["id"] == created["id"])
            assert listing == created
