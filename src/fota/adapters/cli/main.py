"""The `fota` command: `fota serve` runs the server; `fota admin ...` provisions through the admin API."""

from __future__ import annotations

import os
import secrets
from dataclasses import replace
from enum import StrEnum
from typing import Annotated

import typer

from fota import runtime
from fota.adapters.cli.admin import admin_app, device_security_app
from fota.adapters.cli.admin_bootstrap import bootstrap_app
from fota.adapters.cli.campaigns import campaigns_app
from fota.adapters.cli.devices import devices_app
from fota.adapters.cli.rollouts import approve, audit, pause, resume
from fota.adapters.cli.signing import signing_keys_app, signing_policy
from fota.adapters.cli.simulate import simulate
from fota.adapters.logging_setup import configure as configure_logging
from fota.runtime import ALL_ROLES, DEFAULT_DATABASE_URL, Role, Settings

app = typer.Typer(help="fota: firmware-over-the-air campaign server for LwM2M fleets.", no_args_is_help=True)
device_security_app.add_typer(bootstrap_app, name="bootstrap")
admin_app.add_typer(signing_keys_app, name="signing-keys")
admin_app.command(name="signing-policy")(signing_policy)
app.add_typer(admin_app, name="admin")
for name, operation in (("pause", pause), ("resume", resume), ("approve", approve), ("audit", audit)):
    campaigns_app.command(name=name)(operation)
app.add_typer(campaigns_app, name="campaigns")
app.add_typer(devices_app, name="devices")
app.command(name="simulate")(simulate)


