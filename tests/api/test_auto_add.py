"""`autoAddDevicesFlag` over real HTTP: a live campaign enrols matching devices that appear later.

A device joins (status `UpgradePending` in the campaign's device report, with a license from the pool) when
it is provisioned later through the admin API, or when its reported firmware changes to `firmwareFrom`
(re-POSTing the device through the admin devices API is an upsert). Devices of another make, model, protocol
or account do not join, nor does anything once the campaign has ended.

Enrolment may happen when the device is written or on the engine's next run; `POST /admin/v1/clock` with
`advanceSeconds: 0` runs the engine without moving the clock, so the tests call it before they look.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import pytest

from tests.fota_server import Account, FotaServer


def luhn_imei() -> str:
    """A random 15-digit IMEI with a valid Luhn check digit."""
    body = f"35{secrets.randbelow(10**12):012d}"
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return body + str((10 - total % 10) % 10)


@dataclass
class AutoCampaign:
    server: FotaServer
    account: Account
    fw: dict[str, str]
    cid: str
    seed_device: str
    headers: dict[str, str]  # the clock moves at most once per test, and tokens are renewed when it does

    def api(self) -> httpx.Client:
        return self.server.client("/api/fota/v3", headers=self.headers)

    def device(self, **changes: str) -> dict[str, str]:
        """A device matching the campaign's firmware, with `changes` applied."""
        d = {
            "deviceId": luhn_imei(),
            "mdn": f"{secrets.randbelow(10**10):010d}",
            "make": self.fw["make"],
            "model": self.fw["model"],
            "firmware": self.fw["firmwareFrom"],
            "protocol": "LWM2M",
        }
        return {**d, **changes}

    def provision(self, *devices: dict[str, str], account: Account | None = None) -> None:
        (account or self.account).add_devices(list(devices))
        self.server.advance(0)  # run the engine; the clock stays where it is

    def statuses(self) -> dict[str, str]:
        with self.api() as api:
            r = api.get(f"/reports/{self.account.name}/campaigns/{self.cid}/devices")
        assert r.status_code == 200, r.text
        return {d["deviceId"]: d["status"] for d in r.json()["deviceList"]}

    def licenses(self) -> set[str]:
        with self.api() as api:
            r = api.get(f"/licenses/{self.account.name}")
        assert r.status_code == 200, r.text
        return {d["deviceId"] for d in r.json().get("deviceList") or []}


def start_auto_campaign(
    server: FotaServer,
    license_count: int = 20,
    end_in_days: int = 5,
    make: str = "SEQUANS Communications",
    model: str = "GM01Q",
) -> AutoCampaign:
    account = server.new_account(license_count=license_count)
    fw = server.new_firmware(
        make=make,
        model=model,
        firmware_from=f"SR1.2.0.0-{secrets.randbelow(10**5):05d}",
        firmware_to=f"SR1.3.0.0-{secrets.randbelow(10**5):05d}",
    )
    seed = luhn_imei()
    account.add_devices(
        [
            {
                "deviceId": seed,
                "mdn": "5550000001",
                "make": make,
                "model": model,
                "firmware": fw["firmwareFrom"],
                "protocol": "LWM2M",
            }
        ]
    )
    today = server.now().date()
    body: dict[str, Any] = {
        "firmwareName": fw["firmwareName"],
        "firmwareFrom": fw["firmwareFrom"],
        "firmwareTo": fw["firmwareTo"],
        "protocol": "LWM2M",
        "startDate": today.isoformat(),
        "endDate": (today + timedelta(days=end_in_days)).isoformat(),
        "deviceList": [seed],
        "autoAssignLicenseFlag": True,
        "autoAddDevicesFlag": True,
        "campaignName": "auto add",
    }
    with account.client() as api:
        r = api.post(f"/campaigns/firmware/{account.name}", json=body)
        assert r.status_code == 200, r.text
        cid = r.json()["id"]
        got = api.get(f"/campaigns/{account.name}/{cid}").json()
    assert got["autoAddDevicesFlag"] is True and got["autoAssignLicenseFlag"] is True, got
    campaign = AutoCampaign(server, account, fw, cid, seed, account.headers())
    assert campaign.statuses() == {seed: "UpgradePending"}
    return campaign


@pytest.fixture
def campaign(in_process_server: FotaServer) -> AutoCampaign:
    return start_auto_campaign(in_process_server)


def test_matching_device_provisioned_later_is_enrolled_and_licensed(campaign: AutoCampaign) -> None:
    late = campaign.device()
    campaign.provision(late)
    assert campaign.statuses() == {campaign.seed_device: "UpgradePending", late["deviceId"]: "UpgradePending"}
    assert late["deviceId"] in campaign.licenses()
    with campaign.api() as api:
        history = api.get(f"/reports/{campaign.account.name}/devices/{late['deviceId']}")
    assert history.status_code == 200, history.text
    assert [(e["campaignId"], e["status"]) for e in history.json()] == [(campaign.cid, "UpgradePending")]


def test_device_whose_firmware_changes_to_firmware_from_is_enrolled(campaign: AutoCampaign) -> None:
    behind = campaign.device(firmware="SR1.1.0.0-00001")
    campaign.provision(behind)
    assert behind["deviceId"] not in campaign.statuses()
    assert behind["deviceId"] not in campaign.licenses()

    campaign.provision({**behind, "firmware": campaign.fw["firmwareFrom"]})  # the admin devices POST upserts
    assert campaign.statuses().get(behind["deviceId"]) == "UpgradePending"
    assert behind["deviceId"] in campaign.licenses()
    with campaign.api() as api:
        devices = api.post(f"/devices/{campaign.account.name}", json={"deviceList": [behind["deviceId"]]})
    assert devices.status_code == 200, devices.text
    (row,) = devices.json()["deviceList"]
    assert row["firmware"] == campaign.fw["firmwareFrom"] and row["licenseAssigned"] is True, row


