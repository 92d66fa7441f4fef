"""A device's time zone through the admin API (contract §4) and `fota admin`: set when devices are added or with
PATCH, checked against the IANA database (a bad zone fails that device, or is a 400), read back with where it came
from, cleared with null; other accounts' devices 404; ThingSpace's device reads do not change shape."""

from __future__ import annotations

import json
import secrets

from typer.testing import CliRunner

from fota.adapters.cli.main import app
from tests.conftest import RunningServer

runner = CliRunner(env={"COLUMNS": "250", "NO_COLOR": "1"})


def _imeis(count: int) -> list[str]:
    start = 350_000_000_000_000 + secrets.randbelow(10**13)
    return [str(start + i) for i in range(count)]


def _device(imei: str, **extra: str) -> dict[str, str]:
    return {"deviceId": imei, "make": "Acme", "model": "M1", "firmware": "1.0", "protocol": "LWM2M", **extra}


def test_devices_are_added_with_or_without_a_zone_and_a_bad_one_fails_that_device(server: RunningServer) -> None:
    account = server.new_account()
    berlin, plain, bad, empty = _imeis(4)
    r = server.admin.post(
        f"/accounts/{account.name}/devices",
        json={
            "deviceList": [
                _device(berlin, timeZone="Europe/Berlin"),
                _device(plain),
                _device(bad, timeZone="Mars/Olympus_Mons"),
                _device(empty, timeZone=""),
            ]
        },
    )
    assert r.status_code == 201, r.text
    results = {d["deviceId"]: d for d in r.json()["deviceList"]}
    assert results[berlin]["status"] == results[plain]["status"] == "Created"
    for failed in (bad, empty):
        assert results[failed]["status"] == "Failed"
        assert "timeZone" in results[failed]["reason"] or "time zone" in results[failed]["reason"]
        assert server.admin.get(f"/accounts/{account.name}/devices/{failed}").status_code == 404

    read = server.admin.get(f"/accounts/{account.name}/devices/{berlin}")
    assert read.status_code == 200, read.text
    body = read.json()
    assert (body["deviceId"], body["accountName"], body["firmware"]) == (berlin, account.name, "1.0")
    assert (body["timeZone"], body["timeZoneSource"]) == ("Europe/Berlin", "admin")
    unzoned = server.admin.get(f"/accounts/{account.name}/devices/{plain}").json()
    assert (unzoned["timeZone"], unzoned["timeZoneSource"]) == (None, None)

    # Added again without a zone: the device keeps the one it has; with one: it takes it.
    account.add_devices([_device(berlin, firmware="1.1")])
    assert server.admin.get(f"/accounts/{account.name}/devices/{berlin}").json()["timeZone"] == "Europe/Berlin"
    account.add_devices([_device(berlin, timeZone="Asia/Kolkata")])
    assert server.admin.get(f"/accounts/{account.name}/devices/{berlin}").json()["timeZone"] == "Asia/Kolkata"


def test_patch_sets_checks_and_clears_the_zone(server: RunningServer) -> None:
    account = server.new_account()
    (imei,) = _imeis(1)
    account.add_devices([_device(imei)])
    path = f"/accounts/{account.name}/devices/{imei}"

    r = server.admin.patch(path, json={"timeZone": "America/Los_Angeles"})
    assert r.status_code == 200, r.text
    assert (r.json()["timeZone"], r.json()["timeZoneSource"]) == ("America/Los_Angeles", "admin")
    assert server.admin.get(path).json() == r.json()

    for bad in ({"timeZone": "Mars/Olympus_Mons"}, {"timeZone": ""}, {"timeZone": 5}, {}, {"timeZone": "../etc"}):
        refused = server.admin.patch(path, json=bad)
        assert refused.status_code == 400, (bad, refused.text)
        assert set(refused.json()) == {"errorCode", "errorMessage"}
    assert server.admin.get(path).json()["timeZone"] == "America/Los_Angeles"  # untouched by the refused calls

    cleared = server.admin.patch(path, json={"timeZone": None})
    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["timeZone"], cleared.json()["timeZoneSource"]) == (None, None)

    missing = server.admin.patch(f"/accounts/{account.name}/devices/{_imeis(1)[0]}", json={"timeZone": "UTC"})
    assert missing.status_code == 404, missing.text
    stranger = server.new_account()
    foreign = f"/accounts/{stranger.name}/devices/{imei}"
    assert server.admin.get(foreign).status_code == 404
    assert server.admin.patch(foreign, json={"timeZone": "UTC"}).status_code == 404
    assert server.admin.get(path).json()["timeZone"] is None


def test_thingspace_device_reads_keep_their_shape(server: RunningServer) -> None:
    account = server.new_account()
    zoned, plain = _imeis(2)
    account.add_devices([_device(zoned, timeZone="Europe/Berlin"), _device(plain)])
    with account.client() as client:
        listed = {d["deviceId"]: d for d in client.get(f"/devices/{account.name}").json()["deviceList"]}
        looked_up = {
            d["deviceId"]: d
            for d in client.post(f"/devices/{account.name}", json={"deviceList": [zoned, plain]}).json()["deviceList"]
        }
    for read in (listed, looked_up):
        assert set(read[zoned]) == set(read[plain])
        assert not any("zone" in key.lower() for key in read[zoned]), read[zoned]


def _admin(server: RunningServer, *args: str) -> str:
    argv = ["admin", *args, "--server", server.base_url, "--admin-token", server.admin_token]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_cli_adds_sets_shows_and_clears_a_zone(server: RunningServer) -> None:
    account = server.new_account()
    (imei,) = _imeis(1)
    options = ("--make", "Acme", "--model", "M1", "--firmware", "1.0")
    added = json.loads(
        _admin(server, "devices", account.name, "--imei", imei, *options, "--time-zone", "Asia/Tokyo", "--json")
    )
    assert added["deviceList"][0]["status"] == "Created"
    shown = json.loads(_admin(server, "device", "show", account.name, imei, "--json"))
    assert (shown["timeZone"], shown["timeZoneSource"]) == ("Asia/Tokyo", "admin")

    lines = _admin(server, "device", "set-zone", account.name, imei, "Europe/Berlin")
    assert any(line.split() == ["timeZone", "Europe/Berlin"] for line in lines.splitlines()), lines
    bad = runner.invoke(
        app,
        [
            "admin",
            "device",
            "set-zone",
            account.name,
            imei,
            "Nowhere/City",
            "--server",
            server.base_url,
            "--admin-token",
            server.admin_token,
        ],
    )
    assert bad.exit_code == 1 and "400" in bad.output, bad.output
    cleared = json.loads(_admin(server, "device", "set-zone", account.name, imei, "--clear", "--json"))
    assert cleared["timeZone"] is None