class LogFormatChoice(StrEnum):
    json = "json"
    text = "text"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8000,
    database: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL; default $FOTA_DATABASE_URL or sqlite:///fota.db.")
    ] = None,
    simulated_clock: Annotated[
        bool,
        typer.Option("--simulated-clock", help="Start the clock at wall time and move it only via the admin API."),
    ] = False,
    demo: Annotated[
        bool,
        typer.Option("--demo", help="Provision a demo account, credentials, firmware and devices; print them."),
    ] = False,
    coap_port: Annotated[int, typer.Option(help="UDP port of the LwM2M server (CoAP).")] = 5683,
    coap_host: Annotated[str, typer.Option(help="Address the LwM2M server listens on.")] = "0.0.0.0",  # noqa: S104
    no_lwm2m: Annotated[bool, typer.Option("--no-lwm2m", help="Run no LwM2M server in this process.")] = False,
    public_coap_url: Annotated[
        str | None, typer.Option(help="coap://host:port devices use to reach us (default: derived).")
    ] = None,
    public_http_url: Annotated[
        str | None, typer.Option(help="http(s)://host:port devices use for HTTP downloads (default: derived).")
    ] = None,
    max_downloads: Annotated[int, typer.Option(help="Concurrent firmware downloads per process.")] = 200,
    coaps_port: Annotated[
        int | None,
        typer.Option(
            help="UDP port of the LwM2M server over DTLS-PSK (coaps); default the CoAP port + 1 (5684); 0: off."
        ),
    ] = None,
    bootstrap_port: Annotated[
        int, typer.Option(help="UDP port of the LwM2M bootstrap server (CoAP); 0: no bootstrap server.")
    ] = 5693,
    bootstrap_coaps_port: Annotated[
        int | None,
        typer.Option(help="UDP port of the bootstrap server over DTLS-PSK; default the bootstrap port + 1; 0: off."),
    ] = None,
    allow_nosec: Annotated[
        bool,
        typer.Option(
            "--allow-nosec",
            help="Accept devices over plain CoAP (NoSec); also FOTA_ALLOW_NOSEC=1. Default with --demo.",
        ),
    ] = False,
    role: Annotated[
        list[str] | None,
        typer.Option(
            "--role",
            help="What this process runs: api, engine, lwm2m or all (the default); repeat or comma-separate to "
            "combine. Roles other than all need PostgreSQL (see README, 'Running several processes').",
        ),
    ] = None,
    shared_clock: Annotated[
        bool | None,
        typer.Option(
            "--shared-clock/--local-clock",
            help="Keep the --simulated-clock in the database so several processes share it "
            "(default: shared when --role is not all).",
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="HTTP processes on the one port (PostgreSQL only): the first runs every role, the others the API.",
        ),
    ] = 1,
    api_threads: Annotated[
        int | None,
        typer.Option(min=1, help="Threads for the API's database work (default 8, or FOTA_API_THREADS)."),
    ] = None,
    log_level: Annotated[
        str | None,
        typer.Option(
            help="Log level; default info, or warning with --demo, which prints a live summary of the fleet instead."
        ),
    ] = None,
    log_format: Annotated[
        LogFormatChoice | None,
        typer.Option(
            help="Log lines on stderr as JSON objects (time, level, logger, message, request_id) or as text; "
            "default: text when stderr is a terminal, json otherwise."
        ),
    ] = None,
) -> None:
    """Run the HTTP API, the campaign engine and the LwM2M server: all in one process, or the roles given."""
    from sqlalchemy.engine import make_url  # here, with the runtime: the other commands start without either

    # The demo fleet logs every device step; a newcomer watching it wants the summary, the log a flag away.
    log_level = log_level or ("warning" if demo else "info")
    chosen_format = configure_logging(level=log_level, log_format=log_format.value if log_format else None)
    roles = parse_roles(role or [])
    database_url = database or os.environ.get("FOTA_DATABASE_URL") or DEFAULT_DATABASE_URL
    if roles != ALL_ROLES and make_url(database_url).get_backend_name() == "sqlite":
        # Processes share work only through PostgreSQL's row and advisory locks; SQLite has neither across processes.
        raise typer.BadParameter(
            "roles other than 'all' need PostgreSQL (--database postgresql://...); SQLite serves one process",
            param_hint="--role",
        )
    if workers > 1 and make_url(database_url).get_backend_name() == "sqlite":
        raise typer.BadParameter(
            "several workers need PostgreSQL (--database postgresql://...)", param_hint="--workers"
        )
    if workers > 1 and (demo or Role.API not in roles):
        raise typer.BadParameter("workers serve the API, and the demo runs on SQLite", param_hint="--workers")
    reachable = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - comparing, not binding
    settings = Settings.from_environment(
        database_url=database,
        simulated_clock=simulated_clock,
        coap_host=coap_host,
        coap_port=None if no_lwm2m else coap_port,
        public_coap_url=public_coap_url,
        public_http_url=public_http_url or os.environ.get("FOTA_PUBLIC_HTTP_URL") or f"http://{reachable}:{port}",
        max_downloads=max_downloads,
        api_threads=api_threads,
        coaps_port=coaps_port,
        bootstrap_port=0 if no_lwm2m else bootstrap_port,
        bootstrap_coaps_port=bootstrap_coaps_port,
        # None leaves FOTA_ALLOW_NOSEC to decide; the demo's simulated fleet speaks plain CoAP, so --demo allows it.
        allow_nosec=True if allow_nosec or demo else None,
        roles=roles,
        shared_clock=roles != ALL_ROLES if shared_clock is None else shared_clock,
    )
    base_url = f"http://{reachable}:{port}"
    if workers > 1:
        if not settings.admin_token:
            # Made up here, so that every worker takes the same.
            settings = replace(settings, admin_token=secrets.token_urlsafe(24))
            typer.echo(f"FOTA_ADMIN_TOKEN not set; this run's admin token: {settings.admin_token}")
        specs = [
            runtime.WorkerSpec(runtime.worker_settings(settings, n), host, port, log_level, chosen_format, base_url)
            for n in range(workers)
        ]
        raise typer.Exit(runtime.supervise(specs))
    process = runtime.build(settings)
    if not settings.admin_token:
        typer.echo(f"FOTA_ADMIN_TOKEN not set; this run's admin token: {process.admin_token}")
    runtime.serve(process, host=host, port=port, log_level=log_level, demo=demo, base_url=base_url)


def parse_roles(values: list[str]) -> frozenset[Role]:
    """`--role api --role engine`, `--role api,engine` or `--role all` (also the default when none is given)."""
    names = {name.strip().lower() for value in values for name in value.split(",") if name.strip()}
    if not names or "all" in names:
        return ALL_ROLES
    unknown = sorted(names - {r.value for r in Role})
    if unknown:
        raise typer.BadParameter(f"unknown role(s) {', '.join(unknown)}: choose from api, engine, lwm2m, all")
    return frozenset(Role(name) for name in names)
