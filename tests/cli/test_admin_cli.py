"""`fota admin ...` through typer's CliRunner against a live server (design.md §7): output, exit codes, errors."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import socket
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from typer.testing import CliRunner, Result

from fota.adapters.cli.main import app
from tests.conftest import BACKENDS, RunningServer, _stop_and_cleanup, start_server

# Wide enough that rich never wraps a table cell or a message, so the tests can look for whole values on one line.
WIDE = {"COLUMNS": "250", "NO_COLOR": "1"}
runner = CliRunner(env=WIDE)


def admin(server: RunningServer, *args: str, token: str | None = None, **kwargs: Any) -> Result:
    """Runs `fota admin <args> --server <url> --admin-token <token>`."""
    argv = [
        "admin",
        *args,
        "--server",
        server.base_url,
        "--admin-token",
        server.admin_token if token is None else token,
    ]
    return runner.invoke(app, argv, **kwargs)


def ok_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def ok_table(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def ok_fields(result: Result) -> dict[str, str]:
    """The `key  value` lines printed for one object, in order: keys padded to one width, then two spaces."""
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines, result.output
    width = max(len(line.split(" ", 1)[0]) for line in lines)
    fields: dict[str, str] = {}
    for line in lines:
        key = line.split(" ", 1)[0]
        assert key and line.startswith(key.ljust(width) + "  "), f"not a `key  value` line: {line!r}"
        assert key not in fields, f"{key!r} printed twice:\n{result.stdout}"
        fields[key] = line[width + 2 :]
    return fields


def failed(result: Result, exit_code: int, *fragments: str) -> str:
    """Asserts a clean failure: the exit code, no traceback, and each fragment in the message."""
    assert result.exit_code == exit_code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output
    return result.output


def account_name() -> str:
    return f"{secrets.randbelow(10**10):010d}-{secrets.randbelow(10**5):05d}"


def imei() -> str:
    return f"35{secrets.randbelow(10**13):013d}"


def row(table: str, first_cell: str) -> list[str]:
    """The cells of the rich table row whose first cell is `first_cell`."""
    for line in table.splitlines():
        if not line.startswith("│"):
            continue
        cells = [c.strip() for c in line.strip()[1:-1].split("│")]
        if cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} in:\n{table}")


def header(table: str) -> list[str]:
    for line in table.splitlines():
        if line.startswith("┃"):
            return [c.strip() for c in line.strip("┃ ").split("┃")]
    raise AssertionError(f"no header in:\n{table}")


def columns(table: str) -> list[str]:
    """Each body column's text top to bottom, whitespace removed: what is left of the values once cells fold."""
    lines = [line.strip()[1:-1].split("│") for line in table.splitlines() if line.startswith("│")]
    assert lines, f"no rows in:\n{table}"
    return ["".join("".join(cells[i].split()) for cells in lines) for i in range(len(lines[0]))]


@pytest.fixture
def acc(server: RunningServer) -> str:
    name = account_name()
    ok_json(admin(server, "accounts", "create", name, "--licenses", "10", "--json"))
    return name


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "GM01Q_10512_10657.bin"
    path.write_bytes(secrets.token_bytes(3000) + b"\x00" * 1000)
    return path


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A local port that is bound but not listening: connecting to it is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


@pytest.fixture(params=BACKENDS)
def system_clock_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(request.param, tmp_path, simulated_clock=False)
    yield running
    _stop_and_cleanup(running)


# --- accounts -----------------------------------------------------------------------------------------------------


def test_accounts_create_prints_the_account_as_key_value_lines(server: RunningServer) -> None:
    name = account_name()
    result = admin(server, "accounts", "create", name, "--licenses", "25", "--purchase-type", "TS-HFOTA-EVNT")
    fields = ok_fields(result)
    assert list(fields) == ["accountName", "licenseCount", "licenseUsedCount", "purchaseType"]
    assert fields == {
        "accountName": name,
        "licenseCount": "25",
        "licenseUsedCount": "0",
        "purchaseType": "TS-HFOTA-EVNT",
    }


def test_accounts_create_with_json_prints_the_server_answer(server: RunningServer) -> None:
    name = account_name()
    body = ok_json(admin(server, "accounts", "create", name, "--licenses", "3", "--purchase-type", "X", "--json"))
    assert body == {"accountName": name, "licenseCount": 3, "licenseUsedCount": 0, "purchaseType": "X"}


