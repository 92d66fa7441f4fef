"""Dispatch benchmark: N simulated LwM2M devices checking in when a campaign's window opens.

Measures, from the moment the (simulated) clock enters the window:
- devices whose upgrade started per minute (a device has started once its Firmware Update State leaves Idle,
  i.e. the server wrote the Package URI and the device began the download), and
- full upgrades per minute (the 64 KiB image pulled over CoAP Block2, Update executed, device back on 2.0.0).

Baseline, same run: aiocoap's raw request rate on this machine (bench/coap_baseline_server.py in its own process),
driven by the datagram load generator of bench/coap_load.py from 64 endpoints; the rate one aiocoap client context
reaches against it is printed beside, for reference (it measures the client).
The simulated fleet runs in this process and the server in another: both share the same 2 cores. The devices
register, check in and answer the server through aiocoap, but pull their images with hand-written datagrams
(DeviceConfig.datagram_downloads, src/fota/simulator/datagram_blocks.py, ADR 42): one socket a download, one
confirmable Block2 GET at a time, retransmitted as RFC 7252 says. An aiocoap client costs more per request than the
server it asks, so with 1 000 of them downloading the figure measured the fleet. The script prints the CPU both
processes used during the wave.

The campaign is Scheduled with its window still closed while the fleet registers; the window then opens with a 30 s
step of the simulated clock, which from there follows wall time (so time-outs and retry back-offs come due). The
script prints the offered check-in rate (the ceiling of any start rate), where a start's time went (from the
devices' event logs), UDP datagrams the kernel dropped during the wave, why unfinished devices are unfinished, and
what the three devices that finished last did (their downloads' starts, busy answers and failures).

    .venv/bin/python -m bench.dispatch --database sqlite --devices 300
    .venv/bin/python -m bench.dispatch --database sqlite --devices 1000 --checkin 2
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import signal
import subprocess
import time
from collections import Counter
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import cast

import aiocoap
import httpx
from bench.common import (
    FROM,
    IMEI_BASE,
    MAKE,
    MODEL,
    TO,
    create_campaign,
    machine,
    new_firmware_with_image,
    peak_rss_mib,
    percentile,
    provision_devices,
    running_server,
)
from bench.wrk import process_cpu_seconds
from tests.conftest import RunningServer

from bench import coap_baseline_server, coap_load
from fota.simulator.device import DeviceConfig, SimulatedDevice
from fota.simulator.firmware import Delivery, Protocol, State
from fota.simulator.fleet import Fleet
from fota.simulator.package import build_image


async def coap_baseline(requests: int, concurrency: int, max_seconds: float) -> tuple[coap_load.Load, coap_load.Load]:
    """aiocoap's raw GET rate for a trivial resource in its own process: as driven by the datagram load generator
    (bench/coap_load.py, the ceiling the ratios use), then by one aiocoap client context, for reference. An aiocoap
    client costs more per request than the server it drives, so that second figure is the client's rate."""
    async with coap_baseline_server.running(2 * max_seconds) as port:
        ceiling = await coap_load.drive(port, paths=[("x",)] * concurrency, seconds=5.0)
        return ceiling, await _aiocoap_client_rate(port, requests, concurrency, max_seconds)


async def _aiocoap_client_rate(port: int, requests: int, concurrency: int, max_seconds: float) -> coap_load.Load:
    context = await aiocoap.Context.create_client_context()
    uri = f"coap://127.0.0.1:{port}/x"
    deadline = time.monotonic() + max_seconds
    load = coap_load.Load()
    issued = 0

    async def worker() -> None:
        nonlocal issued
        while issued < requests and time.monotonic() < deadline:
            issued += 1
            try:
                response = await context.request(aiocoap.Message(code=aiocoap.GET, uri=uri)).response
                load.ok += response.code.is_successful()
            except Exception:  # any failure counts: the rate is what matters
                load.errors += 1

    try:
        await asyncio.gather(*(worker() for _ in range(5)))  # warm-up, not timed
        load.ok = load.errors = issued = 0
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        load.seconds = time.perf_counter() - started
    finally:
        await context.shutdown()
    return load


