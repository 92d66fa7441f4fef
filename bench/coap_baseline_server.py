"""A trivial aiocoap server for bench/dispatch.py's baseline: one resource answering GET with a few bytes.

Run as its own process, like `fota serve`, so the baseline client and server compete for the same 2 cores the
dispatch run's simulated fleet and server do.
"""

from __future__ import annotations

import argparse
import asyncio

import aiocoap
import aiocoap.resource as resource


class Constant(resource.Resource):
    async def render_get(self, request: aiocoap.Message) -> aiocoap.Message:
        return aiocoap.Message(payload=b"ok")


async def serve(port: int, seconds: float) -> None:
    site = resource.Site()
    site.add_resource(["x"], Constant())
    context = await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", port))
    # Bounded: the server exits on its own even if the benchmark that started it dies.
    await asyncio.sleep(seconds)
    await context.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=300)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.seconds))
