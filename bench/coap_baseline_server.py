"""A trivial aiocoap server for the CoAP benchmarks' baseline: one resource answering GET with a few bytes.

Run as its own process, like `fota serve`, so the baseline client and server compete for the same 2 cores the
dispatch run's simulated fleet and server do. With `--tuned`, the endpoint gets the tuning fota's LwM2M server gives
its own (adapters/lwm2m/udp_tuning.py, render_tasks.py): the stricter ceiling of what aiocoap can do.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiocoap
import aiocoap.resource as resource


class Constant(resource.Resource):
    async def render_get(self, request: aiocoap.Message) -> aiocoap.Message:
        return aiocoap.Message(payload=b"ok")


async def serve(port: int, seconds: float, *, tuned: bool) -> None:
    site = resource.Site()
    site.add_resource(["x"], Constant())
    context = await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", port))
    if tuned:
        from fota.adapters.lwm2m.render_tasks import name_render_tasks_plainly
        from fota.adapters.lwm2m.udp_tuning import tune_udp

        name_render_tasks_plainly(context)
        tune_udp(context)
    # Bounded: the server exits on its own even if the benchmark that started it dies.
    await asyncio.sleep(seconds)
    await context.shutdown()


@asynccontextmanager
async def running(seconds: float, *, tuned: bool = False) -> AsyncIterator[int]:
    """This server in a process of its own, on a free loopback port, for at most `seconds` + 30; yields the port."""
    from tests.conftest import (
        _free_port,  # imported here: the file also runs as a script, outside the repository's root
    )

    port = _free_port(socket.SOCK_DGRAM)
    command = [sys.executable, __file__, "--port", str(port), "--seconds", str(seconds + 30)]
    server = subprocess.Popen([*command, "--tuned"] if tuned else command)
    try:
        await asyncio.sleep(1.0)  # let it bind: aiocoap has no readiness signal
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--tuned", action="store_true", help="with fota's tuning of its LwM2M endpoint")
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.seconds, tuned=args.tuned))