def test_device_already_on_firmware_to_is_not_enrolled(campaign: AutoCampaign) -> None:
    ahead = campaign.device(firmware=campaign.fw["firmwareTo"])
    campaign.provision(ahead)
    assert ahead["deviceId"] not in campaign.statuses()


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"make": "Other Make Ltd"}, id="other-make"),
        pytest.param({"model": "GM02S"}, id="other-model"),
        pytest.param({"make": "Other Make Ltd", "model": "GM02S"}, id="other-make-and-model"),
        pytest.param({"protocol": "HTTP"}, id="other-protocol"),
    ],
)
def test_device_of_other_make_model_or_protocol_is_not_enrolled(
    campaign: AutoCampaign, changes: dict[str, str]
) -> None:
    stranger = campaign.device(**changes)
    campaign.provision(stranger)
    assert campaign.statuses() == {campaign.seed_device: "UpgradePending"}
    assert stranger["deviceId"] not in campaign.licenses()


def test_matching_device_of_another_account_is_not_enrolled(campaign: AutoCampaign) -> None:
    other = campaign.server.new_account()
    foreign = campaign.device()
    campaign.provision(foreign, account=other)
    assert campaign.statuses() == {campaign.seed_device: "UpgradePending"}
    assert campaign.licenses() == {campaign.seed_device}
    with other.client() as api:
        r = api.get(f"/licenses/{other.name}")
    assert r.status_code == 200, r.text
    assert not r.json().get("deviceList") and not r.json()["assignedLicenses"], r.json()


def test_auto_add_stops_when_the_pool_is_empty(in_process_server: FotaServer) -> None:
    server = in_process_server
    campaign = start_auto_campaign(server, license_count=1)
    late = campaign.device()
    campaign.provision(late)
    assert campaign.statuses().get(late["deviceId"]) != "UpgradePending"
    assert campaign.licenses() == {campaign.seed_device}


def test_no_auto_add_after_the_campaign_ended(private_in_process_server: FotaServer) -> None:
    private_server = private_in_process_server
    campaign = start_auto_campaign(private_server, end_in_days=0)
    today = private_server.now().date()
    private_server.set_clock(datetime.combine(today + timedelta(days=1), time(1), tzinfo=UTC))
    campaign.headers = campaign.account.headers()
    with campaign.api() as api:
        r = api.get(f"/campaigns/{campaign.account.name}/{campaign.cid}")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "CampaignEnded"

    late = campaign.device()
    behind = campaign.device(firmware="SR1.1.0.0-00001")
    campaign.provision(late, behind)
    campaign.provision({**behind, "firmware": campaign.fw["firmwareFrom"]})
    assert campaign.statuses() == {campaign.seed_device: "CampaignEnded"}
    assert campaign.licenses() == {campaign.seed_device}


def test_campaign_without_auto_add_enrols_nobody_later(in_process_server: FotaServer) -> None:
    server = in_process_server
    account = server.new_account()
    fw = server.new_firmware(firmware_from=f"SR2.0.0.0-{secrets.randbelow(10**5):05d}")
    first, late = (
        {
            "deviceId": luhn_imei(),
            "mdn": f"{secrets.randbelow(10**10):010d}",
            "make": fw["make"],
            "model": fw["model"],
            "firmware": fw["firmwareFrom"],
            "protocol": "LWM2M",
        }
        for _ in range(2)
    )
    account.add_devices([first])
    today = server.now().date()
    with account.client() as api:
        r = api.post(
            f"/campaigns/firmware/{account.name}",
            json={
                "firmwareName": fw["firmwareName"],
                "firmwareFrom": fw["firmwareFrom"],
                "firmwareTo": fw["firmwareTo"],
                "protocol": "LWM2M",
                "startDate": today.isoformat(),
                "endDate": (today + timedelta(days=3)).isoformat(),
                "deviceList": [first["deviceId"]],
                "autoAssignLicenseFlag": True,
                "autoAddDevicesFlag": False,
            },
        )
        assert r.status_code == 200, r.text
        cid = r.json()["id"]
    account.add_devices([late])
    server.advance(0)
    with account.client() as api:
        report = api.get(f"/reports/{account.name}/campaigns/{cid}/devices")
    assert report.status_code == 200, report.text
    assert {d["deviceId"] for d in report.json()["deviceList"]} == {first["deviceId"]}


def test_auto_add_flag_is_reported_by_campaign_get(campaign: AutoCampaign) -> None:
    with campaign.api() as api:
        r = api.get(f"/campaigns/{campaign.account.name}/{campaign.cid}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["autoAddDevicesFlag"], body["autoAssignLicenseFlag"]) == (True, True)
    assert (body["make"], body["model"]) == (campaign.fw["make"], campaign.fw["model"])


def test_appending_an_auto_added_device_keeps_one_pending_row(campaign: AutoCampaign) -> None:
    late = campaign.device()
    campaign.provision(late)
    with campaign.api() as api:
        r = api.put(
            f"/campaigns/firmware/{campaign.account.name}/{campaign.cid}",
            json={"Type": "append", "deviceList": [late["deviceId"]]},
        )
        assert r.status_code == 200, r.text
        (item,) = r.json()["deviceList"]
        assert item["deviceId"] == late["deviceId"]
        assert item["status"] in ("AddDeviceSucceed", "AddDeviceFailed"), item
        report = api.get(f"/reports/{campaign.account.name}/campaigns/{campaign.cid}/devices")
    rows = [d for d in report.json()["deviceList"] if d["deviceId"] == late["deviceId"]]
    assert [d["status"] for d in rows] == ["UpgradePending"], rows
