"""`fota campaigns ...` and `fota devices ...` through typer's CliRunner against a live server, checked against the API.

Each test provisions its own account, firmware and devices through the admin API, so the shared server is safe.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from fota.adapters.cli import campaigns as campaigns_cli
from fota.adapters.cli.main import app
from fota.adapters.cli.thingspace import ApiError, Credentials, ThingSpace
from tests.cli.test_admin_cli import failed, header, ok_fields, ok_json, row
from tests.conftest import Account, RunningServer

# Wide enough that rich never wraps a table cell or a message, so the tests can look for whole values on one line.
runner = CliRunner(env={"COLUMNS": "250", "NO_COLOR": "1"})
QUEUED = ("CampaignQueued", "CampaignRequestQueued")
FLAGS_AND_ALIAS = ("autoAssignLicenseFlag", "autoAddDevicesFlag", "timeWindowList")


def imei() -> str:
    return f"35{secrets.randbelow(10**13):013d}"


@dataclass
class Fleet:
    """A fresh account with its own firmware and devices, so tests sharing a server never see each other's data."""

    server: RunningServer
    account: Account
    firmware: dict[str, str]
    devices: list[str]

    @property
    def acc(self) -> str:
        return self.account.name

    def options(self, **overrides: str) -> list[str]:
        values = {
            "--server": self.server.base_url,
            "--account": self.acc,
            "--client-id": self.account.client_id,
            "--client-secret": self.account.client_secret,
            "--username": self.account.username,
            "--password": self.account.password,
            **overrides,
        }
        return [part for option, value in values.items() for part in (option, value)]

    def cli(self, *args: str, input: str | None = None, **overrides: str) -> Result:
        return runner.invoke(app, [*args, *self.options(**overrides)], input=input)

    def api(self) -> httpx.Client:
        return self.account.client()

    def create(self, devices: list[str], start_in_days: int = 3, **extra: Any) -> dict[str, Any]:
        """A campaign created through the API; starting in 3 days it stays queued (layout begins 24 h ahead)."""
        start = self.today + timedelta(days=start_in_days)
        body = {
            "firmwareName": self.firmware["firmwareName"],
            "firmwareFrom": self.firmware["firmwareFrom"],
            "firmwareTo": self.firmware["firmwareTo"],
            "protocol": "LWM2M",
            "startDate": start.isoformat(),
            "endDate": (start + timedelta(days=2)).isoformat(),
            "deviceList": devices,
            "autoAssignLicenseFlag": True,
            "autoAddDevicesFlag": False,
            **extra,
        }
        with self.api() as api:
            r = api.post(f"/campaigns/firmware/{self.acc}", json=body)
        assert r.status_code == 200, r.text
        return dict(r.json())

    @property
    def today(self) -> date:
        return self.server.now().date()

    def get(self, path: str, **params: str) -> Any:
        with self.api() as api:
            r = api.get(path, params=params)
        assert r.status_code == 200, r.text
        return r.json()


def frame_row(output: str, status: str) -> list[str]:
    """A watch frame's row for a device status: the status, then `count/total` and the share (the bar drops out)."""
    for line in output.splitlines():
        if line.startswith(status + " "):
            return [status, *re.findall(r"\S+", line[len(status) :].replace("━", " ").replace("╺", " "))]
    raise AssertionError(f"no {status} row in:\n{output}")


# --- create -------------------------------------------------------------------------------------------------------