def record_server(py_spy: str | None, pid: int) -> subprocess.Popen[bytes] | None:
    """py-spy recording the server from now until it is sent SIGINT (raw format: one collapsed stack a line)."""
    if not py_spy:
        return None
    executable, output = py_spy.split(":", 1)
    command = [executable, "record", "--nonblocking", "-r", "200", "-f", "raw", "-p", str(pid), "-o", output]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def follow_wall_time(server: RunningServer, step: float = 1.0) -> None:
    """Moves the server's simulated clock forward by the wall time that passed, every `step` seconds."""
    last = time.monotonic()
    while True:
        await asyncio.sleep(step)
        now = time.monotonic()
        await asyncio.to_thread(server.advance, now - last)
        last = now


def udp_receive_buffer_errors() -> int:
    """The kernel's count of UDP datagrams dropped for a full socket receive buffer (machine-wide, IPv4 and v6)."""
    total = 0
    for path, key in (("/proc/net/snmp", "Udp:"), ("/proc/net/snmp6", "Udp6RcvbufErrors")):
        try:
            lines = Path(path).read_text().splitlines()
        except OSError:
            continue
        if key == "Udp:":
            rows = [line.split() for line in lines if line.startswith("Udp:")]
            if len(rows) >= 2 and "RcvbufErrors" in rows[0]:
                total += int(rows[1][rows[0].index("RcvbufErrors")])
        else:
            total += sum(int(line.split()[1]) for line in lines if line.startswith(key))
    return total


ADMISSION = (
    "fota_download_limit",
    "fota_downloads_active",
    "fota_download_starts_waiting",
    "fota_event_loop_lag_seconds",
    "fota_event_loop_busy_ratio",
)

# Counters whose growth during the wave is printed: starts made to wait, and sends made again past an earlier
# datagram's ICMP error (docs/adr/0045).
COUNTED = {
    "fota_download_starts_deferred_total": "starts deferred to a later check-in",
    "fota_coap_sends_repeated_total": "CoAP sends made again past an earlier datagram's ICMP error",
}


async def sample_admission_once(server: RunningServer, samples: list[dict[str, float]]) -> None:
    """The server's admission gauges (docs/adr/0028), from its /metrics; a failed scrape is skipped."""
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            text = (await client.get(f"{server.base_url}/metrics")).text
    except httpx.HTTPError:
        return
    found = {}
    for line in text.splitlines():
        name, _, rest = line.partition(" ")
        if name in ADMISSION or name in COUNTED:
            found[name] = float(rest)
    if found:
        samples.append(found)


async def sample_admission(server: RunningServer, samples: list[dict[str, float]], step: float) -> None:
    while True:
        await sample_admission_once(server, samples)
        await asyncio.sleep(step)


def admission(samples: list[dict[str, float]]) -> list[str]:
    """How the download limit moved during the wave, and the starts it made wait."""
    lines = []
    for name in ADMISSION:
        values = [s[name] for s in samples if name in s]
        if values:
            lines.append(
                f"{name}: min {min(values):g} p50 {percentile(values, 50):g} max {max(values):g} (n={len(values)})"
            )
    if len(samples) > 2:
        # In order, one sample a scrape: how fast the limit grew, and whether it or the loop held the downloads back.
        series = " ".join(
            f"{s.get('fota_download_limit', 0):g}/{s.get('fota_downloads_active', 0):g}/"
            f"{s.get('fota_download_starts_waiting', 0):g}/{s.get('fota_event_loop_busy_ratio', 0):.2f}"
            for s in samples
        )
        lines.append(f"limit/active/waiting/busy at each scrape: {series}")
    for name, label in COUNTED.items():
        counted = [s[name] for s in samples if name in s]
        if counted:
            lines.append(f"{label}: {counted[-1] - counted[0]:g}")
    return lines


def timing(devices: list[SimulatedDevice], opened: float) -> list[str]:
    """Where a start's time goes, from the devices' own event logs (loop time, same process):
    the first check-in answered after the window opened, the Package URI write that followed it, and the spacing of
    check-ins (interval + round trip) during the wave."""
    first_checkin: list[float] = []
    to_write: list[float] = []
    gaps: list[float] = []
    for d in devices:
        updates = [e.at for e in d.events if e.kind in ("update", "register") and e.at >= opened]
        writes = [e.at for e in d.events if e.kind == "write" and e.at >= opened]
        if updates:
            first_checkin.append(updates[0] - opened)
            gaps += [b - a for a, b in itertools.pairwise(updates)]
        if updates and writes:
            before = [u for u in updates if u <= writes[0]]
            if before:
                to_write.append(writes[0] - before[-1])
    lines = []
    for label, values in (
        ("first check-in answered after the window opened", first_checkin),
        ("Package URI written after that check-in's answer", to_write),
        ("spacing of check-ins during the wave", gaps),
    ):
        if values:
            lines.append(
                f"{label}: p50 {percentile(values, 50):.2f}s p90 {percentile(values, 90):.2f}s "
                f"max {max(values):.2f}s (n={len(values)})"
            )
    return lines


