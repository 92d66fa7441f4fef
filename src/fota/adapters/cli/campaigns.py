"""`fota campaigns ...`: list, show, create (or preview), follow up, cancel and watch firmware campaigns through the
ThingSpace v3 API."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from fota.adapters.cli.rollouts import wave_table
from fota.adapters.cli.thingspace import (
    DEFAULT_SERVER,
    AccountOption,
    ClientIdOption,
    ClientSecretOption,
    JsonOption,
    PasswordOption,
    ServerOption,
    ThingSpace,
    UsernameOption,
    connect,
    console,
    err_console,
    print_fields,
    print_json,
    print_table,
    segment,
    session,
    text,
)
from fota.domain.statuses import FINAL_CAMPAIGN_STATUSES, CampaignStatus, DeviceStatus

campaigns_app = typer.Typer(help="Firmware campaigns of an account (ThingSpace v3).", no_args_is_help=True)

# Shown in every frame even at zero, so that a watched campaign's layout does not jump as devices move.
CORE_DEVICE_STATUSES = [
    s.value for s in (DeviceStatus.PENDING, DeviceStatus.IN_PROGRESS, DeviceStatus.SUCCESS, DeviceStatus.FAILED)
]
DEVICE_STATUS_ORDER = [s.value for s in DeviceStatus]
ACTIVE_DEVICE_STATUSES = {s.value for s in DeviceStatus if s.is_active}
FINAL_CAMPAIGN_SPELLINGS = {s.value for s in FINAL_CAMPAIGN_STATUSES}
BAR_STYLES = {
    DeviceStatus.SUCCESS.value: "green",
    DeviceStatus.FAILED.value: "red",
    DeviceStatus.IN_PROGRESS.value: "cyan",
    DeviceStatus.PENDING.value: "yellow",
}
WINDOW = re.compile(r"^\s*(\d{1,2})\s*-\s*(\d{1,2})\s*$")


@dataclass
class Snapshot:
    """A campaign and how many of its devices are in each status, from one pass over the device report."""

    campaign: dict[str, Any]
    total: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        """The campaign is final and no device is still pending or in progress."""
        status = str(self.campaign.get("status"))
        return status in FINAL_CAMPAIGN_SPELLINGS and not any(self.counts.get(s) for s in ACTIVE_DEVICE_STATUSES)

    def ordered_counts(self) -> dict[str, int]:
        """Known statuses in lifecycle order, then any the server added, each with a count above zero."""
        known = [s for s in DEVICE_STATUS_ORDER if self.counts.get(s)]
        return {s: self.counts[s] for s in known + [s for s in self.counts if s not in DEVICE_STATUS_ORDER]}

    def as_json(self) -> dict[str, Any]:
        return {"campaign": self.campaign, "totalDevice": self.total, "deviceCounts": self.ordered_counts()}

    def rows(self) -> list[tuple[str, int]]:
        shown = CORE_DEVICE_STATUSES + [s for s in self.ordered_counts() if s not in CORE_DEVICE_STATUSES]
        return [(s, self.counts.get(s, 0)) for s in shown]


def snapshot(client: ThingSpace, account: str, campaign_id: str) -> Snapshot:
    acc, cid = segment(account), segment(campaign_id)
    shot = Snapshot(client.get(f"/campaigns/{acc}/{cid}"))
    for page in client.pages(f"/reports/{acc}/campaigns/{cid}/devices", "lastSeenDeviceId"):
        shot.total = int(page.get("totalDevice") or 0)
        for device in page.get("deviceList") or []:
            status = str(device.get("status"))
            shot.counts[status] = shot.counts.get(status, 0) + 1
    return shot


def _percent(count: int, total: int) -> str:
    return f"{100 * count / total:.0f}%" if total else "-"


def frame(shot: Snapshot) -> RenderableType:
    """One picture of a campaign: a heading line, then a bar, a count and a share per device status."""
    c = shot.campaign
    heading = Text.assemble(
        (f"campaign {c.get('id')}", "bold"),
        f"  {text(c.get('campaignName'))}  " if c.get("campaignName") else "  ",
        (str(c.get("status")), "bold green" if shot.finished else "bold"),
        f"  {c.get('firmwareFrom')} -> {c.get('firmwareTo')}  {shot.total} devices",
    )
    grid = Table.grid(padding=(0, 2))
    for _ in range(4):
        grid.add_column()
    for status, count in shot.rows():
        style = BAR_STYLES.get(status, "magenta")
        # The same colour when full: rich's own "finished" colour would make a 100 % failure look like success.
        bar = ProgressBar(
            total=max(shot.total, 1), completed=count, width=40, complete_style=style, finished_style=style
        )
        grid.add_row(status, bar, f"{count}/{shot.total}", _percent(count, shot.total))
    rollout = c.get("rollout")
    return Group(heading, grid, wave_table(rollout)) if isinstance(rollout, dict) else Group(heading, grid)


def _windows(values: list[str]) -> list[dict[str, int]]:
    windows = []
    for value in values:
        match = WINDOW.match(value)
        if match is None:
            raise typer.BadParameter(f"{value!r} is not START-END in whole hours, e.g. 18-22", param_hint="--window")
        windows.append({"startTime": int(match[1]), "endTime": int(match[2])})
    return windows


def _devices_from_file(path: Path) -> list[str]:
    """One IMEI per line (or separated by commas or spaces; `#` starts a comment), or a JSON list / deviceList."""
    content = path.read_text()
    if content.lstrip().startswith(("[", "{")):
        try:
            loaded = json.loads(content)
        except ValueError as error:
            raise typer.BadParameter(f"{path}: not valid JSON: {error}", param_hint="--devices-file") from None
        items = loaded.get("deviceList", []) if isinstance(loaded, dict) else loaded
        return [str(item) for item in items]
    imeis: list[str] = []
    for line in content.splitlines():
        imeis.extend(part for part in re.split(r"[\s,;]+", line.split("#", 1)[0]) if part)
    return imeis


@campaigns_app.command("list")
def list_campaigns(
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status", help="Only this status (repeat for several), e.g. CampaignQueued; default: every status."
        ),
    ] = None,
    server: ServerOption = DEFAULT_SERVER,
    account: AccountOption = "",
    client_id: ClientIdOption = "",
    client_secret: ClientSecretOption = "",
    username: UsernameOption = "",
    password: PasswordOption = "",
    json_out: JsonOption = False,
) -> None:
    """List the account's campaigns, asking the server for each status in turn (the v3 report is by status)."""
    credentials = connect(server, account, client_id, client_secret, username, password)
    statuses = status or [s.value for s in CampaignStatus]
    campaigns: dict[str, dict[str, Any]] = {}
    with session(credentials) as client:
        for wanted in dict.fromkeys(statuses):
            path = f"/reports/{segment(credentials.account)}/firmware/campaigns"
            for page in client.pages(path, "lastSeenCampaignId", {"campaignStatus": wanted}):
                for campaign in page.get("campaignList") or []:
                    # Both spellings of the queued status name the same campaigns: list each once.
                    campaigns.setdefault(str(campaign.get("id")), campaign)
    if json_out:
        print_json(list(campaigns.values()))
        return
    print_table(
        ["id", "name", "status", "firmware", "from", "to", "start", "end", "windows"],
        [
            [
                c.get("id"),
                c.get("campaignName"),
                c.get("status"),
                c.get("firmwareName"),
                c.get("firmwareFrom"),
                c.get("firmwareTo"),
                c.get("startDate"),
                c.get("endDate"),
                c.get("campaignTimeWindowList"),
            ]
            for c in campaigns.values()
        ],
    )


