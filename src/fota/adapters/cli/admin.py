"""`fota admin ...`: provisioning commands that call the server's `/admin/v1` API over HTTP."""

from __future__ import annotations

import json
import math
import secrets
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

admin_app = typer.Typer(
    help="Provision accounts, credentials, devices and firmware through the admin API.", no_args_is_help=True
)
accounts_app = typer.Typer(help="Accounts and their license pools.", no_args_is_help=True)
firmware_app = typer.Typer(help="Firmware packages and images.", no_args_is_help=True)
clock_app = typer.Typer(help="The simulated clock of a server started with --simulated-clock.", no_args_is_help=True)
admin_app.add_typer(accounts_app, name="accounts")
admin_app.add_typer(firmware_app, name="firmware")
admin_app.add_typer(clock_app, name="clock")

ServerOption = Annotated[str, typer.Option("--server", envvar="FOTA_SERVER", help="Base URL of the fota server.")]
TokenOption = Annotated[str, typer.Option("--admin-token", envvar="FOTA_ADMIN_TOKEN", help="The server's admin token.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the server's JSON answer.")]

DEFAULT_SERVER = "http://127.0.0.1:8000"
console = Console()


def _call(server: str, token: str, method: str, path: str, **kwargs: Any) -> Any:
    if not token:
        console.print("no admin token: pass --admin-token or set FOTA_ADMIN_TOKEN", style="red", markup=False)
        raise typer.Exit(2)
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    try:
        response = httpx.request(method, f"{server.rstrip('/')}/admin/v1{path}", headers=headers, timeout=60, **kwargs)
    except httpx.TransportError as error:
        console.print(f"cannot reach {server}: {error}", style="red", markup=False)
        raise typer.Exit(2) from None
    try:
        body = response.json()
    except ValueError:
        body = {"errorCode": str(response.status_code), "errorMessage": response.text}
    if response.status_code >= 400:
        message = f"{response.status_code} {body.get('errorCode')}: {body.get('errorMessage')}"
        console.print(message, style="red", markup=False, emoji=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    return body


def _show(body: Any, as_json: bool) -> None:
    """JSON for scripts; otherwise `key  value` lines for one object (never cut), a table for a list."""
    if as_json:
        typer.echo(json.dumps(body, indent=2))
        return
    if isinstance(body, dict):
        width = max((len(str(k)) for k in body), default=0)
        for key, value in body.items():
            typer.echo(f"{key:<{width}}  {value}")
        return
    if not body:
        return
    table = Table(*[str(k) for k in body[0]])
    for column in table.columns:
        column.overflow = "fold"
    for row in body:
        table.add_row(*[str(v) for v in row.values()])
    console.print(table)


@accounts_app.command("create")
def accounts_create(
    name: str,
    licenses: Annotated[int, typer.Option(help="Size of the license pool.")] = 100,
    purchase_type: Annotated[str | None, typer.Option(help="e.g. TS-HFOTA-EVNT,TS-HFOTA-MRC")] = None,
    server: ServerOption = DEFAULT_SERVER,
    admin_token: TokenOption = "",
    json_out: JsonOption = False,
) -> None:
    """Create an account with a license pool."""
    body: dict[str, Any] = {"accountName": name, "licenseCount": licenses}
    if purchase_type:
        body["purchaseType"] = purchase_type
    _show(_call(server, admin_token, "POST", "/accounts", json=body), json_out)


@accounts_app.command("show")
def accounts_show(
    name: str,
    server: ServerOption = DEFAULT_SERVER,
    admin_token: TokenOption = "",
    json_out: JsonOption = False,
) -> None:
    """Show an account's license pool."""
    _show(_call(server, admin_token, "GET", f"/accounts/{name}"), json_out)


@accounts_app.command("set-licenses")
def accounts_set_licenses(
    name: str,
    licenses: int,
    server: ServerOption = DEFAULT_SERVER,
    admin_token: TokenOption = "",
    json_out: JsonOption = False,
) -> None:
    """Resize an account's license pool."""
    _show(_call(server, admin_token, "PATCH", f"/accounts/{name}", json={"licenseCount": licenses}), json_out)


@admin_app.command("client")
def client_create(
    account: str,
    client_id: Annotated[str | None, typer.Option(help="Generated when absent.")] = None,
    client_secret: Annotated[str | None, typer.Option(help="Generated when absent.")] = None,
    server: ServerOption = DEFAULT_SERVER,
    admin_token: TokenOption = "",
    json_out: JsonOption = False,
) -> None:
    """Create an OAuth API client for an account; prints its id and secret once."""
    body = {k: v for k, v in (("clientId", client_id), ("clientSecret", client_secret)) if v}
    _show(_call(server, admin_token, "POST", f"/accounts/{account}/clients", json=body), json_out)


@admin_app.command("client-revoke")
def client_revoke(
    account: str,
    client_id: str,
    server: ServerOption = DEFAULT_SERVER,
    admin_token: TokenOption = "",
    json_out: JsonOption = False,
) -> None:
    """Remove an API client; its access tokens are refused at once, in every process."""
    _show(_call(server, admin_token, "DELETE", f"/accounts/{account}/clients/{client_id}"), json_out)


@admin_app.command("user")
def user_create(
    account: str,
    username: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, help="At least 8 characters.")],
    server: ServerOption = DEFAULT_SERVER,
    admin_token: TokenOption = "",
    json_out: JsonOption = False,
) -> None:
    """Create a user that can start M2M sessions for an account."""
    body = {"username": username, "password": password}
    _show(_call(server, admin_token, "POST", f"/accounts/{account}/users", json=body), json_out)


