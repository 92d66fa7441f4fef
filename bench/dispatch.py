"""Dispatch benchmark: N simulated LwM2M devices checking in when a campaign's window opens.

Measures, from the moment the (simulated) clock enters the window:
- devices whose upgrade started per minute (a device has started once its Firmware Update State leaves Idle,
  i.e. the server wrote the Package URI and the device began the download), and
- full upgrades per minute (the 64 KiB image pulled over CoAP Block2, Update executed, device back on 2.0.0).

Baseline, same run: aiocoap's raw request rate on this machine (bench/coap_baseline_server.py in its own process,
one aiocoap client context here issuing GETs at the same concurrency as the fleet's devices).
The simulated fleet runs in this process and the server in another: both share the same 2 cores.

    .venv/bin/python -m bench.dispatch --database sqlite --devices 200
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path

import aiocoap
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
from tests.conftest import _free_port

from fota.simulator.device import DeviceConfig
from fota.simulator.firmware import Delivery, Protocol, State
from fota.simulator.fleet import Fleet
from fota.simulator.package import build_image


async def coap_baseline(requests: int, concurrency: int, max_seconds: float) -> tuple[int, float, int]:
    """GETs against a trivial aiocoap resource; returns (ok, seconds, errors)."""
    port = _free_port(socket.SOCK_DGRAM)
    script = str(Path(__file__).with_name("coap_baseline_server.py"))
    server = subprocess.Popen([sys.executable, script, "--port", str(port), "--seconds", str(max_seconds + 30)])
    ok = errors = issued = 0
    try:
        await asyncio.sleep(1.0)  # let it bind; aiocoap has no readiness signal
        context = await aiocoap.Context.create_client_context()
        uri = f"coap://127.0.0.1:{port}/x"
        deadline = time.monotonic() + max_seconds

        async def worker() -> None:
            nonlocal ok, errors, issued
            while issued < requests and time.monotonic() < deadline:
                issued += 1
                try:
                    response = await context.request(aiocoap.Message(code=aiocoap.GET, uri=uri)).response
                    ok += response.code.is_successful()
                except Exception:  # any failure counts: the rate is what matters
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(5)))  # warm-up, not timed
        ok = errors = issued = 0
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        await context.shutdown()
    finally:
        server.terminate()
        server.wait(timeout=10)
    return ok, elapsed, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--image-kib", type=int, default=64)
    parser.add_argument("--block-size", type=int, default=512, help="Block2 size the devices ask for")
    parser.add_argument("--checkin", type=float, default=1.0, help="seconds between a device's check-ins")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="budget for the whole upgrade wave")
    parser.add_argument("--baseline-requests", type=int, default=5000)
    args = parser.parse_args()
    print(
        f"# bench.dispatch database={args.database} devices={args.devices} image={args.image_kib} KiB "
        f"block={args.block_size} checkin={args.checkin}s"
    )
    print(f"# {machine()}")

    with running_server(args.database) as server:
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
            request_timeout=30.0,
            transfer_timeout=120.0,
        )
        fleet = Fleet(args.devices, dataclasses.replace(template), imei_start=first, stagger=0.002)
        devices = fleet.devices

        async def wave() -> dict[str, object]:
            await fleet.start()
            try:
                deadline = time.monotonic() + 120
                while not all(d.registered for d in devices) and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                registered = sum(d.registered for d in devices)
                await asyncio.to_thread(server.set_clock, datetime.combine(tomorrow, dtime(2), tzinfo=now.tzinfo))
                t0 = time.perf_counter()
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
                return {"registered": registered, "started": started, "done": done, "wave": time.perf_counter() - t0}
            finally:
                await fleet.stop()

        result = asyncio.run(wave())
        rss = peak_rss_mib(server.process.pid)

    ok, seconds, errors = asyncio.run(coap_baseline(args.baseline_requests, 64, 60))
    raw_per_min = ok / seconds * 60
    started = sorted(result["started"].values())  # type: ignore[union-attr]
    done = sorted(result["done"].values())  # type: ignore[union-attr]
    n = args.devices
    print(f"registered before the window opened: {result['registered']}/{n}")
    start_rate = len(started) / started[-1] * 60 if started else 0.0
    # An incomplete wave ran out of budget: its rate is over the whole budget, not up to its last completion.
    done_span = done[-1] if len(done) == n else float(result["wave"])  # type: ignore[arg-type]
    done_rate = len(done) / done_span * 60 if done else 0.0
    if started:
        print(
            f"upgrades started: {len(started)}/{n}; first {started[0]:.2f}s p50 {percentile(started, 50):.2f}s "
            f"last {started[-1]:.2f}s -> {start_rate:,.0f} devices started/min"
        )
    if done:
        print(
            f"upgrades completed: {len(done)}/{n}; first {done[0]:.2f}s p50 {percentile(done, 50):.2f}s "
            f"last {done[-1]:.2f}s; wave {float(result['wave']):.1f}s -> {done_rate:,.0f} full upgrades/min"
        )
    blocks = -(-args.image_kib * 1024 // args.block_size)
    print(f"baseline aiocoap raw GET: {ok} ok {errors} err in {seconds:.2f}s -> {raw_per_min:,.0f} requests/min")
    print(f"ratio started/min : raw requests/min = {start_rate / raw_per_min:.3f}")
    print(
        f"ratio full upgrades/min : raw requests/min = {done_rate / raw_per_min:.4f} "
        f"(each upgrade moves >= {blocks} Block2 requests, so {done_rate * blocks / raw_per_min:.1%} "
        f"of the raw rate goes to image blocks alone)"
    )
    print(f"server peak RSS (VmHWM): {rss:.0f} MiB")


if __name__ == "__main__":
    main()