def slowest(devices: list[SimulatedDevice], done: dict[str, float], opened: float, count: int = 3) -> list[str]:
    """The devices that finished last, and what their own event logs say of the wave: each kind of event counted,
    and when each download started, was answered busy or failed."""
    by_imei = {d.imei: d for d in devices}
    lines = []
    for imei, at in sorted(done.items(), key=lambda item: item[1])[-count:]:
        events = [e for e in by_imei[imei].events if e.at >= opened]
        kinds = Counter(e.kind for e in events)
        lines.append(f"{imei} done at {at:.1f}s: " + ", ".join(f"{kind} x{n}" for kind, n in kinds.most_common()))
        lines += [
            f"  {e.at - opened:.1f}s {e.kind}: {e.detail[:80]}"
            for e in events
            if e.kind in ("download-start", "download-busy", "download-done") or e.kind.endswith("failed")
        ][:8]
    return lines


def after_download(devices: list[SimulatedDevice], done: dict[str, float], opened: float) -> list[str]:
    """From each device's last block to its new firmware seen by the bench (the Update, reboot and re-registration),
    and the exchanges the fleet saw fail during the wave, by kind."""
    spans: list[float] = []
    failed: Counter[str] = Counter()
    for d in devices:
        events = [e for e in d.events if e.at >= opened]
        failed.update(e.kind for e in events if e.kind.endswith("failed"))
        finished = [e.at - opened for e in events if e.kind == "download-done"]
        if d.imei in done and finished:
            spans.append(done[d.imei] - finished[-1])
    lines = []
    if spans:
        spans.sort()
        lines.append(
            f"p50 {percentile(spans, 50):.2f}s p90 {percentile(spans, 90):.2f}s max {spans[-1]:.2f}s (n={len(spans)})"
        )
    lines.append("failed exchanges: " + (", ".join(f"{k} x{n}" for k, n in failed.most_common()) or "none"))
    return lines