def test_accounts_create_defaults_to_100_licenses_and_no_purchase_type(server: RunningServer) -> None:
    name = account_name()
    assert ok_json(admin(server, "accounts", "create", name, "--json")) == {
        "accountName": name,
        "licenseCount": 100,
        "licenseUsedCount": 0,
    }


def test_accounts_show_reads_the_account_back(server: RunningServer, acc: str) -> None:
    assert ok_json(admin(server, "accounts", "show", acc, "--json"))["licenseCount"] == 10
    fields = ok_fields(admin(server, "accounts", "show", acc))
    assert list(fields.items())[:3] == [("accountName", acc), ("licenseCount", "10"), ("licenseUsedCount", "0")]


def test_accounts_set_licenses_resizes_the_pool(server: RunningServer, acc: str) -> None:
    assert ok_json(admin(server, "accounts", "set-licenses", acc, "42", "--json"))["licenseCount"] == 42
    assert ok_json(admin(server, "accounts", "show", acc, "--json"))["licenseCount"] == 42
    fields = ok_fields(admin(server, "accounts", "set-licenses", acc, "0"))
    assert list(fields.items())[:2] == [("accountName", acc), ("licenseCount", "0")]


def test_duplicate_account_exits_1_with_409_conflict(server: RunningServer, acc: str) -> None:
    failed(admin(server, "accounts", "create", acc), 1, "409 Conflict", f"account {acc} already exists")


def test_unknown_account_exits_1_with_404(server: RunningServer) -> None:
    name = account_name()
    failed(admin(server, "accounts", "show", name), 1, "404 NotFound", name)
    failed(admin(server, "accounts", "set-licenses", name, "5"), 1, "404 NotFound")


def test_invalid_account_name_exits_1_with_400(server: RunningServer) -> None:
    failed(admin(server, "accounts", "create", "has space"), 1, "400 InvalidRequest", "accountName")


def test_negative_license_count_exits_1_with_400(server: RunningServer, acc: str) -> None:
    options = ["--server", server.base_url, "--admin-token", server.admin_token]
    result = runner.invoke(app, ["admin", "accounts", "set-licenses", *options, "--", acc, "-1"])
    failed(result, 1, "400 InvalidRequest", "licenseCount")


def test_error_message_with_square_brackets_is_printed_verbatim(server: RunningServer) -> None:
    failed(admin(server, "accounts", "create", "bad[/name]"), 1, "400 InvalidRequest", "bad[/name]")


# --- authentication and reachability ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("accounts", "create", "0000000000-00000"),
        ("accounts", "show", "0000000000-00000"),
        ("client", "0000000000-00000"),
        ("firmware", "create", "fw", "--make", "m", "--model", "x", "--from", "a", "--to", "b"),
        ("clock", "show"),
    ],
)
def test_wrong_admin_token_exits_1_with_401(server: RunningServer, args: tuple[str, ...]) -> None:
    failed(admin(server, *args, token="not-the-token"), 1, "401 Unauthorized", "FOTA_ADMIN_TOKEN")


@pytest.mark.parametrize("token", [None, ""], ids=["unset", "empty"])
def test_missing_admin_token_is_reported_as_a_token_problem(server: RunningServer, token: str | None) -> None:
    result = runner.invoke(
        app, ["admin", "clock", "show", "--server", server.base_url], env={"FOTA_ADMIN_TOKEN": token}
    )
    output = failed(result, 2, "no admin token: pass --admin-token or set FOTA_ADMIN_TOKEN")
    assert "cannot reach" not in output, output


def test_empty_admin_token_option_is_reported_as_a_token_problem(server: RunningServer) -> None:
    output = failed(admin(server, "accounts", "show", account_name(), token=""), 2, "no admin token")
    assert "cannot reach" not in output, output


def test_wrong_admin_token_creates_nothing(server: RunningServer) -> None:
    name = account_name()
    failed(admin(server, "accounts", "create", name, token="not-the-token"), 1, "401")
    failed(admin(server, "accounts", "show", name), 1, "404")


