"""`fota campaigns pause|resume|approve|audit`: a staged rollout's operations (fota-extensions.md §2), and the wave
table that `show` and `watch` print for a campaign with a rollout."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from fota.adapters.cli.thingspace import (
    DEFAULT_SERVER,
    AccountOption,
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
    text,
)

CampaignArgument = Annotated[str, typer.Argument(help="The campaign's id.")]
ReasonOption = Annotated[str | None, typer.Option("--reason", help="Why; recorded in the campaign's audit.")]
WAVE_STYLES = {"done": "green", "open": "cyan", "soaking": "yellow", "waiting": "dim"}


def wave_table(rollout: dict[str, Any]) -> RenderableType:
    """The rollout's state line and one row per wave: its devices, outcomes and state."""
    state = str(rollout.get("state"))
    paused = rollout.get("pausedReason")
    heading = Text.assemble(("rollout ", "bold"), (state, "bold red" if paused else "bold"))
    if paused:
        heading.append(f"  {paused}")
    table = Table("wave", "devices", "succeeded", "failed", "unhealthy", "state", title=heading, title_justify="left")
    for column in table.columns:
        column.overflow = "fold"
    current = rollout.get("currentWave")
    for index, wave in enumerate(rollout.get("waves") or []):
        name = text(wave.get("name"))
        marker = "> " if index == current else "  "
        wave_state = str(wave.get("state"))
        table.add_row(
            marker + name,
            text(wave.get("devices")),
            text(wave.get("succeeded")),
            text(wave.get("failed")),
            text(wave.get("unhealthy")),
            Text(wave_state, style=WAVE_STYLES.get(wave_state, "")),
        )
    return table


def rollout_call(operation: str, help_text: str) -> Callable[..., None]:
    """The command for one of the rollout's calls (`POST .../rollout/<operation>` with an optional reason); the
    three differ only in their path and help."""

    def command(
        campaign_id: CampaignArgument,
        reason: ReasonOption = None,
        server: ServerOption = DEFAULT_SERVER,
        account: AccountOption = "",
        client_id: ClientIdOption = "",
        client_secret: ClientSecretOption = "",
        username: UsernameOption = "",
        password: PasswordOption = "",
        json_out: JsonOption = False,
    ) -> None:
        credentials = connect(server, account, client_id, client_secret, username, password)
        path = f"/campaigns/{segment(credentials.account)}/{segment(campaign_id)}/rollout/{operation}"
        with session(credentials) as client:
            answer = client.post(path, {} if reason is None else {"reason": reason})
        if json_out:
            print_json(answer)
            return
        rollout = answer.get("rollout") if isinstance(answer, dict) else None
        if isinstance(rollout, dict):
            fields = {"id": answer.get("id", campaign_id), "rollout": rollout.get("state")}
            if rollout.get("pausedReason"):
                fields["pausedReason"] = rollout.get("pausedReason")
            print_fields(fields)
        elif isinstance(answer, dict):
            print_fields(answer)

    command.__doc__ = help_text
    return command


pause = rollout_call("pause", "Stop offering a campaign's upgrade to new devices; devices already under way finish.")
resume = rollout_call(
    "resume", "Offer a paused campaign's upgrade again; after an automatic pause --reason is required."
)
approve = rollout_call("approve", "Open the next wave of a rollout whose gate is met and that waits for approval.")


def audit(
    campaign_id: CampaignArgument,
    server: ServerOption = DEFAULT_SERVER,
    account: AccountOption = "",
    client_id: ClientIdOption = "",
    client_secret: ClientSecretOption = "",
    username: UsernameOption = "",
    password: PasswordOption = "",
    json_out: JsonOption = False,
) -> None:
    """Every pause, resume, approval, override, follow-up and automatic decision of a campaign, oldest first."""
    credentials = connect(server, account, client_id, client_secret, username, password)
    path = f"/campaigns/{segment(credentials.account)}/{segment(campaign_id)}/audit"
    with session(credentials) as client:
        answer = client.get(path)
    if json_out:
        print_json(answer)
        return
    entries = [e for e in answer if isinstance(e, dict)] if isinstance(answer, list) else []
    print_table(
        ["at", "actor", "action", "reason"],
        [[e.get("at"), e.get("actor"), e.get("action"), e.get("reason")] for e in entries],
        title=f"audit of campaign {campaign_id}",
    )