@admin_app.command("devices")
def devices_add(
    account: str,
    file: Annotated[Path | None, typer.Option(help='JSON file: a list of devices, or {"deviceList": [...]}')] = None,
    device_id: Annotated[list[str] | None, typer.Option("--imei", help="IMEI; repeat for several.")] = None,
    make: Annotated[str | None, typer.Option()] = None,
    model: Annotated[str | None, typer.Option()] = None,
    firmware: Annotated[str | None, typer.Option()] = None,
    protocol: Annotated[str, typer.Option()] = "LWM2M",
    time_zone: Annotated[
        str | None, typer.Option(help="IANA zone of the --imei devices, e.g. Europe/Berlin (kept when left out).")
    ] = None,
    server: ServerOption = DEFAULT_SERVER,
    admin_token: TokenOption = "",
    json_out: JsonOption = False,
) -> None:
    """Create or update devices, from --imei options or a JSON file (whose devices may carry "timeZone")."""
    devices: list[dict[str, Any]] = []
    if file is not None:
        loaded = json.loads(file.read_text())
        devices.extend(loaded["deviceList"] if isinstance(loaded, dict) else loaded)
    for imei in device_id or []:
        if not (make and model and firmware):
            raise typer.BadParameter("--imei needs --make, --model and --firmware")
        device = {"deviceId": imei, "make": make, "model": model, "firmware": firmware, "protocol": protocol}
        devices.append(device if time_zone is None else {**device, "timeZone": time_zone})
    if not devices:
        raise typer.BadParameter("give --imei or --file")
    body = _call(server, admin_token, "POST", f"/accounts/{account}/devices", json={"deviceList": devices})
    _show(body if json_out else body["deviceList"], json_out)


@firmware_app.command("create")
def firmware_create(
    name: str,
    make: Annotated[str, typer.Option()],
    model: Annotated[str, typer.Option()],
    firmware_from: Annotated[str, typer.Option("--from")],
    firmware_to: Annotated[str, typer.Option("--to")],
    protocol: Annotated[str, typer.Option()] = "LWM2M",
    release_note: Annotated[str | None, typer.Option()] = None,
    server: ServerOption = DEFAULT_SERVER,
    admin_token: TokenOption = "",
    json_out: JsonOption = False,
) -> None:
    """Register a firmware package (upgrade from one version to another)."""
    body = {
        "firmwareName": name,
        "make": make,
        "model": model,
        "firmwareFrom": firmware_from,
        "firmwareTo": firmware_to,
        "protocol": protocol,
        "releaseNote": release_note,
    }
    _show(
        _call(server, admin_token, "POST", "/firmware", json={k: v for k, v in body.items() if v is not None}),
        json_out,
    )


@firmware_app.command("upload")
def firmware_upload(
    name: str,
    image: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    signature: Annotated[str | None, typer.Option(help="Base64 signature over the image's sha256 (ADR 16).")] = None,
    key_id: Annotated[str | None, typer.Option(help="The registered publisher key that made --signature.")] = None,
    server: ServerOption = DEFAULT_SERVER,
    admin_token: TokenOption = "",
    json_out: JsonOption = False,
) -> None:
    """Upload a firmware package's image, signed or not; prints its size, sha256 and verified signature."""
    signed = {"X-Fota-Signature": signature, "X-Fota-Key-Id": key_id}
    headers = {"Content-Type": "application/octet-stream", **{k: v for k, v in signed.items() if v}}
    body = _call(server, admin_token, "PUT", f"/firmware/{name}/image", content=image.read_bytes(), headers=headers)
    _show(body, json_out)


@firmware_app.command("show")
def firmware_show(
    name: str, server: ServerOption = DEFAULT_SERVER, admin_token: TokenOption = "", json_out: JsonOption = False
) -> None:
    """Print a firmware package: its image's size and sha256, and the signature and key id when signed."""
    _show(_call(server, admin_token, "GET", f"/firmware/{name}"), json_out)


