"""v3's dry-run preview (`POST /campaigns/firmware/{acc}/preview`, fota-extensions.md §2): create's checks and
eligibility, the waves a rollout would form with their groups, an estimated completion that moves later with a
soak, a blackout or a bandwidth budget, and nothing written."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from fota.adapters.storage.database import make_engine
from fota.adapters.storage.tables import campaign_devices, campaigns, history
from tests.api.test_validation import assert_error, device, luhn_imei
from tests.fota_server import FotaServer

IMAGE = bytes(range(256)) * 12  # 3072 bytes
ZONES = ["Europe/Berlin"] * 4 + ["America/Los_Angeles"] * 3 + [None] * 3  # None: the campaign's zone
RESPONSE_KEYS = {"eligibleDevices", "rejectedDevices", "licensesConsumed", "estimatedCompletion", "waves"}


class Fleet:
    def __init__(self, server: FotaServer) -> None:
        self.server = server
        self.account = server.new_account(license_count=100)
        self.firmware = server.new_firmware()
        r = server.admin.put(f"/firmware/{self.firmware['firmwareName']}/image", content=IMAGE)
        assert r.status_code == 200, r.text
        self.eligible = [luhn_imei() for _ in ZONES]
        specs = []
        for imei, zone in zip(self.eligible, ZONES, strict=True):
            spec: dict[str, Any] = device(self.firmware, imei)
            if zone is not None:
                spec["timeZone"] = zone
            specs.append(spec)
        self.other_firmware = luhn_imei()
        specs.append(device(self.firmware, self.other_firmware, firmware="0.0.1"))
        self.account.add_devices(specs)
        self.unknown = luhn_imei()

    def body(self, **extra: Any) -> dict[str, Any]:
        today = self.server.now().date()
        return {
            "firmwareName": self.firmware["firmwareName"],
            "firmwareFrom": self.firmware["firmwareFrom"],
            "firmwareTo": self.firmware["firmwareTo"],
            "protocol": "LWM2M",
            "startDate": (today + timedelta(days=1)).isoformat(),
            "endDate": (today + timedelta(days=60)).isoformat(),
            "deviceList": [*self.eligible, self.other_firmware, self.unknown],
            "autoAssignLicenseFlag": True,
            "autoAddDevicesFlag": False,
            **extra,
        }

    def preview(self, **extra: Any) -> dict[str, Any]:
        with self.account.client() as client:
            r = client.post(f"/campaigns/firmware/{self.account.name}/preview", json=self.body(**extra))
        assert r.status_code == 200, r.text
        answer: dict[str, Any] = r.json()
        assert set(answer) == RESPONSE_KEYS
        return answer

    def stored(self) -> tuple[int, int, int]:
        """The account's campaigns, campaign devices and history entries: what a preview must leave alone."""
        engine = make_engine(self.server.database_url)
        try:
            with engine.connect() as c:
                name = self.account.name
                return (
                    c.execute(select(func.count()).where(campaigns.c.account_name == name)).scalar_one(),
                    c.execute(select(func.count()).where(campaign_devices.c.account_name == name)).scalar_one(),
                    c.execute(select(func.count()).where(history.c.account_name == name)).scalar_one(),
                )
        finally:
            engine.dispose()


@pytest.fixture
def fleet(in_process_server: FotaServer) -> Fleet:
    return Fleet(in_process_server)


def completion(answer: dict[str, Any]) -> datetime:
    assert answer["estimatedCompletion"] is not None, answer
    return datetime.fromisoformat(answer["estimatedCompletion"])


def test_preview_counts_devices_and_licenses_and_writes_nothing(fleet: Fleet) -> None:
    before = fleet.stored()
    answer = fleet.preview()
    assert answer["eligibleDevices"] == len(fleet.eligible)
    assert answer["licensesConsumed"] == len(fleet.eligible)
    assert sorted((r["reason"], r["count"]) for r in answer["rejectedDevices"]) == [
        ("Device not found in this account", 1),
        (f"Device runs firmware '0.0.1', not the campaign's firmwareFrom '{fleet.firmware['firmwareFrom']}'", 1),
    ]
    assert answer["waves"] == []  # no rollout, no waves
    # Never heard from: a day's check-in interval, plus the allowance, from the start date's midnight (UTC).
    start = datetime.fromisoformat(fleet.body()["startDate"] + "T00:00:00+00:00")
    assert completion(answer) == start + timedelta(hours=24, minutes=10)
    assert fleet.stored() == before
    r = fleet.server.admin.get(f"/accounts/{fleet.account.name}/devices/{fleet.eligible[0]}")
    assert r.json()["licenseAssigned"] is False


