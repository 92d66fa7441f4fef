"""What a CoAP block request leaves in the serving process's memory: an aiocoap server answering Block2-sized slices
of a 64 KiB image, in its own process, under three de-duplication settings, driven by the same client in one run.

- `rfc`: aiocoap's default, every answer remembered for EXCHANGE_LIFETIME (247 s);
- `window`: every answer remembered for fota's shorter window (67 s), GETs included;
- `fota`: the LwM2M endpoint as `fota serve` tunes it (`adapters/lwm2m/udp_tuning.py`): GETs not remembered (ADR 32).

The figure is the server's resident memory after the requests, less before, per request. Multiplied by a block rate
and the window, it is what the de-duplication cache holds during a fleet's downloads.

    .venv/bin/python -m bench.coap_memory --requests 20000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys

import aiocoap
import aiocoap.resource as resource
from bench.common import memory_kib
from tests.conftest import _free_port

IMAGE = os.urandom(64 * 1024)
BLOCK = 512
MODES = ("rfc", "window", "fota")
WINDOW_SECONDS = {"rfc": 247.0, "window": 67.0, "fota": 0.0}


class Slices(resource.Resource):  # type: ignore[misc]
    """Answers GET /blk?N with the image's N-th 512-byte slice: a fresh bytes object, as fota's block server makes."""

    async def render_get(self, request: aiocoap.Message) -> aiocoap.Message:
        number = int(request.opt.uri_query[0]) % (len(IMAGE) // BLOCK)
        return aiocoap.Message(payload=IMAGE[number * BLOCK : (number + 1) * BLOCK], content_format=42)


async def serve(port: int, mode: str) -> None:
    from fota.adapters.lwm2m import udp_tuning

    site = resource.Site()
    site.add_resource(["blk"], Slices())
    context = await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", port), transports=["udp6"])
    if mode == "window":
        udp_tuning.READ_TUNING = udp_tuning.SERVER_TUNING  # the endpoint as it was before ADR 32
    if mode != "rfc":
        udp_tuning.tune_udp(context)
    print("ready", flush=True)
    await asyncio.sleep(600)  # bounded: ends on its own if the benchmark that started it dies


async def drive(port: int, requests: int, concurrency: int = 64) -> None:
    client = await aiocoap.Context.create_client_context(transports=["udp6"])
    numbers = iter(range(requests))

    async def worker() -> None:
        for number in numbers:
            message = aiocoap.Message(code=aiocoap.GET, uri=f"coap://127.0.0.1:{port}/blk?{number}")
            response = await asyncio.wait_for(client.request(message).response, 30)
            assert len(response.payload) == BLOCK

    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        await client.shutdown()


def measure(mode: str, requests: int) -> float:
    """Bytes the server holds per answered request, after a warm-up of the same size."""
    port = _free_port(socket.SOCK_DGRAM)
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.coap_memory", "--serve", mode, "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        asyncio.run(drive(port, 2000))  # imports, first allocations, the client's own warm-up
        before = memory_kib(server.pid)
        asyncio.run(drive(port, requests))
        after = memory_kib(server.pid)
    finally:
        server.kill()
        server.wait()
    return (after - before) * 1024 / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rate", type=float, default=1500.0, help="blocks a second to project the held memory at")
    parser.add_argument("--serve", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.port, args.serve))
        return
    print(f"# bench.coap_memory requests={args.requests} block={BLOCK} B; loadavg={os.getloadavg()[0]:.2f}")
    for mode in MODES:
        per_request = measure(mode, args.requests)
        held = per_request * args.rate * WINDOW_SECONDS[mode] / 2**20
        print(
            f"{mode:>6}: {per_request:7.0f} bytes held per request; at {args.rate:g} blocks/s over a "
            f"{WINDOW_SECONDS[mode]:g} s window that is {held:6.0f} MiB"
        )


if __name__ == "__main__":
    main()