@campaigns_app.command("show")
def show_campaign(
    campaign_id: Annotated[str, typer.Argument(help="The campaign's id.")],
    server: ServerOption = DEFAULT_SERVER,
    account: AccountOption = "",
    client_id: ClientIdOption = "",
    client_secret: ClientSecretOption = "",
    username: UsernameOption = "",
    password: PasswordOption = "",
    json_out: JsonOption = False,
) -> None:
    """Show a campaign and how many of its devices are in each status."""
    credentials = connect(server, account, client_id, client_secret, username, password)
    with session(credentials) as client:
        shot = snapshot(client, credentials.account, campaign_id)
    if json_out:
        print_json(shot.as_json())
        return
    rollout = shot.campaign.get("rollout")
    print_fields({k: v for k, v in shot.campaign.items() if k != "rollout"})
    if isinstance(rollout, dict):
        typer.echo()
        console.print(wave_table(rollout))
    typer.echo()
    print_table(
        ["device status", "devices", "share"],
        [[s, n, _percent(n, shot.total)] for s, n in shot.ordered_counts().items()] + [["total", shot.total, ""]],
    )


@campaigns_app.command("create")
def create_campaign(
    firmware: Annotated[str, typer.Option("--firmware", help="Firmware package name (GET /firmware).")],
    firmware_from: Annotated[str, typer.Option("--from", help="Version the devices run now.")],
    firmware_to: Annotated[str, typer.Option("--to", help="Version to upgrade them to.")],
    start: Annotated[datetime, typer.Option("--start", formats=["%Y-%m-%d"], help="First day, YYYY-MM-DD.")],
    end: Annotated[datetime, typer.Option("--end", formats=["%Y-%m-%d"], help="Last day, YYYY-MM-DD.")],
    protocol: Annotated[str, typer.Option("--protocol", help="LWM2M or HTTP.")] = "LWM2M",
    window: Annotated[
        list[str] | None, typer.Option("--window", help="Daily time window START-END in hours, e.g. 18-22; repeat.")
    ] = None,
    device: Annotated[list[str] | None, typer.Option("--device", help="IMEI; repeat for several.")] = None,
    devices_file: Annotated[
        Path | None,
        typer.Option(
            "--devices-file", exists=True, dir_okay=False, readable=True, help="IMEIs, one per line (or JSON list)."
        ),
    ] = None,
    auto_assign: Annotated[
        bool, typer.Option("--auto-assign/--no-auto-assign", help="Give listed devices without a license one.")
    ] = True,
    auto_add: Annotated[
        bool, typer.Option("--auto-add", help="Add matching devices of the account while the campaign runs.")
    ] = False,
    name: Annotated[str | None, typer.Option("--name", help="Campaign name.")] = None,
    time_zone: Annotated[
        str | None, typer.Option("--time-zone", help="IANA zone of the dates, windows and blackouts (default UTC).")
    ] = None,
    window_zone: Annotated[
        str | None, typer.Option("--window-zone", help="campaign (default) or device: whose zone windows are read in.")
    ] = None,
    rollout: Annotated[
        str | None,
        typer.Option(
            "--rollout", help='Waves as JSON, or @FILE, e.g. \'{"waves": [{"devices": 5}, {"percent": 100}]}\'.'
        ),
    ] = None,
    blackout: Annotated[
        list[str] | None,
        typer.Option(
            "--blackout", help="FROM/TO[/REASON] in local time, e.g. 2030-12-24T00:00/2030-12-27T00:00; repeat."
        ),
    ] = None,
    bandwidth: Annotated[
        int | None, typer.Option("--bandwidth", min=1, help="Budget of image bytes per hour for the campaign.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Preview only: eligible devices, licenses, waves, completion; no writes.")
    ] = False,
    server: ServerOption = DEFAULT_SERVER,
    account: AccountOption = "",
    client_id: ClientIdOption = "",
    client_secret: ClientSecretOption = "",
    username: UsernameOption = "",
    password: PasswordOption = "",
    json_out: JsonOption = False,
) -> None:
    """Create a firmware campaign; prints the campaign the server scheduled, with its id.

    With --dry-run, prints what creating it would do instead (the server's preview) and creates nothing.
    """
    credentials = connect(server, account, client_id, client_secret, username, password)
    windows = _windows(window or [])
    imeis = list(dict.fromkeys([*(device or []), *(_devices_from_file(devices_file) if devices_file else [])]))
    # Keys in the order the SDK sends them; optional ones only when given.
    body: dict[str, Any] = {
        "firmwareName": firmware,
        "firmwareFrom": firmware_from,
        "firmwareTo": firmware_to,
        "protocol": protocol,
        "startDate": start.date().isoformat(),
        "endDate": end.date().isoformat(),
        "deviceList": imeis,
        "autoAssignLicenseFlag": auto_assign,
        "autoAddDevicesFlag": auto_add,
    }
    if name is not None:
        body["campaignName"] = name
    if windows:
        body["campaignTimeWindowList"] = windows
    extensions = {
        "timeZone": time_zone,
        "windowZone": window_zone,
        "rollout": _json_option(rollout, "--rollout") if rollout is not None else None,
        "blackouts": [_blackout(b) for b in blackout] if blackout else None,
        "bandwidth": {"bytesPerHour": bandwidth} if bandwidth is not None else None,
    }
    body.update({k: v for k, v in extensions.items() if v is not None})
    path = f"/campaigns/firmware/{segment(credentials.account)}"
    with session(credentials) as client:
        answer = client.post(f"{path}/preview" if dry_run else path, body)
    if json_out:
        print_json(answer)
    elif dry_run:
        print_preview(answer)
    else:
        print_fields(answer)


