"""`fota campaigns create --dry-run` (the server's preview, printed) and `fota campaigns follow-up`, through typer's
CliRunner against a live server, checked against the API."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.cli.test_admin_cli import failed, ok_fields, ok_json, ok_table, row
from tests.cli.test_campaign_cli import QUEUED, Fleet

ROLLOUT = {"waves": [{"name": "canary", "devices": 1}, {"percent": 100}], "advance": {"soakMinutes": 30}}


def create_args(fleet: Fleet, *extra: str) -> list[str]:
    start = fleet.today + timedelta(days=3)
    devices = [part for d in fleet.devices for part in ("--device", d)]
    return [
        "campaigns",
        "create",
        "--firmware",
        fleet.firmware["firmwareName"],
        "--from",
        "1.0",
        "--to",
        "2.0",
        "--start",
        start.isoformat(),
        "--end",
        (start + timedelta(days=5)).isoformat(),
        *devices,
        "--device",
        "350000000000009",  # not in the account
        *extra,
    ]


def queued(fleet: Fleet) -> list[str]:
    listed = fleet.get(f"/reports/{fleet.acc}/firmware/campaigns", campaignStatus="CampaignQueued")
    return [c["id"] for c in listed.get("campaignList") or []]


def test_dry_run_prints_the_preview_and_creates_nothing(fleet: Fleet, tmp_path: Path) -> None:
    rollout_file = tmp_path / "rollout.json"
    rollout_file.write_text(json.dumps(ROLLOUT))
    extra = ("--rollout", f"@{rollout_file}", "--blackout", "2031-01-01T00:00/2031-01-02T00:00/new year")
    before = queued(fleet)

    answer = ok_json(fleet.cli(*create_args(fleet, "--dry-run", *extra, "--json")))
    body = {
        "firmwareName": fleet.firmware["firmwareName"],
        "firmwareFrom": "1.0",
        "firmwareTo": "2.0",
        "protocol": "LWM2M",
        "startDate": (fleet.today + timedelta(days=3)).isoformat(),
        "endDate": (fleet.today + timedelta(days=8)).isoformat(),
        "deviceList": [*fleet.devices, "350000000000009"],
        "autoAssignLicenseFlag": True,
        "autoAddDevicesFlag": False,
        "rollout": ROLLOUT,
        "blackouts": [{"from": "2031-01-01T00:00", "to": "2031-01-02T00:00", "reason": "new year"}],
    }
    with fleet.api() as api:
        r = api.post(f"/campaigns/firmware/{fleet.acc}/preview", json=body)
    assert r.status_code == 200, r.text
    assert answer == r.json()
    assert answer["eligibleDevices"] == 4
    assert [(w["name"], w["devices"]) for w in answer["waves"]] == [("canary", 1), ("wave-2", 3)]

    human = fleet.cli(*create_args(fleet, "--dry-run", "--rollout", json.dumps(ROLLOUT)))
    table = ok_table(human)
    lines = table.splitlines()
    assert lines[0].split() == ["eligibleDevices", "4"]
    assert lines[1].split() == ["rejectedDevices", "1"]
    assert lines[2].split() == ["licensesConsumed", "4"]
    assert lines[3].startswith("estimatedCompletion") and answer["estimatedCompletion"][:10] in lines[3]
    assert row(table, "Device not found in this account") == ["Device not found in this account", "1"]
    canary = row(table, "canary")
    assert canary[:2] == ["canary", "1"] and canary[-2:] == ["UTC", "1"]
    assert row(table, "wave-2")[:2] == ["wave-2", "3"]
    assert queued(fleet) == before


def test_dry_run_refusals(fleet: Fleet) -> None:
    failed(fleet.cli(*create_args(fleet, "--dry-run", "--rollout", "{waves")), 2, "not valid JSON")
    failed(fleet.cli(*create_args(fleet, "--dry-run", "--blackout", "2031-01-01T00:00")), 2, "FROM/TO")
    bad_rollout = json.dumps({"waves": [{"devices": 2}]})
    failed(fleet.cli(*create_args(fleet, "--dry-run", "--rollout", bad_rollout)), 1, "400 InvalidRequest", "percent")
    failed(fleet.cli(*create_args(fleet, "--dry-run", "--window-zone", "moon")), 1, "windowZone")


def test_follow_up_carries_the_missed_devices(fleet: Fleet) -> None:
    source = fleet.create(fleet.devices, campaignTimeWindowList=[{"startTime": 18, "endTime": 22}])
    start = fleet.today + timedelta(days=1)
    args = ["campaigns", "follow-up", source["id"], "--start", start.isoformat(), "--end", start.isoformat()]
    # Not final yet: the server's 409, as its message.
    failed(fleet.cli(*args), 1, "409", "a follow-up is made once it has ended")
    with fleet.api() as api:
        assert api.delete(f"/campaigns/{fleet.acc}/{source['id']}").status_code == 200

    fields = ok_fields(fleet.cli(*args, "--name", "second go"))
    assert fields["followUpOf"] == source["id"]
    assert (fields["campaignName"], fields["carriedDevices"]) == ("second go", "4")
    assert fields["campaignTimeWindowList"] == "18-22"  # the source's windows, none being given
    assert fields["status"] in QUEUED
    report = fleet.get(f"/reports/{fleet.acc}/campaigns/{fields['id']}/devices")["deviceList"]
    assert sorted(d["deviceId"] for d in report) == fleet.devices
    assert {d["carriedReason"] for d in report} == {"CampaignCancelled: campaign cancelled before the device upgraded"}


def test_follow_up_refusals(fleet: Fleet) -> None:
    day = fleet.today.isoformat()
    unknown = ["campaigns", "follow-up", "no-such-campaign", "--start", day, "--end", day]
    failed(fleet.cli(*unknown), 1, "404")
    failed(fleet.cli(*unknown, "--window", "1-5", "--any-hour"), 2, "--window or --any-hour")
    source: dict[str, Any] = fleet.create(fleet.devices[:1])
    with fleet.api() as api:
        assert api.delete(f"/campaigns/{fleet.acc}/{source['id']}").status_code == 200
    failed(
        fleet.cli("campaigns", "follow-up", source["id"], "--start", day, "--end", day, "--window", "1-3"),
        1,
        "400 InvalidRequest",
        "shorter",
    )
    created = ok_json(
        fleet.cli("campaigns", "follow-up", source["id"], "--start", day, "--end", day, "--any-hour", "--json")
    )
    assert created["campaignTimeWindowList"] == [] and created["notCarried"] == []