def test_create_with_windows_and_a_devices_file(fleet: Fleet, tmp_path: Path) -> None:
    devices_file = tmp_path / "devices.txt"
    devices_file.write_text(f"# two from a file\n{fleet.devices[0]}\n{fleet.devices[1]}, {fleet.devices[0]}\n")
    start = fleet.today + timedelta(days=3)
    result = fleet.cli(
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
        (start + timedelta(days=1)).isoformat(),
        "--window",
        "18-22",
        "--window",
        "1-5",
        "--devices-file",
        str(devices_file),
        "--device",
        fleet.devices[2],
        "--name",
        "night rollout",
        "--json",
    )
    created = ok_json(result)
    campaign = fleet.get(f"/campaigns/{fleet.acc}/{created['id']}")
    # The create answer is the campaign without the flags (and the seed page's alias of the windows).
    assert created == {k: v for k, v in campaign.items() if k not in FLAGS_AND_ALIAS}
    assert campaign["campaignName"] == "night rollout"
    assert campaign["campaignTimeWindowList"] == [{"startTime": 1, "endTime": 5}, {"startTime": 18, "endTime": 22}]
    assert (campaign["startDate"], campaign["autoAssignLicenseFlag"], campaign["autoAddDevicesFlag"]) == (
        start.isoformat(),
        True,
        False,
    )
    report = fleet.get(f"/reports/{fleet.acc}/campaigns/{created['id']}/devices")
    assert sorted(d["deviceId"] for d in report["deviceList"]) == fleet.devices[:3]

    # The human form: the created campaign as `key  value` lines, windows as hour ranges.
    fields = ok_fields(
        fleet.cli(
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
            start.isoformat(),
            "--device",
            fleet.devices[3],
            "--no-auto-assign",
        )
    )
    assert fields["status"] in QUEUED and fields["campaignTimeWindowList"] == ""
    assert fleet.get(f"/campaigns/{fleet.acc}/{fields['id']}")["autoAssignLicenseFlag"] is False


def test_create_refusals(fleet: Fleet) -> None:
    base = ["campaigns", "create", "--firmware", fleet.firmware["firmwareName"], "--from", "1.0", "--to", "2.0"]
    day = fleet.today.isoformat()
    failed(fleet.cli(*base, "--start", day, "--end", day, "--window", "evening"), 2, "START-END")
    failed(fleet.cli(*base, "--start", "tomorrow", "--end", day), 2, "--start")
    # The server's own checks come back as its message: a window of two hours is too short.
    failed(fleet.cli(*base, "--start", day, "--end", day, "--window", "18-20"), 1, "400 InvalidRequest", "18-20")
    failed(fleet.cli(*base[:-1], "9.9", "--start", day, "--end", day), 1, "firmwareTo '9.9' does not match")


# --- list and show ------------------------------------------------------------------------------------------------


def test_list_all_statuses_and_filters_with_both_queued_spellings(fleet: Fleet) -> None:
    queued = fleet.create(fleet.devices[:2], campaignName="queued one")
    cancelled = fleet.create(fleet.devices[2:])
    with fleet.api() as api:
        assert api.delete(f"/campaigns/{fleet.acc}/{cancelled['id']}").status_code == 200

    for spelling in QUEUED:
        listed = ok_json(fleet.cli("campaigns", "list", "--status", spelling, "--json"))
        api_answer = fleet.get(f"/reports/{fleet.acc}/firmware/campaigns", campaignStatus=spelling)
        assert listed == api_answer["campaignList"]
        assert [c["id"] for c in listed] == [queued["id"]]
    listed = ok_json(fleet.cli("campaigns", "list", "--status", "CampaignCancelled", "--status", QUEUED[1], "--json"))
    assert sorted(c["id"] for c in listed) == sorted([queued["id"], cancelled["id"]])

    everything = ok_json(fleet.cli("campaigns", "list", "--json"))
    assert {c["id"]: c["status"] for c in everything} == {
        queued["id"]: "CampaignQueued",
        cancelled["id"]: "CampaignCancelled",
    }

    table = fleet.cli("campaigns", "list")
    assert table.exit_code == 0, table.output
    assert header(table.stdout) == ["id", "name", "status", "firmware", "from", "to", "start", "end", "windows"]
    assert row(table.stdout, queued["id"])[1:3] == ["queued one", "CampaignQueued"]
    assert row(table.stdout, cancelled["id"])[2] == "CampaignCancelled"

    failed(fleet.cli("campaigns", "list", "--status", "CampaignSleeping"), 1, "400", "unknown campaignStatus")


def test_show_prints_the_campaign_and_device_counts(fleet: Fleet) -> None:
    unknown = imei()  # not the account's: the server records it as DeviceRejected
    created = fleet.create([*fleet.devices[:2], unknown])
    shown = ok_json(fleet.cli("campaigns", "show", created["id"], "--json"))
    assert shown == {
        "campaign": fleet.get(f"/campaigns/{fleet.acc}/{created['id']}"),
        "totalDevice": 3,
        "deviceCounts": {"UpgradePending": 2, "DeviceRejected": 1},
    }

    result = fleet.cli("campaigns", "show", created["id"])
    assert result.exit_code == 0, result.output
    fields_part, table_part = result.stdout.split("\n\n", 1)
    fields = fields_of(fields_part)
    assert (fields["id"], fields["status"], fields["firmwareTo"]) == (created["id"], "CampaignQueued", "2.0")
    assert fields["campaignTimeWindowList"] == ""
    assert header(table_part) == ["device status", "devices", "share"]
    assert row(table_part, "UpgradePending") == ["UpgradePending", "2", "67%"]
    assert row(table_part, "DeviceRejected") == ["DeviceRejected", "1", "33%"]
    assert row(table_part, "total")[:2] == ["total", "3"]