def unfinished(devices: list[SimulatedDevice]) -> list[str]:
    """Why the devices that are not on the new firmware are not: state, result and last events, grouped."""
    shapes: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for d in devices:
        if d.firmware_version == TO:
            continue
        kinds = [e.kind for e in d.events[-4:]]
        shapes[f"state={int(d.state)} result={int(d.update_result)} last={','.join(kinds)}"] += 1
        for e in d.events:
            if e.kind.endswith("failed"):
                errors[f"{e.kind}: {e.detail[:90]}"] += 1
    lines = [f"{n} x {shape}" for shape, n in shapes.most_common(8)]
    lines += [f"{n} x {error}" for error, n in errors.most_common(8)]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--devices", type=int, default=300)
    parser.add_argument("--image-kib", type=int, default=64)
    parser.add_argument("--block-size", type=int, default=512, help="Block2 size the devices ask for")
    parser.add_argument("--checkin", type=float, default=1.0, help="seconds between a device's check-ins")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="budget for the whole upgrade wave")
    parser.add_argument("--baseline-requests", type=int, default=5000)
    parser.add_argument("--max-downloads", type=int, default=None, help="the server's ceiling (unset: its default)")
    parser.add_argument(
        "--py-spy", metavar="EXE:PATH", help="py-spy and an output file: the server recorded during the wave"
    )
    parser.add_argument("--register-seconds", type=float, default=300.0, help="budget for the fleet to register")
    parser.add_argument(
        "--admission-every",
        type=float,
        default=0.0,
        help="seconds between scrapes of the server's admission gauges during the wave (0: only one, at the end)",
    )
    args = parser.parse_args()
    print(
        f"# bench.dispatch database={args.database} devices={args.devices} image={args.image_kib} KiB "
        f"block={args.block_size} checkin={args.checkin}s max-downloads={args.max_downloads or 'default'}"
    )
    print(f"# {machine()}")

    extra = ("--max-downloads", str(args.max_downloads)) if args.max_downloads is not None else ()
    with running_server(args.database, *extra) as server:
        account = server.new_account(license_count=args.devices)
        firmware = new_firmware_with_image(server, build_image(TO, args.image_kib * 1024))
        first = IMEI_BASE + 10_000_001
        provision_devices(server, account, args.devices, first=first)
        headers = account.headers()
        now = server.now()
        tomorrow = now.date() + timedelta(days=1)
        create_campaign(
            account, headers, firmware, [str(first + i) for i in range(args.devices)], tomorrow, windows=((2, 6),)
        )
        template = DeviceConfig(
            server=server.coap_url,
            make=MAKE,
            model=MODEL,
            firmware=FROM,
            checkin_interval=args.checkin,
            awake_seconds=8.0,
            reboot_seconds=0.5,
            lifetime=120,
            block_size=args.block_size,
            delivery=Delivery.PULL,
            protocols=(Protocol.COAP,),  # the image over CoAP block-wise, as the issue asks
            datagram_downloads=True,  # the blocks by hand-written datagrams, not 1 000 aiocoap clients (ADR 42)
            request_timeout=30.0,
            transfer_timeout=120.0,
        )
        fleet = Fleet(args.devices, dataclasses.replace(template), imei_start=first, stagger=0.002)
        devices = fleet.devices
        # The campaign's start date, 30 s before its window opens: the campaign is Scheduled and the devices register
        # and check in with the window still closed. Opening it is then a 30 s step of the clock, well inside the
        # devices' 120 s registration lifetime (a longer jump would expire every registration at once and measure
        # a wave of re-registrations instead of check-ins).
        opening = datetime.combine(tomorrow, dtime(2), tzinfo=now.tzinfo)
        server.set_clock(opening - timedelta(seconds=30))

        async def wave() -> dict[str, object]:
            await fleet.start()
            try:
                deadline = time.monotonic() + args.register_seconds
                while not all(d.registered for d in devices) and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                registered = sum(d.registered for d in devices)
                # Time runs from the request that opens the window: devices checking in while the server handles it
                # (and runs the engine's tick) may already start.
                drops = udp_receive_buffer_errors()
                recorder = record_server(args.py_spy, server.process.pid)
                cpu = (process_cpu_seconds(server.process.pid), time.process_time())
                t0 = time.perf_counter()
                opened = asyncio.get_running_loop().time()  # the devices' events are stamped in loop time
                await asyncio.to_thread(server.set_clock, opening)
                # The simulated clock follows wall time from here, so that time-outs and retry back-offs come due.
                ticking = asyncio.create_task(follow_wall_time(server))
                gauges: list[dict[str, float]] = []
                sampling = asyncio.create_task(sample_admission(server, gauges, args.admission_every or 3600))
                started: dict[str, float] = {}
                done: dict[str, float] = {}
                deadline = time.monotonic() + args.max_seconds
                # Polling the simulator's own state every 50 ms: the figures' resolution is 50 ms.
                while len(done) < len(devices) and time.monotonic() < deadline:
                    at = time.perf_counter() - t0
                    for d in devices:
                        if d.imei not in started and (d.firmware.state != State.IDLE or d.update_executions):
                            started[d.imei] = at
                        if d.imei not in done and d.firmware_version == TO:
                            started.setdefault(d.imei, at)
                            done[d.imei] = at
                    await asyncio.sleep(0.05)
                cpu = (process_cpu_seconds(server.process.pid) - cpu[0], time.process_time() - cpu[1])
                ticking.cancel()
                sampling.cancel()
                if recorder is not None:
                    recorder.send_signal(signal.SIGINT)
                    await asyncio.to_thread(recorder.wait, 60)
                await sample_admission_once(server, gauges)
                return {
                    "admission": admission(gauges),
                    "registered": registered,
                    "started": started,
                    "done": done,
                    "wave": time.perf_counter() - t0,
                    "unfinished": unfinished(devices),
                    "slowest": slowest(devices, done, opened),
                    "after_download": after_download(devices, done, opened),
                    "timing": timing(devices, opened),
                    "drops": udp_receive_buffer_errors() - drops,
                    "cpu": cpu,
                }
            finally:
                await fleet.stop()

        result = asyncio.run(wave())
        rss = peak_rss_mib(server.process.pid)

    ceiling, client = asyncio.run(coap_baseline(args.baseline_requests, 64, 60))
    raw_per_min = ceiling.per_minute
    started = sorted(result["started"].values())  # type: ignore[union-attr]
    done = sorted(result["done"].values())  # type: ignore[union-attr]
    n = args.devices
    print(f"registered before the window opened: {result['registered']}/{n}")
    start_rate = len(started) / started[-1] * 60 if started else 0.0
    # An incomplete wave ran out of budget: its rate is over the whole budget, not up to its last completion.
    done_span = done[-1] if len(done) == n else float(result["wave"])  # type: ignore[arg-type]
    done_rate = len(done) / done_span * 60 if done else 0.0
    print(
        f"offered check-ins: {n} devices every {args.checkin:g}s = {n / args.checkin * 60:,.0f}/min "
        "(a device can start only when it checks in: the ceiling of the start rate)"
    )
    if started:
        print(
            f"upgrades started: {len(started)}/{n}; first {started[0]:.2f}s p50 {percentile(started, 50):.2f}s "
            f"last {started[-1]:.2f}s -> {start_rate:,.0f} devices started/min"
        )
        p10, p90 = percentile(started, 10), percentile(started, 90)
        if len(started) >= 10 and p90 > p10:
            # The middle 80 % of the wave: the rate without the first and last stragglers.
            print(
                f"  middle 80% of starts: {p10:.2f}s to {p90:.2f}s -> {0.8 * len(started) / (p90 - p10) * 60:,.0f}/min"
            )
    if done:
        print(
            f"upgrades completed: {len(done)}/{n}; first {done[0]:.2f}s p50 {percentile(done, 50):.2f}s "
            f"last {done[-1]:.2f}s; wave {float(result['wave']):.1f}s -> {done_rate:,.0f} full upgrades/min"
        )
    finished = len(done) == n
    print(
        f"every device finished: {'yes' if finished else 'NO'} ({len(done)}/{n} on {TO} "
        f"within the {args.max_seconds:g}s budget)"
    )
    blocks = -(-args.image_kib * 1024 // args.block_size)
    print(
        f"baseline aiocoap raw GET (datagram load generator, 64 endpoints): {ceiling.ok} ok {ceiling.errors} err "
        f"in {ceiling.seconds:.2f}s -> {raw_per_min:,.0f} requests/min"
    )
    print(
        f"  for reference, the same server driven by one aiocoap client context: {client.ok} ok {client.errors} err "
        f"in {client.seconds:.2f}s -> {client.per_minute:,.0f} requests/min (the client's rate, not the server's)"
    )
    print(f"ratio started/min : raw requests/min = {start_rate / raw_per_min:.3f}")
    print(
        f"ratio full upgrades/min : raw requests/min = {done_rate / raw_per_min:.4f} "
        f"(each upgrade moves >= {blocks} Block2 requests, so {done_rate * blocks / raw_per_min:.1%} "
        f"of the raw rate goes to image blocks alone)"
    )
    print(f"server peak RSS (VmHWM): {rss:.0f} MiB")
    wave_seconds = float(result["wave"])  # type: ignore[arg-type]
    server_cpu, fleet_cpu = cast(tuple[float, float], result["cpu"])
    print(
        f"CPU during the wave ({wave_seconds:.1f}s): server {server_cpu:.1f}s "
        f"({server_cpu / wave_seconds:.0%} of a core), this process with the simulated fleet {fleet_cpu:.1f}s "
        f"({fleet_cpu / wave_seconds:.0%})"
    )
    print(f"UDP datagrams dropped for a full receive buffer during the wave (whole machine): {result['drops']}")
    for line in result["admission"]:  # type: ignore[attr-defined]
        print(f"admission: {line}")
    for line in result["timing"]:  # type: ignore[attr-defined]
        print(f"timing: {line}")
    for line in result["unfinished"]:  # type: ignore[attr-defined]
        print(f"unfinished: {line}")
    for line in result["after_download"]:  # type: ignore[attr-defined]
        print(f"after the download: {line}")
    for line in result["slowest"]:  # type: ignore[attr-defined]
        print(f"slowest: {line}")


if __name__ == "__main__":
    main()