@clock_app.command("show")
def clock_show(
    server: ServerOption = DEFAULT_SERVER, admin_token: TokenOption = "", json_out: JsonOption = False
) -> None:
    """Print the server's current time."""
    _show(_call(server, admin_token, "GET", "/clock"), json_out)


@clock_app.command("set")
def clock_set(
    now: Annotated[str | None, typer.Option(help="RFC 3339 instant, e.g. 2026-12-01T18:00:00Z")] = None,
    advance: Annotated[float | None, typer.Option(help="Seconds to move forward.")] = None,
    server: ServerOption = DEFAULT_SERVER,
    admin_token: TokenOption = "",
    json_out: JsonOption = False,
) -> None:
    """Move the simulated clock to an instant or forward by some seconds."""
    if (now is None) == (advance is None):
        raise typer.BadParameter("give exactly one of --now or --advance")
    if advance is not None and not math.isfinite(advance):
        raise typer.BadParameter("--advance must be a finite number of seconds")
    body = {"now": now} if now is not None else {"advanceSeconds": advance}
    _show(_call(server, admin_token, "POST", "/clock", json=body), json_out)


# --- one device: its administration read and its time zone -------------------------------------------------------

device_app = typer.Typer(help="One device: show it, set or clear its time zone.", no_args_is_help=True)
admin_app.add_typer(device_app, name="device")


@device_app.command("show")
def device_show(
    account: str,
    imei: str,
    server: ServerOption = DEFAULT_SERVER,
    admin_token: TokenOption = "",
    json_out: JsonOption = False,
) -> None:
    """Print a device with its time zone and where the zone came from (admin or device)."""
    _show(_call(server, admin_token, "GET", f"/accounts/{account}/devices/{imei}"), json_out)


@device_app.command("set-zone")
def device_set_zone(
    account: str,
    imei: str,
    zone: Annotated[str | None, typer.Argument(help="IANA zone, e.g. Europe/Berlin.")] = None,
    clear: Annotated[
        bool, typer.Option("--clear", help="Remove the zone; the device may then report its own.")
    ] = False,
    server: ServerOption = DEFAULT_SERVER,
    admin_token: TokenOption = "",
    json_out: JsonOption = False,
) -> None:
    """Set a device's time zone (the device's own report never overrides it), or --clear it."""
    if (zone is None) != clear:
        raise typer.BadParameter("give a zone or --clear")
    body = {"timeZone": zone}
    _show(_call(server, admin_token, "PATCH", f"/accounts/{account}/devices/{imei}", json=body), json_out)


# --- device-side security (docs/adr/0010-dtls-psk.md) ----------------------------------------------------------------

device_security_app = typer.Typer(
    help="A device's LwM2M security: DTLS-PSK (identity and key) or NoSec.", no_args_is_help=True
)
admin_app.add_typer(device_security_app, name="device-security")


@device_security_app.command("set")
def device_security_set(
    account: str,
    imei: str,
    mode: Annotated[str, typer.Option(help="psk or nosec.")] = "psk",
    identity: Annotated[str | None, typer.Option("--identity", help="PSK identity (1-32 bytes).")] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            envvar="FOTA_PSK_KEY",
            help="PSK as hex, up to 16 bytes; prefer FOTA_PSK_KEY or --generate over the command line.",
        ),
    ] = None,
    generate: Annotated[bool, typer.Option("--generate", help="Generate a random 16-byte key; printed once.")] = False,
    server: ServerOption = DEFAULT_SERVER,
    admin_token: TokenOption = "",
    json_out: JsonOption = False,
) -> None:
    """Set a device's security mode; psk needs --identity and --key (or --generate)."""
    if mode not in ("psk", "nosec"):
        raise typer.BadParameter("--mode must be psk or nosec")
    body: dict[str, str] = {"mode": mode}
    if mode == "psk":
        if identity is None or (key is None) == (not generate):
            raise typer.BadParameter("psk needs --identity and exactly one of --key or --generate")
        key = key if key is not None else secrets.token_hex(16)
        body.update(pskIdentity=identity, pskKey=key)
    elif identity is not None or key is not None or generate:
        raise typer.BadParameter("--identity, --key and --generate go with --mode psk only")
    shown = _call(server, admin_token, "PUT", f"/accounts/{account}/devices/{imei}/security", json=body)
    if generate:
        # The server never shows a key again; this is the only moment the operator can copy it to the device.
        shown = {**shown, "pskKey": key}
    _show(shown, json_out)


@device_security_app.command("show")
def device_security_show(
    account: str,
    imei: str,
    server: ServerOption = DEFAULT_SERVER,
    admin_token: TokenOption = "",
    json_out: JsonOption = False,
) -> None:
    """Print a device's security mode and PSK identity (never the key)."""
    _show(_call(server, admin_token, "GET", f"/accounts/{account}/devices/{imei}/security"), json_out)
