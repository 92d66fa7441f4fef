"""`fota devices ...`: the account's devices and one device's upgrade history through the ThingSpace v3 API."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from fota.adapters.cli.thingspace import (
    DEFAULT_SERVER,
    AccountOption,
    ApiError,
    ClientIdOption,
    ClientSecretOption,
    JsonOption,
    PasswordOption,
    ServerOption,
    UsernameOption,
    connect,
    print_fields,
    print_json,
    print_table,
    segment,
    session,
)

devices_app = typer.Typer(help="Devices of an account and their upgrade history (ThingSpace v3).", no_args_is_help=True)


@devices_app.command("list")
def list_devices(
    protocol: Annotated[str, typer.Option("--protocol", help="LWM2M, HTTP, or all.")] = "LWM2M",
    server: ServerOption = DEFAULT_SERVER,
    account: AccountOption = "",
    client_id: ClientIdOption = "",
    client_secret: ClientSecretOption = "",
    username: UsernameOption = "",
    password: PasswordOption = "",
    json_out: JsonOption = False,
) -> None:
    """List the account's devices with their reported firmware (every page)."""
    credentials = connect(server, account, client_id, client_secret, username, password)
    devices: list[dict[str, Any]] = []
    with session(credentials) as client:
        path = f"/devices/{segment(credentials.account)}"
        for page in client.pages(path, "lastSeenDeviceId", {"protocol": protocol}):
            devices.extend(page.get("deviceList") or [])
    if json_out:
        print_json(devices)
        return
    columns = ["deviceId", "make", "model", "firmware", "protocol", "fotaEligible", "licenseAssigned", "upgradeTime"]
    print_table(columns, [[d.get(c) for c in columns] for d in devices])


@devices_app.command("show")
def show_device(
    imei: Annotated[str, typer.Argument(help="The device's IMEI.")],
    server: ServerOption = DEFAULT_SERVER,
    account: AccountOption = "",
    client_id: ClientIdOption = "",
    client_secret: ClientSecretOption = "",
    username: UsernameOption = "",
    password: PasswordOption = "",
    json_out: JsonOption = False,
) -> None:
    """Show one device and its campaign and upgrade history, oldest first."""
    credentials = connect(server, account, client_id, client_secret, username, password)
    acc = segment(credentials.account)
    with session(credentials) as client:
        lookup = client.post(f"/devices/{acc}", {"deviceList": [imei]})
        found = [d for d in lookup.get("deviceList") or [] if d.get("deviceId") == imei]
        if not found or found[0].get("requestStatus") == "Failed":
            reason = found[0].get("resultReason") if found else "not in the answer"
            raise ApiError(f"device {imei}: {reason}")
        history = client.get(f"/reports/{acc}/devices/{segment(imei)}")
    if json_out:
        print_json({"device": found[0], "history": history})
        return
    print_fields(found[0])
    typer.echo()
    print_table(
        ["time", "campaign", "firmware", "status", "reason"],
        [
            [
                h.get("reportUpdatedTime"),
                h.get("campaignId"),
                f"{h.get('firmwareFrom')} -> {h.get('firmwareTo')}",
                h.get("status"),
                h.get("reason"),
            ]
            for h in history
        ],
        title="history",
    )