def test_unreachable_server_exits_2_with_a_readable_message(closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    result = runner.invoke(app, ["admin", "accounts", "show", "acme", "--server", url, "--admin-token", "t"])
    failed(result, 2, f"cannot reach {url}")


def test_server_and_token_can_come_from_the_environment(server: RunningServer) -> None:
    env = {"FOTA_SERVER": server.base_url, "FOTA_ADMIN_TOKEN": server.admin_token}
    name = account_name()
    result = runner.invoke(app, ["admin", "accounts", "create", name, "--json"], env=env)
    assert ok_json(result)["accountName"] == name


def test_trailing_slash_in_server_url_is_harmless(server: RunningServer, acc: str) -> None:
    argv = ["admin", "accounts", "show", acc, "--json", "--server", server.base_url + "/"]
    result = runner.invoke(app, [*argv, "--admin-token", server.admin_token])
    assert ok_json(result)["accountName"] == acc


def test_admin_without_a_command_shows_help() -> None:
    result = runner.invoke(app, ["admin"])
    assert result.exit_code in (0, 2)
    for command in ("accounts", "client", "user", "devices", "firmware", "clock"):
        assert command in result.output


# --- clients and users --------------------------------------------------------------------------------------------


def test_client_generates_credentials_that_obtain_a_token(server: RunningServer, acc: str) -> None:
    creds = ok_json(admin(server, "client", acc, "--json"))
    assert set(creds) == {"clientId", "clientSecret"} and creds["clientId"] and creds["clientSecret"]
    r = httpx.post(
        f"{server.base_url}/api/ts/v1/oauth2/token",
        auth=(creds["clientId"], creds["clientSecret"]),
        data={"grant_type": "client_credentials"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["access_token"]


def test_client_with_given_id_and_secret_prints_them_as_key_value_lines(server: RunningServer, acc: str) -> None:
    client_id, secret = f"cli-{uuid.uuid4().hex[:8]}", "s3cret-" + uuid.uuid4().hex
    fields = ok_fields(admin(server, "client", acc, "--client-id", client_id, "--client-secret", secret))
    assert list(fields) == ["clientId", "clientSecret"]
    assert fields == {"clientId": client_id, "clientSecret": secret}


def test_client_shows_the_whole_generated_secret_on_an_80_column_output(server: RunningServer, acc: str) -> None:
    result = runner.invoke(
        app,
        ["admin", "client", acc, "--server", server.base_url, "--admin-token", server.admin_token],
        env={"COLUMNS": "80"},
    )
    creds = ok_fields(result)
    assert "…" not in result.stdout, result.stdout
    assert list(creds) == ["clientId", "clientSecret"] and creds["clientId"] and creds["clientSecret"]
    # The secret is printed only once: what is on the screen must be the whole of it, so it must obtain a token.
    r = httpx.post(
        f"{server.base_url}/api/ts/v1/oauth2/token",
        auth=(creds["clientId"], creds["clientSecret"]),
        data={"grant_type": "client_credentials"},
    )
    assert r.status_code == 200, r.text


def test_duplicate_client_id_exits_1_with_409(server: RunningServer, acc: str) -> None:
    client_id = f"cli-{uuid.uuid4().hex[:8]}"
    ok_json(admin(server, "client", acc, "--client-id", client_id, "--json"))
    failed(admin(server, "client", acc, "--client-id", client_id), 1, "409 Conflict", client_id)


def test_client_for_unknown_account_exits_1_with_404(server: RunningServer) -> None:
    failed(admin(server, "client", account_name()), 1, "404 NotFound")


def test_user_is_created_and_can_log_in(server: RunningServer, acc: str) -> None:
    username, password = f"user-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(12)
    body = ok_json(admin(server, "user", acc, username, "--password", password, "--json"))
    assert body == {"accountName": acc, "username": username}
    creds = ok_json(admin(server, "client", acc, "--json"))
    token = httpx.post(
        f"{server.base_url}/api/ts/v1/oauth2/token",
        auth=(creds["clientId"], creds["clientSecret"]),
        data={"grant_type": "client_credentials"},
    ).json()["access_token"]
    r = httpx.post(
        f"{server.base_url}/api/m2m/v1/session/login",
        headers={"Authorization": f"Bearer {token}"},
        json={"username": username, "password": password},
    )
    assert r.status_code == 200, r.text
    assert r.json()["sessionToken"]


def test_user_output_names_account_and_user(server: RunningServer, acc: str) -> None:
    fields = ok_fields(admin(server, "user", acc, "operator", "--password", "correct horse"))
    assert list(fields) == ["accountName", "username"]
    assert fields == {"accountName": acc, "username": "operator"}


def test_user_password_is_prompted_without_echo(server: RunningServer, acc: str) -> None:
    password = "prompted-" + uuid.uuid4().hex
    result = admin(server, "user", acc, "prompted", "--json", input=password + "\n")
    assert result.exit_code == 0, result.output
    assert "Password" in result.output
    assert password not in result.output


def test_duplicate_user_exits_1_with_409(server: RunningServer, acc: str) -> None:
    ok_json(admin(server, "user", acc, "dup", "--password", "password1", "--json"))
    failed(admin(server, "user", acc, "dup", "--password", "password2"), 1, "409 Conflict", "dup")


def test_short_password_exits_1_with_400(server: RunningServer, acc: str) -> None:
    failed(admin(server, "user", acc, "shorty", "--password", "1234567"), 1, "400 InvalidRequest", "8 characters")


# --- devices ------------------------------------------------------------------------------------------------------


def device_options(make: str = "SEQUANS Communications", model: str = "GM01Q") -> list[str]:
    return ["--make", make, "--model", model, "--firmware", "SR1.2.0.0-10512"]


def test_devices_from_imei_options_are_created(server: RunningServer, acc: str) -> None:
    first, second = imei(), imei()
    body = ok_json(admin(server, "devices", acc, "--imei", first, "--imei", second, *device_options(), "--json"))
    assert body == {
        "accountName": acc,
        "deviceList": [
            {"deviceId": first, "status": "Created", "reason": "Device created"},
            {"deviceId": second, "status": "Created", "reason": "Device created"},
        ],
    }


def test_devices_table_has_a_row_per_device(server: RunningServer, acc: str) -> None:
    device = imei()
    table = ok_table(admin(server, "devices", acc, "--imei", device, "--imei", "123", *device_options()))
    assert header(table) == ["deviceId", "status", "reason"]
    assert row(table, device) == [device, "Created", "Device created"]
    assert row(table, "123") == ["123", "Failed", "deviceId '123' is not an IMEI of 15 digits"]


def test_devices_table_folds_long_values_instead_of_cutting_them(server: RunningServer, acc: str) -> None:
    device = imei()
    argv = ["admin", "devices", acc, "--imei", device, "--imei", "123", *device_options()]
    result = runner.invoke(
        app, [*argv, "--server", server.base_url, "--admin-token", server.admin_token], env={"COLUMNS": "40"}
    )
    table = ok_table(result)
    assert "…" not in table, table
    assert max(len(line) for line in table.splitlines()) <= 40, table
    reasons = ["Device created", "deviceId '123' is not an IMEI of 15 digits"]
    assert columns(table) == ["".join(c.split()) for c in (device + "123", "CreatedFailed", "".join(reasons))], table


def test_device_listed_twice_is_created_once(server: RunningServer, acc: str) -> None:
    device = imei()
    body = ok_json(admin(server, "devices", acc, "--imei", device, "--imei", device, *device_options(), "--json"))
    assert [d["status"] for d in body["deviceList"]] == ["Created", "Failed"]
    assert body["deviceList"][1]["reason"] == "Device listed twice in this request"


def test_devices_provisioned_again_are_updated(server: RunningServer, acc: str) -> None:
    device = imei()
    ok_json(admin(server, "devices", acc, "--imei", device, *device_options(), "--json"))
    body = ok_json(admin(server, "devices", acc, "--imei", device, *device_options(model="GM02S"), "--json"))
    assert body["deviceList"] == [{"deviceId": device, "status": "Updated", "reason": "Device updated"}]


def test_device_of_another_account_is_not_taken_over(server: RunningServer, acc: str) -> None:
    device, other = imei(), account_name()
    ok_json(admin(server, "devices", acc, "--imei", device, *device_options(), "--json"))
    ok_json(admin(server, "accounts", "create", other, "--json"))
    body = ok_json(admin(server, "devices", other, "--imei", device, *device_options(), "--json"))
    assert body["deviceList"][0]["status"] == "Failed"
    assert "another account" in body["deviceList"][0]["reason"]


@pytest.mark.parametrize("wrapped", [False, True], ids=["list", "deviceList"])
def test_devices_from_a_json_file_are_created(server: RunningServer, acc: str, tmp_path: Path, wrapped: bool) -> None:
    devices = [
        {"deviceId": imei(), "mdn": "5551234567", "make": "M", "model": "X", "firmware": "F1", "protocol": "LWM2M"},
        {"deviceId": imei(), "make": "M", "model": "X", "firmware": "F1", "protocol": "OMD-DM"},
        {"deviceId": imei(), "make": "M", "model": "X", "firmware": "F1", "protocol": "CoAP"},
    ]
    path = tmp_path / "devices.json"
    path.write_text(json.dumps({"deviceList": devices} if wrapped else devices))
    body = ok_json(admin(server, "devices", acc, "--file", str(path), "--json"))
    statuses = [(d["deviceId"], d["status"]) for d in body["deviceList"]]
    assert statuses == [
        (devices[0]["deviceId"], "Created"),
        (devices[1]["deviceId"], "Created"),
        (devices[2]["deviceId"], "Failed"),
    ]
    assert "unknown protocol" in body["deviceList"][2]["reason"]


def test_devices_from_file_and_options_are_sent_together(server: RunningServer, acc: str, tmp_path: Path) -> None:
    from_file, from_option = imei(), imei()
    path = tmp_path / "devices.json"
    path.write_text(json.dumps([{"deviceId": from_file, "make": "M", "model": "X", "firmware": "F1"}]))
    body = ok_json(
        admin(server, "devices", acc, "--file", str(path), "--imei", from_option, *device_options(), "--json")
    )
    assert [d["deviceId"] for d in body["deviceList"]] == [from_file, from_option]
    assert {d["status"] for d in body["deviceList"]} == {"Created"}


def test_devices_need_imei_or_file(server: RunningServer, acc: str) -> None:
    failed(admin(server, "devices", acc), 2, "give --imei or --file")


def test_imei_option_needs_make_model_and_firmware(server: RunningServer, acc: str) -> None:
    failed(
        admin(server, "devices", acc, "--imei", imei(), "--make", "M"), 2, "--imei needs --make, --model and --firmware"
    )


def test_devices_for_unknown_account_exit_1_with_404(server: RunningServer) -> None:
    failed(admin(server, "devices", account_name(), "--imei", imei(), *device_options()), 1, "404 NotFound")


# --- firmware -----------------------------------------------------------------------------------------------------


def firmware_name() -> str:
    return f"GM01Q_SR1.2.0.0-10512_SR1.2.0.0-10657_{uuid.uuid4().hex[:6]}"


def create_firmware(server: RunningServer, name: str, *extra: str) -> Result:
    options = ["--make", "SEQUANS Communications", "--model", "GM01Q", "--from", "SR1.2.0.0-10512"]
    return admin(server, "firmware", "create", name, *options, "--to", "SR1.2.0.0-10657", *extra)


def test_firmware_create_prints_the_package(server: RunningServer) -> None:
    name = firmware_name()
    body = ok_json(create_firmware(server, name, "--release-note", "fixes PSM", "--json"))
    assert {k: v for k, v in body.items() if k != "launchDate"} == {
        "firmwareName": name,
        "make": "SEQUANS Communications",
        "model": "GM01Q",
        "firmwareFrom": "SR1.2.0.0-10512",
        "firmwareTo": "SR1.2.0.0-10657",
        "protocol": "LWM2M",
        "releaseNote": "fixes PSM",
    }
    assert datetime.fromisoformat(body["launchDate"].replace("Z", "+00:00")).tzinfo is not None


def test_firmware_create_output_lists_the_package(server: RunningServer) -> None:
    name = firmware_name()
    fields = ok_fields(create_firmware(server, name))
    assert list(fields)[:7] == [
        "firmwareName",
        "make",
        "model",
        "firmwareFrom",
        "firmwareTo",
        "protocol",
        "releaseNote",
    ]
    assert list(fields.values())[:6] == [
        name,
        "SEQUANS Communications",
        "GM01Q",
        "SR1.2.0.0-10512",
        "SR1.2.0.0-10657",
        "LWM2M",
    ]


def test_firmware_for_oma_dm_is_spelled_omd_dm(server: RunningServer) -> None:
    body = ok_json(create_firmware(server, firmware_name(), "--protocol", "OMADM", "--json"))
    assert body["protocol"] == "OMD-DM"


def test_duplicate_firmware_exits_1_with_409(server: RunningServer) -> None:
    name = firmware_name()
    ok_json(create_firmware(server, name, "--json"))
    failed(create_firmware(server, name), 1, "409 Conflict", name)


def test_firmware_with_unknown_protocol_exits_1_with_400(server: RunningServer) -> None:
    failed(create_firmware(server, firmware_name(), "--protocol", "CoAP"), 1, "400 InvalidRequest", "unknown protocol")


def test_firmware_create_needs_its_options(server: RunningServer) -> None:
    result = admin(server, "firmware", "create", firmware_name(), "--make", "M")
    failed(result, 2, "Missing option")


def test_firmware_upload_reports_size_and_sha256(server: RunningServer, image: Path) -> None:
    name = firmware_name()
    ok_json(create_firmware(server, name, "--json"))
    data = image.read_bytes()
    body = ok_json(admin(server, "firmware", "upload", name, str(image), "--json"))
    assert body == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def test_signing_keys_signed_upload_and_signing_policy(
    server: RunningServer, acc: str, image: Path, tmp_path: Path
) -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    pem = tmp_path / "publisher.pem"
    pem.write_bytes(
        private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    key_id = f"cli-{uuid.uuid4().hex[:8]}"
    assert ok_fields(admin(server, "signing-keys", "add", key_id, str(pem)))["algorithm"] == "ed25519"
    assert key_id in ok_table(admin(server, "signing-keys", "list"))
    assert ok_json(admin(server, "signing-keys", "show", key_id, "--json"))["publicKey"] == pem.read_text()

    name = firmware_name()
    ok_json(create_firmware(server, name, "--json"))
    data = image.read_bytes()
    signature = base64.b64encode(private.sign(hashlib.sha256(data).digest())).decode()
    upload = ["firmware", "upload", name, str(image), "--signature", signature, "--key-id", key_id, "--json"]
    assert ok_json(admin(server, *upload))["keyId"] == key_id
    assert ok_fields(admin(server, "firmware", "show", name))["signature"] == signature
    wrong = ["--signature", base64.b64encode(b"x" * 64).decode(), "--key-id", key_id]
    failed(admin(server, "firmware", "upload", name, str(image), *wrong), 1, "400 InvalidRequest", "does not verify")

    assert ok_fields(admin(server, "signing-policy", acc))["requireSignedFirmware"] == "False"
    assert ok_fields(admin(server, "signing-policy", acc, "--require"))["requireSignedFirmware"] == "True"
    assert ok_fields(admin(server, "signing-keys", "revoke", key_id))["revokedAt"]


def test_firmware_upload_output_shows_size_and_sha256(server: RunningServer, image: Path) -> None:
    name = firmware_name()
    ok_json(create_firmware(server, name, "--json"))
    data = image.read_bytes()
    fields = ok_fields(admin(server, "firmware", "upload", name, str(image)))
    assert list(fields) == ["size", "sha256"]
    assert fields == {"size": str(len(data)), "sha256": hashlib.sha256(data).hexdigest()}


def test_firmware_upload_replaces_the_image(server: RunningServer, image: Path, tmp_path: Path) -> None:
    name = firmware_name()
    ok_json(create_firmware(server, name, "--json"))
    ok_json(admin(server, "firmware", "upload", name, str(image), "--json"))
    second = tmp_path / "second.bin"
    second.write_bytes(b"v2" * 10)
    assert ok_json(admin(server, "firmware", "upload", name, str(second), "--json")) == {
        "size": 20,
        "sha256": hashlib.sha256(b"v2" * 10).hexdigest(),
    }


def test_firmware_upload_to_unknown_firmware_exits_1_with_404(server: RunningServer, image: Path) -> None:
    failed(admin(server, "firmware", "upload", firmware_name(), str(image)), 1, "404 NotFound")


def test_empty_firmware_image_exits_1_with_400(server: RunningServer, tmp_path: Path) -> None:
    name = firmware_name()
    ok_json(create_firmware(server, name, "--json"))
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    failed(admin(server, "firmware", "upload", name, str(empty)), 1, "400 InvalidRequest", "empty")


def test_firmware_upload_of_a_missing_file_is_a_usage_error(server: RunningServer, tmp_path: Path) -> None:
    name = firmware_name()
    ok_json(create_firmware(server, name, "--json"))
    result = admin(server, "firmware", "upload", name, str(tmp_path / "missing.bin"))
    failed(result, 2, "Invalid value for 'image'", "missing.bin", "does not exist")


# --- clock --------------------------------------------------------------------------------------------------------


def parse_now(body: dict[str, Any]) -> datetime:
    now = datetime.fromisoformat(body["now"].replace("Z", "+00:00"))
    assert now.utcoffset() == timedelta(0)
    return now


def test_clock_show_prints_the_simulated_time(server: RunningServer) -> None:
    body = ok_json(admin(server, "clock", "show", "--json"))
    assert body["simulated"] is True
    assert parse_now(body) <= server.now()
    fields = ok_fields(admin(server, "clock", "show"))
    assert list(fields) == ["now", "simulated"]
    assert fields["simulated"] == "True"
    assert parse_now(fields) <= server.now()


def test_clock_set_advances_and_moves_to_an_instant(private_server: RunningServer) -> None:
    start = private_server.now()
    body = ok_json(admin(private_server, "clock", "set", "--advance", "90", "--json"))
    assert parse_now(body) == start + timedelta(seconds=90)
    target = start + timedelta(days=2, hours=3)
    body = ok_json(admin(private_server, "clock", "set", "--now", target.isoformat().replace("+00:00", "Z"), "--json"))
    assert parse_now(body) == target
    assert private_server.now() == target
    fields = ok_fields(admin(private_server, "clock", "set", "--advance", "0.5"))
    assert list(fields) == ["now", "simulated"]
    assert parse_now(fields) == private_server.now() == target + timedelta(seconds=0.5)


def test_clock_set_accepts_an_offset_and_answers_in_utc(private_server: RunningServer) -> None:
    target = (private_server.now() + timedelta(days=1)).replace(microsecond=0)
    in_new_york = target.astimezone(timezone(timedelta(hours=-5))).isoformat()
    assert parse_now(ok_json(admin(private_server, "clock", "set", "--now", in_new_york, "--json"))) == target


def test_clock_never_moves_backwards(private_server: RunningServer) -> None:
    start = private_server.now()
    earlier = (start - timedelta(hours=1)).isoformat()
    failed(admin(private_server, "clock", "set", "--now", earlier), 1, "400 InvalidRequest", "backwards")
    failed(admin(private_server, "clock", "set", "--advance", "-5"), 1, "400 InvalidRequest")
    assert private_server.now() == start


def test_clock_set_needs_an_aware_instant(private_server: RunningServer) -> None:
    failed(admin(private_server, "clock", "set", "--now", "2099-01-01T00:00:00"), 1, "400 InvalidRequest", "offset")


@pytest.mark.parametrize("args", [(), ("--now", "2099-01-01T00:00:00Z", "--advance", "5")])
def test_clock_set_needs_exactly_one_of_now_or_advance(server: RunningServer, args: tuple[str, ...]) -> None:
    failed(admin(server, "clock", "set", *args), 2, "give exactly one of --now or --advance")


def test_clock_advance_beyond_the_calendar_exits_1_with_400(server: RunningServer) -> None:
    start = server.now()
    failed(admin(server, "clock", "set", "--advance", "1e12"), 1, "400 InvalidRequest", "advanceSeconds")
    assert server.now() == start


@pytest.mark.parametrize("seconds", [b"1e12", b"Infinity", b"1e999", b"NaN"])
def test_clock_api_answers_400_to_an_advance_beyond_the_calendar(server: RunningServer, seconds: bytes) -> None:
    # The CLI cannot send Infinity or NaN (httpx only writes JSON-compliant floats), so those go over HTTP directly.
    start = server.now()
    r = server.admin.post(
        "/clock", content=b'{"advanceSeconds": ' + seconds + b"}", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400, r.text
    assert r.json()["errorCode"] == "InvalidRequest", r.text
    assert "advanceSeconds" in r.json()["errorMessage"], r.text
    assert server.now() == start


def test_clock_set_on_a_system_clock_server_exits_1_with_404(system_clock_server: RunningServer) -> None:
    body = ok_json(admin(system_clock_server, "clock", "show", "--json"))
    assert body["simulated"] is False
    failed(admin(system_clock_server, "clock", "set", "--advance", "5"), 1, "404 NotFound", "--simulated-clock")
