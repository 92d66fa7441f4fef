"""`fota admin device-security bootstrap ...`: LwM2M bootstrap settings of a device (docs/adr/0013)."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

import typer

from fota.adapters.cli.admin import DEFAULT_SERVER, JsonOption, ServerOption, TokenOption, _call, _show

bootstrap_app = typer.Typer(
    help="How a device bootstraps and the management account its bootstraps hand out.", no_args_is_help=True
)


@bootstrap_app.command("set")
def bootstrap_set(
    account: str,
    imei: str,
    mode: Annotated[str, typer.Option(help="How the device reaches the bootstrap server: psk or nosec.")] = "psk",
    identity: Annotated[str | None, typer.Option("--identity", help="Bootstrap PSK identity (1-32 bytes).")] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key", envvar="FOTA_BOOTSTRAP_PSK_KEY", help="Bootstrap PSK as hex, up to 16 bytes (or --generate)."
        ),
    ] = None,
    generate: Annotated[
        bool, typer.Option("--generate", help="Generate a random 16-byte bootstrap key; printed once.")
    ] = False,
    server_uri: Annotated[
        str | None, typer.Option(help="Management server to hand out; default this deployment's coap(s) URI.")
    ] = None,
    security_mode: Annotated[str, typer.Option(help="Management account's mode: psk or nosec.")] = "psk",
    lifetime: Annotated[int | None, typer.Option(help="Registration lifetime written to /1/x/1.")] = None,
    binding: Annotated[str | None, typer.Option(help="U or UQ (/1/x/7).")] = None,
    disable_timeout: Annotated[int | None, typer.Option(help="Disable Timeout, seconds (/1/x/5).")] = None,
    retry_count: Annotated[int | None, typer.Option(help="Communication Retry Count (/1/x/17, LwM2M 1.1).")] = None,
    retry_timer: Annotated[int | None, typer.Option(help="Communication Retry Timer, s (/1/x/18).")] = None,
    sequence_delay: Annotated[int | None, typer.Option(help="Communication Sequence Delay Timer, s (/1/x/19).")] = None,
    sequence_retry_count: Annotated[
        int | None, typer.Option(help="Communication Sequence Retry Count (/1/x/20).")
    ] = None,
    server: ServerOption = DEFAULT_SERVER,
    admin_token: TokenOption = "",
    json_out: JsonOption = False,
) -> None:
    """Set a device's bootstrap credentials and account; each bootstrap then writes a fresh management key."""
    if mode not in ("psk", "nosec") or security_mode not in ("psk", "nosec"):
        raise typer.BadParameter("--mode and --security-mode are psk or nosec")
    body: dict[str, Any] = {"bootstrapMode": mode, "securityMode": security_mode}
    if mode == "psk":
        if identity is None or (key is None) == (not generate):
            raise typer.BadParameter("psk needs --identity and exactly one of --key or --generate")
        key = key if key is not None else secrets.token_hex(16)
        body.update(bootstrapPskIdentity=identity, bootstrapPskKey=key)
    elif identity is not None or key is not None or generate:
        raise typer.BadParameter("--identity, --key and --generate go with --mode psk only")
    optional = {
        "serverUri": server_uri,
        "lifetime": lifetime,
        "binding": binding,
        "disableTimeout": disable_timeout,
        "communicationRetryCount": retry_count,
        "communicationRetryTimer": retry_timer,
        "communicationSequenceDelayTimer": sequence_delay,
        "communicationSequenceRetryCount": sequence_retry_count,
    }
    body.update({name: value for name, value in optional.items() if value is not None})
    shown = _call(server, admin_token, "PUT", f"/accounts/{account}/devices/{imei}/bootstrap", json=body)
    if generate:
        # The server never shows a key; this is the only moment the operator can copy it to the device.
        shown = {**shown, "bootstrapPskKey": key}
    _show(shown, json_out)


@bootstrap_app.command("show")
def bootstrap_show(
    account: str,
    imei: str,
    server: ServerOption = DEFAULT_SERVER,
    admin_token: TokenOption = "",
    json_out: JsonOption = False,
) -> None:
    """Print a device's bootstrap settings and bootstrap count (never a key)."""
    _show(_call(server, admin_token, "GET", f"/accounts/{account}/devices/{imei}/bootstrap"), json_out)
