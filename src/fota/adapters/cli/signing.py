"""`fota admin signing-keys ...` and `fota admin signing-policy`: the publisher keys firmware images are verified
with, and which accounts require signed images (docs/adr/0016-signed-firmware.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from fota.adapters.cli.admin import DEFAULT_SERVER, JsonOption, ServerOption, TokenOption
from fota.adapters.cli.admin import _call as call
from fota.adapters.cli.admin import _show as show


def _show_key(body: Any, as_json: bool) -> None:
    """The key's fields as `key  value` lines, its PEM (several lines) only in JSON or from `show`."""
    show(body if as_json else {k: v for k, v in body.items() if k != "publicKey"}, as_json)


signing_keys_app = typer.Typer(
    help="Publisher keys that firmware image signatures are verified with.", no_args_is_help=True
)


@signing_keys_app.command("add")
def signing_key_add(
    key_id: str,
    public_key: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="PEM public key")],
    server: ServerOption = DEFAULT_SERVER,
    admin_token: TokenOption = "",
    json_out: JsonOption = False,
) -> None:
    """Trust an Ed25519 or ECDSA P-256 public key (PEM) under KEY_ID."""
    body = {"keyId": key_id, "publicKey": public_key.read_text()}
    _show_key(call(server, admin_token, "POST", "/signing-keys", json=body), json_out)


@signing_keys_app.command("list")
def signing_key_list(
    server: ServerOption = DEFAULT_SERVER, admin_token: TokenOption = "", json_out: JsonOption = False
) -> None:
    """List the registered keys, revoked ones included."""
    keys = call(server, admin_token, "GET", "/signing-keys")["keyList"]
    show(keys if json_out else [{k: v for k, v in key.items() if k != "publicKey"} for key in keys], json_out)


@signing_keys_app.command("show")
def signing_key_show(
    key_id: str, server: ServerOption = DEFAULT_SERVER, admin_token: TokenOption = "", json_out: JsonOption = False
) -> None:
    """Print a key, then its PEM."""
    body = call(server, admin_token, "GET", f"/signing-keys/{key_id}")
    _show_key(body, json_out)
    if not json_out:
        typer.echo(body["publicKey"], nl=False)


@signing_keys_app.command("revoke")
def signing_key_revoke(
    key_id: str, server: ServerOption = DEFAULT_SERVER, admin_token: TokenOption = "", json_out: JsonOption = False
) -> None:
    """Stop trusting a key: no new upload verifies with it; its images no longer start campaigns that need signing."""
    _show_key(call(server, admin_token, "DELETE", f"/signing-keys/{key_id}"), json_out)


def signing_policy(
    account: str,
    require: Annotated[
        bool | None, typer.Option("--require/--no-require", help="Change the policy; without it, print it.")
    ] = None,
    server: ServerOption = DEFAULT_SERVER,
    admin_token: TokenOption = "",
    json_out: JsonOption = False,
) -> None:
    """Print or set whether ACCOUNT's campaigns accept only images with a trusted signature."""
    path = f"/accounts/{account}/signing-policy"
    if require is None:
        show(call(server, admin_token, "GET", path), json_out)
    else:
        show(call(server, admin_token, "PUT", path, json={"requireSignedFirmware": require}), json_out)
