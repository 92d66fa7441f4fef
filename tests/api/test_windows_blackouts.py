"""v3's `windowZone` and `blackouts` on campaign creation and the blackout override: bad values are a 400 naming
the field and store nothing, set values are echoed by the create response and the campaign's read, a campaign
without them answers exactly as before; the override is audited (who, when, why) and refused without a reason, for
an unknown campaign, a final one or one without blackouts. Over the HTTP device protocol the start rule decides:
each device starts inside its own local window, none in a blackout until the override."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from fota.adapters.storage.database import make_engine
from fota.adapters.storage.tables import history
from tests.api.test_retry_policy import CREATE_KEYS, READ_KEYS, queued
from tests.api.test_validation import assert_error, device, luhn_imei
from tests.conftest import Account, RunningServer

BLACKOUT = {"from": "2030-12-24T00:00", "to": "2030-12-27T00:00", "reason": "holiday freeze"}

BAD_FIELDS = [
    pytest.param({"windowZone": "devices"}, "windowZone 'devices' must be", id="unknown-window-zone"),
    pytest.param({"windowZone": 3}, "windowZone", id="window-zone-not-text"),
    pytest.param({"blackouts": {"from": "2030-12-24T00:00"}}, "blackouts", id="blackouts-not-a-list"),
    pytest.param({"blackouts": ["2030-12-24"]}, "blackouts", id="blackout-not-an-object"),
    pytest.param({"blackouts": [{"to": "2030-12-27T00:00"}]}, "blackouts[0].from", id="no-from"),
    pytest.param({"blackouts": [{"from": "2030-12-24", "to": "2030-12-27T00:00"}]}, "blackouts[0].from", id="date"),
    pytest.param(
        {"blackouts": [BLACKOUT, {"from": "2030-12-27T00:00", "to": "2030-12-24T00:00"}]},
        "blackouts[1].to",
        id="to-before-from",
    ),
    pytest.param(
        {"blackouts": [{"from": "2030-03-31T02:10", "to": "2030-03-31T02:50"}], "timeZone": "Europe/Berlin"},
        "skips",
        id="inside-the-skipped-hour",
    ),
    pytest.param({"blackouts": [BLACKOUT | {"reason": ""}]}, "blackouts[0].reason", id="empty-reason"),
]


@pytest.fixture(scope="module")
def account(server: RunningServer) -> tuple[Account, dict[str, str]]:
    return server.new_account(license_count=50), server.new_firmware()


def body(firmware: dict[str, str], imei: str, **extra: Any) -> dict[str, Any]:
    return {
        "firmwareName": firmware["firmwareName"],
        "firmwareFrom": firmware["firmwareFrom"],
        "firmwareTo": firmware["firmwareTo"],
        "protocol": firmware.get("protocol", "LWM2M"),
        "startDate": "2030-12-20",
        "endDate": "2030-12-31",
        "deviceList": [imei],
        "autoAssignLicenseFlag": True,
        "autoAddDevicesFlag": False,
        "campaignName": "windows and blackouts",
        "campaignTimeWindowList": [{"startTime": 2, "endTime": 6}],
        **extra,
    }


def create(owner: Account, firmware: dict[str, str], **extra: Any) -> httpx.Response:
    imei = luhn_imei()
    owner.add_devices([device(firmware, imei)])
    with owner.client() as client:
        return client.post(f"/campaigns/firmware/{owner.name}", json=body(firmware, imei, **extra))


@pytest.mark.parametrize(("fields", "message"), BAD_FIELDS)
def test_a_bad_window_zone_or_blackout_is_400_naming_the_field(
    account: tuple[Account, dict[str, str]], fields: dict[str, Any], message: str
) -> None:
    owner, firmware = account
    before = queued(owner)
    error = assert_error(create(owner, firmware, **fields), 400, "InvalidRequest")
    assert message in error["errorMessage"], error
    assert queued(owner) == before


def test_window_zone_and_blackouts_are_echoed_when_set(account: tuple[Account, dict[str, str]]) -> None:
    owner, firmware = account
    fields = {"timeZone": "Europe/Berlin", "windowZone": "device", "blackouts": [BLACKOUT]}
    r = create(owner, firmware, **fields)
    assert r.status_code == 200, r.text
    created = r.json()
    assert set(created) == CREATE_KEYS | {"timeZone", "windowZone", "blackouts"}
    assert (created["timeZone"], created["windowZone"], created["blackouts"]) == ("Europe/Berlin", "device", [BLACKOUT])
    with owner.client() as client:
        read = client.get(f"/campaigns/{owner.name}/{created['id']}").json()
    assert set(read) == READ_KEYS | {"timeZone", "windowZone", "blackouts"}
    assert (read["windowZone"], read["blackouts"]) == ("device", [BLACKOUT])

    # Each alone; a blackout without a reason echoes it as null; `campaign` is echoed because it was given.
    only_zone = create(owner, firmware, windowZone="campaign").json()
    assert set(only_zone) == CREATE_KEYS | {"windowZone"} and only_zone["windowZone"] == "campaign"
    bare = {"from": "2030-12-24T00:00", "to": "2030-12-25T00:00"}
    only_blackouts = create(owner, firmware, blackouts=[bare]).json()
    assert set(only_blackouts) == CREATE_KEYS | {"blackouts"}
    assert only_blackouts["blackouts"] == [bare | {"reason": None}]


def test_a_campaign_without_the_fields_answers_as_before(account: tuple[Account, dict[str, str]]) -> None:
    owner, firmware = account
    for extra in ({}, {"windowZone": None, "blackouts": None}, {"blackouts": []}):
        r = create(owner, firmware, **extra)
        assert r.status_code == 200, r.text
        created = r.json()
        assert set(created) == CREATE_KEYS, extra
        with owner.client() as client:
            read = client.get(f"/campaigns/{owner.name}/{created['id']}").json()
        assert set(read) == READ_KEYS, extra


def campaign_history(server: RunningServer, campaign_id: str) -> list[str]:
    engine = make_engine(server.database_url)
    try:
        with engine.connect() as connection:
            query = select(history.c.reason).where(history.c.campaign_id == campaign_id, history.c.device_id.is_(None))
            return [str(reason) for reason in connection.execute(query.order_by(history.c.id)).scalars()]
    finally:
        engine.dispose()


def test_the_override_is_audited_and_refused_when_it_cannot_apply(
    server: RunningServer, account: tuple[Account, dict[str, str]]
) -> None:
    owner, firmware = account
    with_blackouts = create(owner, firmware, timeZone="Europe/Berlin", blackouts=[BLACKOUT]).json()["id"]
    without = create(owner, firmware).json()["id"]
    cancelled = create(owner, firmware, blackouts=[BLACKOUT]).json()["id"]
    with owner.client() as client:

        def override(campaign_id: str, **payload: Any) -> httpx.Response:
            return client.post(f"/campaigns/{owner.name}/{campaign_id}/blackouts/override", json=payload)

        until = "2030-12-25T06:00"
        assert "reason" in assert_error(override(with_blackouts, until=until), 400)["errorMessage"]
        assert "reason" in assert_error(override(with_blackouts, until=until, reason="  "), 400)["errorMessage"]
        assert "until" in assert_error(override(with_blackouts, reason="x"), 400)["errorMessage"]
        assert (
            "until" in assert_error(override(with_blackouts, until="2000-01-01T00:00", reason="x"), 400)["errorMessage"]
        )
        assert_error(override("no-such-campaign", until=until, reason="x"), 404)
        assert "no blackouts" in assert_error(override(without, until=until, reason="x"), 409)["errorMessage"]
        assert client.delete(f"/campaigns/{owner.name}/{cancelled}").status_code == 200
        assert_error(override(cancelled, until=until, reason="x"), 409)
        assert client.get(f"/campaigns/{owner.name}/{with_blackouts}").json().get("blackoutOverride") is None

        r = override(with_blackouts, until=until, reason="security fix must ship")
        assert r.status_code == 200, r.text
        recorded = r.json()
        assert set(recorded) == {"until", "reason", "by", "at"}
        assert (recorded["until"], recorded["reason"], recorded["by"]) == (
            until,
            "security fix must ship",
            owner.username,
        )
        assert datetime.fromisoformat(recorded["at"]) == server.now()
        read = client.get(f"/campaigns/{owner.name}/{with_blackouts}").json()
        audit = client.get(f"/campaigns/{owner.name}/{with_blackouts}/audit").json()
    assert [(e["action"], e["actor"], e["reason"], e["detail"]) for e in audit] == [
        ("blackoutOverride", owner.username, "security fix must ship", {"until": until, "timeZone": "Europe/Berlin"})
    ]
    assert datetime.fromisoformat(audit[0]["at"]) == server.now()
    assert read["blackoutOverride"] == recorded
    assert read["blackouts"] == [BLACKOUT]
    assert campaign_history(server, with_blackouts)[-1] == (
        f"blackouts overridden until {until} (Europe/Berlin) by {owner.username}: security fix must ship"
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


class HttpDevices:
    """HTTP protocol devices of one account, each with its key, checking in on the fota firmware version."""

    def __init__(self, server: RunningServer, account: Account, firmware: dict[str, str]) -> None:
        self.server, self.account, self.firmware = server, account, firmware
        self.keys: dict[str, str] = {}

    def add(self, time_zone: str | None) -> str:
        imei = str(random.randint(10**14, 10**15 - 1))
        entry = {"deviceId": imei, "make": "Acme", "model": "Meter-9", "firmware": "4.1", "protocol": "HTTP"}
        self.account.add_devices([entry | ({"timeZone": time_zone} if time_zone else {})])
        r = self.server.admin.post(f"/accounts/{self.account.name}/devices/{imei}/key")
        assert r.status_code == 201, r.text
        self.keys[imei] = r.json()["deviceKey"]
        return imei

    def check_in(self, imei: str) -> str:
        r = self.server.http.post(
            f"/device/v1/devices/{imei}/checkin",
            json={"firmware": "4.1", "state": 0, "updateResult": 0},
            headers={"Authorization": f"Bearer {self.keys[imei]}"},
        )
        assert r.status_code == 200, r.text
        return str(r.json()["action"])

    def report(self, campaign_id: str) -> dict[str, dict[str, Any]]:
        with self.account.client() as client:
            r = client.get(f"/reports/{self.account.name}/campaigns/{campaign_id}/devices")
        assert r.status_code == 200, r.text
        return {d["deviceId"]: d for d in r.json()["deviceList"]}


@pytest.fixture
def http_fleet(private_in_process_server: RunningServer) -> HttpDevices:
    server = private_in_process_server
    server.set_clock(utc(2031, 3, 8, 0))
    firmware = server.new_firmware(
        make="Acme", model="Meter-9", firmware_from="4.1", firmware_to="4.2", protocol="HTTP"
    )
    r = server.admin.put(f"/firmware/{firmware['firmwareName']}/image", content=b"image" * 100)
    assert r.status_code == 200, r.text
    return HttpDevices(server, server.new_account(), firmware | {"protocol": "HTTP"})


def test_http_devices_start_in_their_own_window_and_not_in_a_blackout(http_fleet: HttpDevices) -> None:
    fleet, server = http_fleet, http_fleet.server
    la, kolkata, zoneless = fleet.add("America/Los_Angeles"), fleet.add("Asia/Kolkata"), fleet.add(None)
    with fleet.account.client() as client:
        r = client.post(
            f"/campaigns/firmware/{fleet.account.name}",
            json=body(
                fleet.firmware,
                la,
                deviceList=[la, kolkata, zoneless],
                startDate="2031-03-08",
                endDate="2031-03-31",
                timeZone="Europe/Berlin",
                windowZone="device",
                blackouts=[{"from": "2031-03-10T00:00", "to": "2031-03-12T00:00", "reason": "freeze"}],
            ),
        )
        assert r.status_code == 200, r.text
        campaign_id = r.json()["id"]

    # 03:30 in Berlin (the zoneless device's zone, the campaign's), 18:30 in Los Angeles, 08:00 in Kolkata.
    server.set_clock(utc(2031, 3, 9, 2, 30))
    assert [fleet.check_in(d) for d in (la, kolkata, zoneless)] == ["none", "none", "download"]
    report = fleet.report(campaign_id)
    assert report[la]["resultReason"] == (
        "no time window is open in America/Los_Angeles; next opens 2031-03-09T10:00:00+00:00"
    )  # the spring-forward day's window opens at the jump, 03:00 PDT
    assert report[la]["nextAttemptTime"].startswith("2031-03-09T10:00:00")
    assert report[kolkata]["resultReason"].startswith("no time window is open in Asia/Kolkata")

    server.set_clock(utc(2031, 3, 9, 10, 30))  # 03:30 PDT
    assert fleet.check_in(la) == "download"
    assert fleet.check_in(kolkata) == "none"

    # 02:30 in Kolkata on the 11th: its window is open, but the blackout (Berlin time) holds it back.
    server.set_clock(utc(2031, 3, 10, 21, 0))
    assert fleet.check_in(kolkata) == "none"
    assert fleet.report(campaign_id)[kolkata]["resultReason"] == "in a blackout until 2031-03-12T00:00: freeze"
    with fleet.account.client() as client:
        override = f"/campaigns/{fleet.account.name}/{campaign_id}/blackouts/override"
        assert_error(client.post(override, json={"until": "2031-03-11T12:00"}), 400)
        assert fleet.check_in(kolkata) == "none"
        r = client.post(override, json={"until": "2031-03-11T12:00", "reason": "urgent fix"})
        assert r.status_code == 200, r.text
    assert fleet.check_in(kolkata) == "download"


def test_an_attempt_in_progress_continues_outside_its_window(http_fleet: HttpDevices) -> None:
    fleet, server = http_fleet, http_fleet.server
    berlin = fleet.add("Europe/Berlin")
    with fleet.account.client() as client:
        r = client.post(
            f"/campaigns/firmware/{fleet.account.name}",
            json=body(fleet.firmware, berlin, startDate="2031-03-08", endDate="2031-03-31", windowZone="device"),
        )
        assert r.status_code == 200, r.text
    server.set_clock(utc(2031, 3, 9, 4, 50))  # 05:50 CET
    assert fleet.check_in(berlin) == "download"
    server.set_clock(utc(2031, 3, 9, 4, 50) + timedelta(minutes=20))  # 06:10 CET: the window has closed
    r = server.http.post(
        f"/device/v1/devices/{berlin}/checkin",
        json={"firmware": "4.1", "state": 2, "updateResult": 0},
        headers={"Authorization": f"Bearer {fleet.keys[berlin]}"},
    )
    assert r.json()["action"] == "update"  # the downloaded package is installed whatever the hour