def _json_option(value: str, option: str) -> Any:
    """An option's JSON, given inline or as @FILE."""
    content = value
    if value.startswith("@"):
        try:
            content = Path(value[1:]).read_text()
        except OSError as error:
            raise typer.BadParameter(f"{value[1:]}: {error.strerror}", param_hint=option) from None
    try:
        return json.loads(content)
    except ValueError as error:
        raise typer.BadParameter(f"not valid JSON: {error}", param_hint=option) from None


def _blackout(value: str) -> dict[str, str]:
    parts = value.split("/", 2)
    if len(parts) < 2 or not all(parts[:2]):
        raise typer.BadParameter(f"{value!r} is not FROM/TO[/REASON]", param_hint="--blackout")
    entry = {"from": parts[0].strip(), "to": parts[1].strip()}
    if len(parts) == 3 and parts[2].strip():
        entry["reason"] = parts[2].strip()
    return entry


def print_preview(preview: dict[str, Any]) -> None:
    """The dry run for people: the counts, the rejections by reason and each wave's groups."""
    print_fields(
        {
            "eligibleDevices": preview.get("eligibleDevices"),
            "rejectedDevices": sum(int(r.get("count") or 0) for r in preview.get("rejectedDevices") or []),
            "licensesConsumed": preview.get("licensesConsumed"),
            "estimatedCompletion": preview.get("estimatedCompletion") or "not before the end date",
        }
    )
    rejected = preview.get("rejectedDevices") or []
    if rejected:
        typer.echo()
        print_table(["rejection reason", "devices"], [[r.get("reason"), r.get("count")] for r in rejected])
    waves = preview.get("waves") or []
    if waves:
        typer.echo()
        rows = [
            [
                wave.get("name"),
                wave.get("devices"),
                g.get("make"),
                g.get("model"),
                g.get("firmware"),
                g.get("timeZone"),
                g.get("count"),
            ]
            for wave in waves
            for g in wave.get("groups") or [{}]
        ]
        print_table(["wave", "devices", "make", "model", "firmware", "time zone", "in group"], rows, title="waves")