# --- watch --------------------------------------------------------------------------------------------------------


def test_watch_once_renders_one_frame(fleet: Fleet) -> None:
    created = fleet.create([*fleet.devices[:3], imei()], campaignName="frame")
    result = fleet.cli("campaigns", "watch", created["id"], "--once")
    assert result.exit_code == 0, result.output
    assert f"campaign {created['id']}  frame  CampaignQueued  1.0 -> 2.0  4 devices" in result.stdout
    assert frame_row(result.stdout, "UpgradePending") == ["UpgradePending", "3/4", "75%"]
    assert frame_row(result.stdout, "UpgradeSuccess") == ["UpgradeSuccess", "0/4", "0%"]
    assert frame_row(result.stdout, "DeviceRejected") == ["DeviceRejected", "1/4", "25%"]

    lines = ok_json_lines(fleet.cli("campaigns", "watch", created["id"], "--once", "--json"))
    assert lines == [ok_json(fleet.cli("campaigns", "show", created["id"], "--json"))]


def ok_json_lines(result: Result) -> list[Any]:
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_watch_follows_the_campaign_until_it_and_its_devices_are_final(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = fleet.create(fleet.devices[:3])
    path = f"/campaigns/{fleet.acc}/{created['id']}"
    headers = fleet.account.headers()
    # Whether each refresh of the watch found the campaign final: the cancel waits until the watch has refreshed.
    finished: list[bool] = []
    take_snapshot = campaigns_cli.snapshot

    def recorded(*args: Any, **kwargs: Any) -> Any:
        shot = take_snapshot(*args, **kwargs)
        finished.append(shot.finished)
        return shot

    monkeypatch.setattr(campaigns_cli, "snapshot", recorded)

    def cancel_once_watched() -> None:
        deadline = time.monotonic() + 30
        while len(finished) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        with httpx.Client(base_url=f"{fleet.server.base_url}/api/fota/v3", headers=headers) as api:
            assert api.delete(path).status_code == 200

    canceller = threading.Thread(target=cancel_once_watched)
    canceller.start()
    try:
        result = fleet.cli("campaigns", "watch", created["id"], "--interval", "0.2")
    finally:
        canceller.join()
    assert result.exit_code == 0, result.output
    assert finished[:2] == [False, False], "the watch refreshed while the campaign went on"
    assert finished[-1] and not any(finished[:-1]), f"watch returned exactly when the campaign was final: {finished}"
    # Out of a terminal, rich's Live writes only its last frame: the final one.
    assert f"campaign {created['id']}  CampaignCancelled" in result.stdout
    assert frame_row(result.stdout, "CampaignCancelled") == ["CampaignCancelled", "3/3", "100%"]
    assert frame_row(result.stdout, "UpgradePending") == ["UpgradePending", "0/3", "0%"]


def test_watch_json_prints_a_line_per_refresh_until_final(fleet: Fleet) -> None:
    created = fleet.create(fleet.devices[:1])
    with fleet.api() as api:
        assert api.delete(f"/campaigns/{fleet.acc}/{created['id']}").status_code == 200
    lines = ok_json_lines(fleet.cli("campaigns", "watch", created["id"], "--json", "--interval", "0.1"))
    assert [(x["campaign"]["status"], x["deviceCounts"]) for x in lines] == [
        ("CampaignCancelled", {"CampaignCancelled": 1})
    ]


# --- cancel -------------------------------------------------------------------------------------------------------


def test_cancel_asks_first_unless_yes(fleet: Fleet) -> None:
    first = fleet.create(fleet.devices[:2], campaignName="keep?")
    path = f"/campaigns/{fleet.acc}/{first['id']}"

    declined = fleet.cli("campaigns", "cancel", first["id"], input="n\n")
    failed(declined, 1, f"Cancel campaign {first['id']} (keep?), now CampaignQueued?", "Aborted")
    assert fleet.get(path)["status"] == "CampaignQueued"

    confirmed = fleet.cli("campaigns", "cancel", first["id"], input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert "Cancel campaign" in confirmed.output
    assert fields_of(confirmed.stdout, "id", "status") == {"id": first["id"], "status": "CampaignCancelled"}
    assert fleet.get(path)["status"] == "CampaignCancelled"

    second = fleet.create(fleet.devices[2:])
    result = fleet.cli("campaigns", "cancel", second["id"], "--yes", "--json")
    assert ok_json(result) == {"success": True}
    assert "Cancel campaign" not in result.output
    assert fleet.get(f"/campaigns/{fleet.acc}/{second['id']}")["status"] == "CampaignCancelled"

    # A final campaign refuses, with the server's reason.
    failed(fleet.cli("campaigns", "cancel", second["id"], "--yes"), 1, "400", "already CampaignCancelled")


def fields_of(block: str, *keys: str) -> dict[str, str]:
    """The `key  value` lines of a block (only those of `keys` when given: the prompt's echo is on stdout too)."""
    pairs = (line.partition(" ") for line in block.splitlines() if line.strip())
    return {key: value.strip() for key, _, value in pairs if not keys or key in keys}


# --- devices ------------------------------------------------------------------------------------------------------


def test_devices_list_and_show(fleet: Fleet) -> None:
    created = fleet.create(fleet.devices[:1])
    listed = ok_json(fleet.cli("devices", "list", "--json"))
    assert listed == fleet.get(f"/devices/{fleet.acc}")["deviceList"]
    assert [d["deviceId"] for d in listed] == fleet.devices
    assert ok_json(fleet.cli("devices", "list", "--protocol", "HTTP", "--json")) == []

    table = fleet.cli("devices", "list")
    assert table.exit_code == 0, table.output
    assert row(table.stdout, fleet.devices[0])[1:5] == ["Acme", fleet.firmware["model"], "1.0", "LWM2M"]

    device = fleet.devices[0]
    shown = ok_json(fleet.cli("devices", "show", device, "--json"))
    with fleet.api() as api:
        lookup = api.post(f"/devices/{fleet.acc}", json={"deviceList": [device]}).json()
    assert shown == {"device": lookup["deviceList"][0], "history": fleet.get(f"/reports/{fleet.acc}/devices/{device}")}
    assert [(h["campaignId"], h["status"]) for h in shown["history"]] == [(created["id"], "UpgradePending")]

    result = fleet.cli("devices", "show", device)
    assert result.exit_code == 0, result.output
    fields_part, history_part = result.stdout.split("\n\n", 1)
    fields = fields_of(fields_part)
    assert (fields["deviceId"], fields["firmware"], fields["licenseAssigned"]) == (device, "1.0", "True")
    assert "history" in history_part
    assert row(history_part, shown["history"][0]["reportUpdatedTime"])[1:4] == [
        created["id"],
        "1.0 -> 2.0",
        "UpgradePending",
    ]

    failed(fleet.cli("devices", "show", imei()), 1, "Device does not exist")


# --- errors and connection options --------------------------------------------------------------------------------


def test_wrong_password_exits_1_with_the_servers_message(fleet: Fleet) -> None:
    output = failed(
        fleet.cli("campaigns", "list", **{"--password": "not-the-password"}),
        1,
        "session login failed",
        "invalid username or password for this account",
    )
    assert "not-the-password" not in output
    failed(
        fleet.cli("devices", "list", **{"--client-secret": "nope"}), 1, "OAuth token request failed", "invalid_client"
    )


def test_unknown_campaign_exits_1(fleet: Fleet) -> None:
    missing = str(uuid.uuid4())
    for command in (["show"], ["watch", "--once"], ["cancel", "--yes"]):
        failed(fleet.cli("campaigns", command[0], missing, *command[1:]), 1, "404 NotFound", missing)


def test_unreachable_server_exits_2(fleet: Fleet, closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    failed(fleet.cli("campaigns", "list", **{"--server": url}), 2, f"cannot reach {url}")
    failed(fleet.cli("devices", "show", fleet.devices[0], **{"--server": url}), 2, f"cannot reach {url}")


def test_credentials_come_from_the_environment_and_are_required(fleet: Fleet) -> None:
    env = {
        "FOTA_SERVER": fleet.server.base_url,
        "FOTA_ACCOUNT": fleet.acc,
        "FOTA_CLIENT_ID": fleet.account.client_id,
        "FOTA_CLIENT_SECRET": fleet.account.client_secret,
        "FOTA_USERNAME": fleet.account.username,
        "FOTA_PASSWORD": fleet.account.password,
    }
    assert (
        ok_json(runner.invoke(app, ["devices", "list", "--json"], env=env))
        == fleet.get(f"/devices/{fleet.acc}")["deviceList"]
    )
    result = runner.invoke(app, ["campaigns", "list"], env={**env, "FOTA_ACCOUNT": None, "FOTA_PASSWORD": None})
    failed(result, 2, "missing --account (FOTA_ACCOUNT), --password (FOTA_PASSWORD)")


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A local port that is bound but not listening: connecting to it is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


# --- the client's paging and re-login, on a scripted transport ----------------------------------------------------


def test_client_follows_pages_and_logs_in_again_on_401() -> None:
    calls: list[str] = []
    logins = 0

    def handle(request: httpx.Request) -> httpx.Response:
        nonlocal logins
        calls.append(f"{request.method} {request.url.path}?{request.url.query.decode()}")
        if request.url.path.endswith("/oauth2/token"):
            logins += 1
            return httpx.Response(200, json={"access_token": f"t{logins}", "token_type": "bearer"})
        if request.url.path.endswith("/session/login"):
            return httpx.Response(200, json={"sessionToken": f"s{logins}"})
        if request.headers["VZ-M2M-Token"] == "s1" and "lastSeenDeviceId=b" in str(request.url):
            return httpx.Response(401, json={"errorCode": "Unauthorized", "errorMessage": "expired"})
        cursor = request.url.params.get("lastSeenDeviceId")
        after = {None: ("b", True), "b": ("d", True), "d": (None, False)}[cursor]
        return httpx.Response(200, json={"hasMoreData": after[1], "lastSeenDeviceId": after[0], "deviceList": []})

    creds = Credentials.of("http://fota.test/", "acc", "id", "secret", "user", "password")
    with ThingSpace(creds, transport=httpx.MockTransport(handle)) as client:
        pages = list(client.pages("/devices/acc", "lastSeenDeviceId", {"protocol": "LWM2M"}))
    assert [p["lastSeenDeviceId"] for p in pages] == ["b", "d", None]
    assert logins == 2
    assert [c for c in calls if "/devices/" in c] == [
        "GET /api/fota/v3/devices/acc?protocol=LWM2M",
        "GET /api/fota/v3/devices/acc?protocol=LWM2M&lastSeenDeviceId=b",
        "GET /api/fota/v3/devices/acc?protocol=LWM2M&lastSeenDeviceId=b",
        "GET /api/fota/v3/devices/acc?protocol=LWM2M&lastSeenDeviceId=d",
    ]

    with pytest.raises(ApiError, match="missing --account"):
        Credentials.of("http://x", "", "id", "secret", "user", "password")


def test_a_v1_upgrade_is_listed_and_shown_like_a_campaign(fleet: Fleet) -> None:
    start = fleet.today + timedelta(days=3)
    body = {
        "accountName": fleet.acc,
        "firmwareName": fleet.firmware["firmwareName"],
        "firmwareTo": fleet.firmware["firmwareTo"],
        "startDate": start.isoformat(),
        "endDate": start.isoformat(),
        "deviceList": fleet.devices[:1],
    }
    with httpx.Client(base_url=f"{fleet.server.base_url}/api/fota/v1", headers=fleet.account.headers()) as v1:
        r = v1.post("/upgrades", json=body)
    assert r.status_code == 200, r.text
    upgrade_id = r.json()["id"]

    listed = ok_json(fleet.cli("campaigns", "list", "--json"))
    assert [(c["id"], c["status"], c["firmwareFrom"]) for c in listed] == [
        (upgrade_id, "CampaignQueued", fleet.firmware["firmwareFrom"])
    ]
    shown = fleet.cli("campaigns", "show", upgrade_id)
    assert shown.exit_code == 0, shown.output
    assert upgrade_id in shown.stdout