def test_preview_forms_stratified_waves_with_their_groups(fleet: Fleet) -> None:
    rollout = {"waves": [{"name": "canary", "devices": 3}, {"percent": 50}, {"percent": 100}], "canary": "stratified"}
    answer = fleet.preview(rollout=rollout)
    waves = answer["waves"]
    assert [(w["name"], w["devices"]) for w in waves] == [("canary", 3), ("wave-2", 2), ("wave-3", 5)]
    fw = fleet.firmware
    canary = {(g["timeZone"], g["count"]) for g in waves[0]["groups"]}
    # One device of every (make, model, firmware, zone) group; devices without a zone group with the campaign's.
    assert canary == {("Europe/Berlin", 1), ("America/Los_Angeles", 1), ("UTC", 1)}
    for wave in waves:
        assert {(g["make"], g["model"], g["firmware"]) for g in wave["groups"]} == {
            (fw["make"], fw["model"], fw["firmwareFrom"])
        }
        assert sum(g["count"] for g in wave["groups"]) == wave["devices"]
    totals: dict[str, int] = {}
    for wave in waves:
        for g in wave["groups"]:
            totals[g["timeZone"]] = totals.get(g["timeZone"], 0) + g["count"]
    assert totals == {"Europe/Berlin": 4, "America/Los_Angeles": 3, "UTC": 3}


def test_the_estimate_moves_later_with_a_soak_a_blackout_and_a_budget(fleet: Fleet) -> None:
    waves = {"waves": [{"devices": 2}, {"percent": 100}]}
    plain = completion(fleet.preview(rollout={**waves, "advance": {"soakMinutes": 0}}))
    soaked = completion(fleet.preview(rollout={**waves, "advance": {"soakMinutes": 600}}))
    assert soaked == plain + timedelta(minutes=600)

    start = fleet.body()["startDate"]
    freeze = [{"from": f"{start}T00:00", "to": f"{start}T12:00", "reason": "freeze"}]
    assert completion(fleet.preview(blackouts=freeze)) == completion(fleet.preview()) + timedelta(hours=12)

    # 1024 bytes an hour for a 3072-byte image: three hours a device, 30 hours for the ten, past the day's check-in.
    budget = completion(fleet.preview(bandwidth={"bytesPerHour": 1024}))
    assert budget == datetime.fromisoformat(f"{start}T00:00:00+00:00") + timedelta(hours=30)
    assert budget > completion(fleet.preview())


def test_device_local_windows_are_read_in_each_device_zone(fleet: Fleet) -> None:
    windows = [{"startTime": 2, "endTime": 6}]
    by_campaign = completion(fleet.preview(campaignTimeWindowList=windows))
    by_device = completion(fleet.preview(campaignTimeWindowList=windows, windowZone="device"))
    # Los Angeles' 02:00-06:00 comes hours after UTC's and Berlin's: the slowest zone finishes last.
    assert by_device > by_campaign


BAD_BODIES = [
    pytest.param({"rollout": {"waves": [{"devices": 3}]}}, "rollout.waves[0]", id="last-wave-not-100"),
    pytest.param({"rollout": {"waves": []}}, "rollout.waves", id="no-waves"),
    pytest.param({"rollout": [1]}, "rollout", id="rollout-not-an-object"),
    pytest.param({"windowZone": "planet"}, "windowZone", id="window-zone"),
    pytest.param({"blackouts": [{"from": "2030-12-24T00:00"}]}, "blackouts[0].to", id="blackout-without-end"),
    pytest.param(
        {"blackouts": [{"from": "2030-12-24T00:00", "to": "2030-12-23T00:00"}]}, "blackouts[0].to", id="backwards"
    ),
    pytest.param({"bandwidth": {"bytesPerHour": 1}}, "bandwidth.bytesPerHour", id="budget-too-small"),
    pytest.param({"bandwidth": {"bytes": 5000}}, "bandwidth.bytes", id="budget-unknown-field"),
    pytest.param({"startDate": "2000-01-01"}, "startDate", id="start-in-the-past"),
    pytest.param({"firmwareName": "no-such-firmware"}, "firmware 'no-such-firmware'", id="unknown-firmware"),
    pytest.param({"campaignTimeWindowList": [{"startTime": 1, "endTime": 2}]}, "shorter", id="short-window"),
    pytest.param({"timeZone": "Mars/Olympus"}, "Mars/Olympus", id="time-zone"),
    pytest.param({"retryPolicy": {"maxAttempts": 0}}, "retryPolicy.maxAttempts", id="retry-policy"),
]


@pytest.mark.parametrize(("changes", "message"), BAD_BODIES)
def test_a_bad_preview_is_create_s_400_and_writes_nothing(fleet: Fleet, changes: dict[str, Any], message: str) -> None:
    before = fleet.stored()
    with fleet.account.client() as client:
        r = client.post(f"/campaigns/firmware/{fleet.account.name}/preview", json=fleet.body(**changes))
    error = assert_error(r, 400, "InvalidRequest")
    assert message in error["errorMessage"], error
    assert fleet.stored() == before


def test_dates_at_the_end_of_the_calendar_have_no_estimate(fleet: Fleet) -> None:
    # Create takes them; the end date's 24:00 is past what an instant can hold, so the preview estimates nothing.
    answer = fleet.preview(startDate="9999-12-30", endDate="9999-12-31", rollout={"waves": [{"percent": 100}]})
    assert (answer["eligibleDevices"], answer["estimatedCompletion"]) == (len(fleet.eligible), None)


def test_the_preview_needs_the_account_s_tokens(fleet: Fleet) -> None:
    r = fleet.server.http.post(f"/api/fota/v3/campaigns/firmware/{fleet.account.name}/preview", json=fleet.body())
    assert r.status_code == 401, r.text