@campaigns_app.command("follow-up")
def follow_up_campaign(
    campaign_id: Annotated[str, typer.Argument(help="The finished campaign whose missed devices to carry.")],
    start: Annotated[datetime, typer.Option("--start", formats=["%Y-%m-%d"], help="First day, YYYY-MM-DD.")],
    end: Annotated[datetime, typer.Option("--end", formats=["%Y-%m-%d"], help="Last day, YYYY-MM-DD.")],
    window: Annotated[
        list[str] | None,
        typer.Option("--window", help="Daily time window START-END; repeat. Default: the source campaign's windows."),
    ] = None,
    any_hour: Annotated[bool, typer.Option("--any-hour", help="No time windows, whatever the source had.")] = False,
    name: Annotated[str | None, typer.Option("--name", help="Campaign name (default: follow-up of ...).")] = None,
    server: ServerOption = DEFAULT_SERVER,
    account: AccountOption = "",
    client_id: ClientIdOption = "",
    client_secret: ClientSecretOption = "",
    username: UsernameOption = "",
    password: PasswordOption = "",
    json_out: JsonOption = False,
) -> None:
    """A new campaign of a finished campaign's firmware for its devices that did not upgrade and still can."""
    if window and any_hour:
        raise typer.BadParameter("give --window or --any-hour, not both", param_hint="--any-hour")
    credentials = connect(server, account, client_id, client_secret, username, password)
    body: dict[str, Any] = {"startDate": start.date().isoformat(), "endDate": end.date().isoformat()}
    if name is not None:
        body["campaignName"] = name
    if window or any_hour:
        body["campaignTimeWindowList"] = _windows(window or [])
    path = f"/campaigns/{segment(credentials.account)}/{segment(campaign_id)}/follow-up"
    with session(credentials) as client:
        created = client.post(path, body)
    if json_out:
        print_json(created)
        return
    not_carried = created.pop("notCarried", None) or []
    print_fields(created)
    if not_carried:
        typer.echo()
        print_table(["not carried", "devices"], [[r.get("reason"), r.get("count")] for r in not_carried])


