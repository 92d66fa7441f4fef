"""`fota simulate`: run a fleet of simulated LwM2M devices against a server until Ctrl-C or --duration."""

from __future__ import annotations

import asyncio
import enum
import logging
from typing import Annotated

import typer
from rich.console import Console

from fota.simulator.device import DeviceConfig
from fota.simulator.faults import FaultShare
from fota.simulator.firmware import SCHEMES, Delivery, Protocol, block_exponent
from fota.simulator.fleet import DEFAULT_IMEI_START, Fleet, FleetSummary

console = Console()
_STATE_NAMES = {0: "Idle", 1: "Downloading", 2: "Downloaded", 3: "Updating"}


class DeliveryChoice(enum.StrEnum):
    PULL = "pull"
    PUSH = "push"
    BOTH = "both"


class VersionChoice(enum.StrEnum):
    V1_0 = "1.0"
    V1_1 = "1.1"


def _protocols(text: str) -> tuple[Protocol, ...]:
    try:
        return tuple(SCHEMES[name.strip().lower()] for name in text.split(",") if name.strip())
    except KeyError as exc:
        raise typer.BadParameter(f"unknown protocol {exc.args[0]!r}; use coap, http, https") from None


def _summary_line(summary: FleetSummary, elapsed: float) -> str:
    firmware = " ".join(f"{version}={count}" for version, count in summary.by_firmware.items())
    states = " ".join(f"{_STATE_NAMES.get(state, state)}={count}" for state, count in summary.by_state.items())
    results = " ".join(f"{result}={count}" for result, count in summary.by_result.items() if result)
    line = (
        f"[{elapsed:6.0f}s] registered {summary.registered}/{summary.devices}"
        f" | firmware {firmware} | FU state {states} | updates executed {summary.update_executions}"
    )
    if results:
        line += f" | results {results}"
    if summary.gone:
        line += f" | gone {summary.gone}"
    return line


async def _run(fleet: Fleet, duration: float | None, every: float) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with fleet:
        while duration is None or loop.time() - started < duration:
            remaining = every if duration is None else min(every, duration - (loop.time() - started))
            await asyncio.sleep(max(remaining, 0.0))
            console.print(
                _summary_line(fleet.summary(), loop.time() - started), markup=False, highlight=False, soft_wrap=True
            )
        console.print("duration reached: de-registering every device", markup=False)


def simulate(
    devices: Annotated[int, typer.Option("--devices", min=1, help="How many devices to simulate.")],
    server: Annotated[
        str, typer.Option("--server", help="The LwM2M server, coap://host:port (or bootstrap with --bootstrap-server).")
    ] = "",
    bootstrap_server: Annotated[
        str | None,
        typer.Option(help="A bootstrap server the devices start from: coap://host:5693, or coaps:// with a PSK."),
    ] = None,
    bootstrap_psk_identity: Annotated[
        str, typer.Option(help="Bootstrap PSK identity of each device; {imei} is replaced by its IMEI.")
    ] = "bs-{imei}",
    bootstrap_psk_key: Annotated[
        str | None,
        typer.Option(envvar="FOTA_BOOTSTRAP_PSK_KEY", help="Bootstrap PSK (hex) of every device, for coaps://."),
    ] = None,
    imei_start: Annotated[int, typer.Option(help="IMEI of the first device; the others follow.")] = DEFAULT_IMEI_START,
    make: Annotated[str, typer.Option(help="Manufacturer (/3/0/0).")] = "SimCo",
    model: Annotated[str, typer.Option(help="Model number (/3/0/1).")] = "SIM-1",
    firmware: Annotated[str, typer.Option(help="Firmware version the devices start with (/3/0/3).")] = "1.0.0",
    time_zone: Annotated[
        str | None, typer.Option(help="IANA zone the devices report in the Device object's Timezone (/3/0/15).")
    ] = None,
    lwm2m: Annotated[VersionChoice, typer.Option(help="LwM2M version the devices speak.")] = VersionChoice.V1_1,
    delivery: Annotated[
        DeliveryChoice, typer.Option(help="Delivery methods supported (/5/0/9).")
    ] = DeliveryChoice.BOTH,
    protocols: Annotated[
        str, typer.Option(help="Download protocols supported (/5/0/8), comma-separated: coap, http, https.")
    ] = "coap,http,https",
    block_size: Annotated[
        int, typer.Option(help="Device buffer: Block2 size asked for in downloads and largest Block1 accepted on push.")
    ] = 1024,
    lifetime: Annotated[int, typer.Option(min=1, help="Registration lifetime in seconds (lt).")] = 300,
    checkin_interval: Annotated[float, typer.Option(min=0.1, help="Seconds between registration Updates.")] = 30.0,
    awake_seconds: Annotated[float, typer.Option(min=0.0, help="Queue mode: listening time after each send.")] = 93.0,
    queue: Annotated[bool, typer.Option("--queue/--no-queue", help="Register in queue mode.")] = True,
    reboot_seconds: Annotated[float, typer.Option(min=0.0, help="How long the Update reboot takes.")] = 2.0,
    fault: Annotated[
        list[str] | None, typer.Option("--fault", help="NAME:FRACTION, repeatable, e.g. corrupt:0.1.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for choosing which devices get which fault.")] = 0,
    duration: Annotated[float | None, typer.Option(min=0.0, help="Stop after this many seconds.")] = None,
    summary_every: Annotated[float, typer.Option(min=0.1, help="Seconds between summary lines.")] = 5.0,
    stagger: Annotated[float, typer.Option(min=0.0, help="Seconds between device start-ups.")] = 0.005,
    log_level: Annotated[str, typer.Option(help="Log level.")] = "warning",
) -> None:
    """Run N simulated LwM2M devices (queue mode, pull and push, injectable faults) against a fota server."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        block_exponent(block_size)
        shares = [FaultShare.parse(text) for text in fault or []]
        secure = bootstrap_server is not None and bootstrap_psk_key is not None
        template = DeviceConfig(
            server=server,
            bootstrap_server=bootstrap_server,
            bootstrap_psk_identity=bootstrap_psk_identity if secure else None,
            bootstrap_psk_key=bytes.fromhex(bootstrap_psk_key) if secure and bootstrap_psk_key else None,
            make=make,
            model=model,
            firmware=firmware,
            time_zone=time_zone,
            lwm2m_version=lwm2m.value,
            delivery=Delivery[delivery.name],
            protocols=_protocols(protocols),
            lifetime=lifetime,
            checkin_interval=checkin_interval,
            queue_mode=queue,
            awake_seconds=awake_seconds,
            reboot_seconds=reboot_seconds,
            block_size=block_size,
            max_block_size=block_size,
        )
        fleet = Fleet(devices, template, imei_start=imei_start, faults=shares, seed=seed, stagger=stagger)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    target = server or f"bootstrap server {bootstrap_server}"
    console.print(f"simulating {devices} LwM2M {lwm2m.value} devices against {target} (Ctrl-C to stop)", markup=False)
    try:
        asyncio.run(_run(fleet, duration, summary_every))
    except KeyboardInterrupt:
        # asyncio.run cancelled the fleet's task, whose `async with` de-registered every device on the way out.
        console.print("interrupted: every device de-registered", markup=False)
