"""A device's bootstrap settings through the admin API and `fota admin device-security bootstrap`: stored without
ever showing a key, bad input refused with 400, other accounts' devices 404, no admin token 401."""

from __future__ import annotations

import json
import secrets

import httpx
import pytest
from typer.testing import CliRunner

from fota.adapters.cli.main import app
from tests.conftest import RunningServer
from tests.lwm2m.harness import provision

runner = CliRunner(env={"COLUMNS": "250", "NO_COLOR": "1"})


def test_bootstrap_settings_are_validated_and_never_show_a_key(server: RunningServer) -> None:
    account = server.new_account()
    _, (imei, other), _ = provision(server, account, 2)
    path = f"/accounts/{account.name}/devices/{imei}/bootstrap"
    assert server.admin.get(path).status_code == 404  # none yet
    key = secrets.token_bytes(16).hex()
    body = {"bootstrapMode": "psk", "bootstrapPskIdentity": f"bs-{imei}", "bootstrapPskKey": key}
    r = server.admin.put(path, json={**body, "lifetime": 600, "binding": "UQ"})
    assert r.status_code == 200, r.text
    assert key not in r.text
    assert r.json() == {
        "deviceId": imei,
        "bootstrapMode": "psk",
        "bootstrapPskIdentity": f"bs-{imei}",
        "securityMode": "psk",
        "shortServerId": 1,
        "lifetime": 600,
        "binding": "UQ",
        "disableTimeout": 60,
        "communicationRetryCount": 3,
        "communicationRetryTimer": 10,
        "communicationSequenceDelayTimer": 60,
        "communicationSequenceRetryCount": 10,
        "bootstrapCount": 0,
    }
    assert server.admin.get(path).json() == r.json()

    other_path = f"/accounts/{account.name}/devices/{other}/bootstrap"
    clash = server.admin.put(other_path, json=body)
    assert clash.status_code == 409 and clash.json()["errorCode"], clash.text
    for bad in (
        {"bootstrapMode": "psk", "bootstrapPskIdentity": "x"},
        {"bootstrapMode": "psk", "bootstrapPskIdentity": "x", "bootstrapPskKey": "not hex"},
        {"bootstrapMode": "nosec", "bootstrapPskKey": "00" * 16},
        {"bootstrapMode": "nosec", "serverUri": "http://example.invalid"},
        {"bootstrapMode": "nosec", "serverUri": "coap://host:5683"},  # psk account needs coaps://
        {"bootstrapMode": "nosec", "securityMode": "nosec", "serverUri": "coaps://host:5684"},
        {"bootstrapMode": "nosec", "lifetime": 5},
        {"bootstrapMode": "nosec", "binding": "T"},
        {"bootstrapMode": "nosec", "disableTimeout": -1},
        {"bootstrapMode": "nosec", "communicationRetryCount": 0},
        {"bootstrapMode": "certificate"},
    ):
        r = server.admin.put(other_path, json=bad)
        assert r.status_code == 400, (bad, r.text)
        assert set(r.json()) == {"errorCode", "errorMessage"}

    stranger = server.new_account()
    foreign = f"/accounts/{stranger.name}/devices/{imei}/bootstrap"
    assert server.admin.get(foreign).status_code == 404
    assert server.admin.put(foreign, json={"bootstrapMode": "nosec"}).status_code == 404
    for method in ("GET", "PUT"):
        r = httpx.request(
            method,
            f"{server.base_url}/admin/v1{path}",
            json={"bootstrapMode": "nosec"},
            headers={"Authorization": f"Bearer {account.token()}"},
            timeout=30,
        )
        assert r.status_code == 401, r.text
    assert server.admin.get(path).json()["bootstrapMode"] == "psk"  # untouched by the refused calls


@pytest.mark.parametrize("generate", [True, False])
def test_cli_sets_and_shows_bootstrap_settings(server: RunningServer, generate: bool) -> None:
    account = server.new_account()
    _, (imei,), _ = provision(server, account, 1)
    common = ["--server", server.base_url, "--admin-token", server.admin_token, "--json"]
    key_args = ["--generate"] if generate else ["--key", "00112233445566778899aabbccddeeff"]
    settings = ["--disable-timeout", "20", "--retry-timer", "7", "--server-uri", "coaps://fota.example:5684"]
    command = ["admin", "device-security", "bootstrap", "set", account.name, imei, "--identity", f"b-{imei}"]
    result = runner.invoke(app, [*command, *key_args, *settings, *common])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["disableTimeout"] == 20 and shown["communicationRetryTimer"] == 7
    assert shown["serverUri"] == "coaps://fota.example:5684"
    assert ("bootstrapPskKey" in shown) == generate  # a generated key is printed once, a given one never
    result = runner.invoke(app, ["admin", "device-security", "bootstrap", "show", account.name, imei, *common])
    assert result.exit_code == 0, result.output
    assert "bootstrapPskKey" not in json.loads(result.stdout)
    bad = runner.invoke(
        app, ["admin", "device-security", "bootstrap", "set", account.name, imei, "--mode", "psk", *common]
    )
    assert bad.exit_code != 0