@campaigns_app.command("cancel")
def cancel_campaign(
    campaign_id: Annotated[str, typer.Argument(help="The campaign's id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    server: ServerOption = DEFAULT_SERVER,
    account: AccountOption = "",
    client_id: ClientIdOption = "",
    client_secret: ClientSecretOption = "",
    username: UsernameOption = "",
    password: PasswordOption = "",
    json_out: JsonOption = False,
) -> None:
    """Cancel a campaign (before its start) or abort it (after); asks first unless --yes."""
    credentials = connect(server, account, client_id, client_secret, username, password)
    path = f"/campaigns/{segment(credentials.account)}/{segment(campaign_id)}"
    with session(credentials) as client:
        # Read it first: an unknown id fails before the question, and the question can say what is at stake.
        campaign = client.get(path)
        if not yes:
            label = f"{campaign_id} ({campaign.get('campaignName')})" if campaign.get("campaignName") else campaign_id
            # On stderr, so that `--json` leaves stdout to the answer.
            typer.confirm(f"Cancel campaign {label}, now {campaign.get('status')}?", abort=True, err=True)
        result = client.delete(path)
        after = client.get(path)
    if json_out:
        print_json(result)
    else:
        print_fields({"id": after.get("id"), "status": after.get("status")})


@campaigns_app.command("watch")
def watch_campaign(
    campaign_id: Annotated[str, typer.Argument(help="The campaign's id.")],
    interval: Annotated[float, typer.Option("--interval", min=0.05, help="Seconds between refreshes.")] = 2.0,
    once: Annotated[bool, typer.Option("--once", help="Print one frame and exit (for scripts and tests).")] = False,
    server: ServerOption = DEFAULT_SERVER,
    account: AccountOption = "",
    client_id: ClientIdOption = "",
    client_secret: ClientSecretOption = "",
    username: UsernameOption = "",
    password: PasswordOption = "",
    json_out: JsonOption = False,
) -> None:
    """Live progress bars per device status until the campaign and all its devices reach a final status.

    With --json, prints one JSON object per refresh (as `show --json` does), one per line.
    """
    credentials = connect(server, account, client_id, client_secret, username, password)
    with session(credentials) as client:
        shot = snapshot(client, credentials.account, campaign_id)
        if json_out:
            typer.echo(json.dumps(shot.as_json()))
            while not (once or shot.finished):
                time.sleep(interval)
                shot = snapshot(client, credentials.account, campaign_id)
                typer.echo(json.dumps(shot.as_json()))
            return
        if once:
            console.print(frame(shot))
            return
        try:
            # On a terminal this redraws in place; into a file or pipe rich writes only the last frame.
            with Live(frame(shot), console=console, auto_refresh=False) as live:
                while not shot.finished:
                    time.sleep(interval)
                    shot = snapshot(client, credentials.account, campaign_id)
                    live.update(frame(shot), refresh=True)
        except KeyboardInterrupt:
            err_console.print("stopped watching; the campaign goes on", style="yellow")
            raise typer.Exit(130) from None
