"""Follow-up campaigns (`POST /campaigns/{acc}/{id}/follow-up`, fota-extensions.md §2): exactly the devices of a
finished campaign that did not reach UpgradeSuccess and can still take it, each with its `carriedReason`; the
source recorded as `followUpOf`; 404, 409 and create's 400s. Devices speak the HTTP device protocol, so that a
campaign finishes with real successes and failures."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select, update

from fota.adapters.storage.database import make_engine
from fota.adapters.storage.tables import devices, history
from tests.api.test_validation import assert_error, luhn_imei
from tests.fota_server import Account, FotaServer

IMAGE = bytes(range(256)) * 4
MAKE, MODEL, FROM, TO = "Acme", "Follow-7", "1.0", "2.0"


class Fleet:
    """An account, an HTTP firmware with its image, and devices with their keys."""

    def __init__(self, server: FotaServer) -> None:
        self.server = server
        self.account = server.new_account(license_count=50)
        self.firmware = server.new_firmware(make=MAKE, model=MODEL, firmware_from=FROM, firmware_to=TO, protocol="HTTP")
        r = server.admin.put(f"/firmware/{self.firmware['firmwareName']}/image", content=IMAGE)
        assert r.status_code == 200, r.text
        self.keys: dict[str, str] = {}

    def add(self, count: int, firmware: str = FROM) -> list[str]:
        imeis = [luhn_imei() for _ in range(count)]
        self.account.add_devices(
            [{"deviceId": i, "make": MAKE, "model": MODEL, "firmware": firmware, "protocol": "HTTP"} for i in imeis]
        )
        for imei in imeis:
            r = self.server.admin.post(f"/accounts/{self.account.name}/devices/{imei}/key")
            assert r.status_code == 201, r.text
            self.keys[imei] = r.json()["deviceKey"]
        return imeis

    def check_in(self, imei: str, firmware: str, state: int = 0, result: int = 0) -> dict[str, Any]:
        r = self.server.http.post(
            f"/device/v1/devices/{imei}/checkin",
            json={"firmware": firmware, "state": state, "updateResult": result},
            headers={"Authorization": f"Bearer {self.keys[imei]}"},
        )
        assert r.status_code == 200, r.text
        answer: dict[str, Any] = r.json()
        return answer

    def upgrade(self, imei: str, *, succeed: bool) -> None:
        assert self.check_in(imei, FROM)["action"] == "download"
        if succeed:
            assert self.check_in(imei, FROM, state=2)["action"] == "update"
            self.check_in(imei, TO, state=0, result=1)
        else:
            self.check_in(imei, FROM, state=0, result=6)  # unsupported package: final, never retried

    def create(self, imeis: list[str], **extra: Any) -> str:
        # Today where the campaign's dates are read: in Berlin it is tomorrow from 23:00 UTC (22:00 in summer).
        today = self.server.now().astimezone(ZoneInfo(extra.get("timeZone", "UTC"))).date()
        body = {
            "firmwareName": self.firmware["firmwareName"],
            "firmwareFrom": FROM,
            "firmwareTo": TO,
            "protocol": "HTTP",
            "startDate": today.isoformat(),
            "endDate": (today + timedelta(days=2)).isoformat(),
            "deviceList": imeis,
            "autoAssignLicenseFlag": True,
            "autoAddDevicesFlag": False,
            "campaignName": "spring upgrade",
            **extra,
        }
        with self.account.client() as client:
            r = client.post(f"/campaigns/firmware/{self.account.name}", json=body)
        assert r.status_code == 200, r.text
        self.server.advance(0)  # the engine schedules it
        return str(r.json()["id"])

    def follow_up(self, campaign_id: str, **changes: Any) -> httpx.Response:
        today = self.server.now().date()
        body = {
            "campaignName": "spring upgrade, again",
            "startDate": (today + timedelta(days=1)).isoformat(),
            "endDate": (today + timedelta(days=5)).isoformat(),
            **changes,
        }
        with self.account.client() as client:
            return client.post(f"/campaigns/{self.account.name}/{campaign_id}/follow-up", json=body)

    def cancel(self, campaign_id: str) -> None:
        with self.account.client() as client:
            assert client.delete(f"/campaigns/{self.account.name}/{campaign_id}").status_code == 200

    def get(self, path: str) -> Any:
        with self.account.client() as client:
            r = client.get(path)
        assert r.status_code == 200, r.text
        return r.json()

    def report(self, campaign_id: str) -> dict[str, dict[str, Any]]:
        listed = self.get(f"/reports/{self.account.name}/campaigns/{campaign_id}/devices")["deviceList"]
        return {d["deviceId"]: d for d in listed}


@pytest.fixture
def fleet(in_process_server: FotaServer) -> Fleet:
    return Fleet(in_process_server)


def move_to_account(server: FotaServer, imei: str, account: Account) -> None:
    """The admin API cannot take a device out of an account; the database can, as a re-provisioning would."""
    engine = make_engine(server.database_url)
    try:
        with engine.begin() as c:
            c.execute(update(devices).where(devices.c.device_id == imei).values(account_name=account.name))
    finally:
        engine.dispose()


def campaign_history(server: FotaServer, campaign_id: str) -> list[str]:
    engine = make_engine(server.database_url)
    try:
        with engine.connect() as c:
            query = select(history.c.reason).where(history.c.campaign_id == campaign_id, history.c.device_id.is_(None))
            return [str(r) for r in c.execute(query.order_by(history.c.id)).scalars()]
    finally:
        engine.dispose()


def test_a_follow_up_carries_exactly_the_devices_that_missed_and_still_can(fleet: Fleet) -> None:
    succeeded = fleet.add(2)
    failed = fleet.add(1)
    silent = fleet.add(1)  # never checks in: still pending when the campaign is aborted
    moved_on = fleet.add(1)  # runs other firmware by the time of the follow-up
    gone = fleet.add(1)  # no longer in the account
    rejected = fleet.add(1, firmware="0.9")  # rejected at creation; on firmwareFrom by the follow-up
    removed = fleet.add(1)  # taken out of the campaign on purpose
    source = fleet.create([*succeeded, *failed, *silent, *moved_on, *gone, *rejected, *removed])
    with fleet.account.client() as client:
        r = client.put(
            f"/campaigns/firmware/{fleet.account.name}/{source}", json={"type": "remove", "deviceList": removed}
        )
        assert r.json()["deviceList"][0]["status"] == "RemoveDeviceSucceed", r.text
    for imei in succeeded:
        fleet.upgrade(imei, succeed=True)
    fleet.upgrade(failed[0], succeed=False)

    assert_error(fleet.follow_up(source), 409, "Conflict")  # not final yet: who missed it is not known

    fleet.cancel(source)
    ended = fleet.report(source)
    assert {i: d["status"] for i, d in ended.items()} == {
        **dict.fromkeys(succeeded, "UpgradeSuccess"),
        failed[0]: "UpgradeFailed",
        silent[0]: "CampaignAborted",
        moved_on[0]: "CampaignAborted",
        gone[0]: "CampaignAborted",
        rejected[0]: "DeviceRejected",
        removed[0]: "DeviceRemoved",
    }
    fleet.account.add_devices(
        [
            {"deviceId": moved_on[0], "make": MAKE, "model": MODEL, "firmware": "1.5", "protocol": "HTTP"},
            {"deviceId": rejected[0], "make": MAKE, "model": MODEL, "firmware": FROM, "protocol": "HTTP"},
        ]
    )
    move_to_account(fleet.server, gone[0], fleet.server.new_account())

    r = fleet.follow_up(source)
    assert r.status_code == 200, r.text
    created = r.json()
    assert created["followUpOf"] == source
    assert created["carriedDevices"] == 2
    assert sorted((n["reason"], n["count"]) for n in created["notCarried"]) == [
        ("Device not found in this account", 1),
        (f"Device runs firmware '1.5', not the campaign's firmwareFrom '{FROM}'", 1),
    ]
    assert (created["firmwareName"], created["firmwareFrom"], created["firmwareTo"], created["protocol"]) == (
        fleet.firmware["firmwareName"],
        FROM,
        TO,
        "HTTP",
    )
    assert (created["campaignName"], created["autoAddDevicesFlag"]) == ("spring upgrade, again", False)

    follow_up = created["id"]
    report = fleet.report(follow_up)
    # Rejected and removed devices never missed an upgrade in it: they are not carried even though they could be.
    assert set(report) == {failed[0], silent[0]}
    assert {d["status"] for d in report.values()} == {"UpgradePending"}
    assert report[failed[0]]["carriedReason"] == f"UpgradeFailed: {ended[failed[0]]['resultReason']}"
    assert report[silent[0]]["carriedReason"] == f"CampaignAborted: {ended[silent[0]]['resultReason']}"

    read = fleet.get(f"/campaigns/{fleet.account.name}/{follow_up}")
    assert read["followUpOf"] == source
    assert "followUpOf" not in fleet.get(f"/campaigns/{fleet.account.name}/{source}")
    assert all("carriedReason" not in d for d in fleet.report(source).values())

    assert any(
        f"follow-up campaign {follow_up}" in h and fleet.account.username in h
        for h in campaign_history(fleet.server, source)
    )
    assert any(f"follow-up of campaign {source}" in h for h in campaign_history(fleet.server, follow_up))
    source_audit = fleet.get(f"/campaigns/{fleet.account.name}/{source}/audit")
    follow_up_audit = fleet.get(f"/campaigns/{fleet.account.name}/{follow_up}/audit")
    assert [(e["action"], e["actor"], e["detail"]) for e in source_audit] == [
        ("followUp", fleet.account.username, {"followUp": follow_up})
    ]
    assert [(e["action"], e["actor"], e["detail"]) for e in follow_up_audit] == [
        ("followsUp", fleet.account.username, {"followUpOf": source, "carried": 2})
    ]

    # The carried devices are in the follow-up now: a second one has nothing it can carry.
    again = assert_error(fleet.follow_up(source), 409, "Conflict")
    assert "already in another live campaign" in again["errorMessage"]

    # On the follow-up's first day the failed device upgrades; it keeps the reason it was carried for.
    fleet.server.set_clock(fleet.server.now() + timedelta(days=1))
    fleet.upgrade(failed[0], succeed=True)
    after = fleet.report(follow_up)[failed[0]]
    assert (after["status"], after["carriedReason"]) == ("UpgradeSuccess", report[failed[0]]["carriedReason"])


def test_a_follow_up_keeps_the_source_windows_unless_given(fleet: Fleet) -> None:
    missed = fleet.add(2)
    windows = [{"startTime": 18, "endTime": 22}]
    source = fleet.create(missed, campaignTimeWindowList=windows, timeZone="Europe/Berlin")
    fleet.cancel(source)
    first = fleet.follow_up(source)
    assert first.status_code == 200, first.text
    assert first.json()["campaignTimeWindowList"] == windows
    assert first.json()["timeZone"] == "Europe/Berlin"
    fleet.cancel(first.json()["id"])
    second = fleet.follow_up(source, campaignTimeWindowList=[])
    assert second.status_code == 200, second.text
    assert second.json()["campaignTimeWindowList"] == []


def test_nothing_to_carry_is_409(fleet: Fleet) -> None:
    (imei,) = fleet.add(1)
    source = fleet.create([imei])
    fleet.upgrade(imei, succeed=True)
    fleet.cancel(source)
    error = assert_error(fleet.follow_up(source), 409, "Conflict")
    assert "none of its devices missed" in error["errorMessage"]


def test_an_unknown_campaign_is_404(fleet: Fleet) -> None:
    assert_error(fleet.follow_up("00000000-0000-0000-0000-000000000000"), 404, "NotFound")


BAD_SCHEDULES = [
    pytest.param({"startDate": "2000-01-01"}, "startDate", id="start-in-the-past"),
    pytest.param({"endDate": "2000-01-01"}, "endDate", id="end-before-start"),
    pytest.param({"startDate": "tomorrow"}, "startDate", id="not-a-date"),
    pytest.param({"campaignTimeWindowList": [{"startTime": 3, "endTime": 5}]}, "shorter", id="short-window"),
    pytest.param({"campaignTimeWindowList": [{"startTime": 30, "endTime": 35}]}, "out of range", id="bad-hours"),
]


@pytest.mark.parametrize(("changes", "message"), BAD_SCHEDULES)
def test_bad_dates_or_windows_are_create_s_400_and_create_nothing(
    fleet: Fleet, changes: dict[str, Any], message: str
) -> None:
    missed = fleet.add(1)
    source = fleet.create(missed)
    fleet.cancel(source)
    error = assert_error(fleet.follow_up(source, **changes), 400, "InvalidRequest")
    assert message in error["errorMessage"], error
    # Nothing was made: the device is still free for a good follow-up.
    assert fleet.follow_up(source).status_code == 200
