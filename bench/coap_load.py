"""A CoAP GET load generator that is cheap enough not to be the bottleneck: confirmable GETs written as datagrams by
hand, one socket per concurrent request, no CoAP library on this side.

aiocoap's own client costs more per request than its server (a task, a named runner and several futures a request),
so a baseline driven by it measured the client. Here a request is 8 bytes built from a template and a reply is
read from its first four bytes, so the server being measured is what limits the rate.

Each socket stands for one client endpoint with its own message IDs, as a device has: 16 bits of message ID at
a socket's share of the rate last far longer than the server's de-duplication window, so no request is ever taken
for a retransmission and answered from memory.
"""

from __future__ import annotations

import asyncio
import struct
import time
from dataclasses import dataclass, field
from functools import partial
from typing import cast

from fota.adapters.lwm2m.codec import datagrams as wire

# CoAP version 1, confirmable, token length 2 (RFC 7252 3); GET; options Uri-Path (11) and Block2 (23, RFC 7959).
TIMEOUT_SECONDS = 2.0  # a request unanswered this long counts as an error and its socket sends the next


def get_datagram(mid: int, path: tuple[str, ...], block2: tuple[int, int] | None = None) -> bytes:
    """A confirmable GET of `/path[0]/path[1]...` with message ID and token `mid`; `block2`: (block number, SZX)."""
    options = [(wire.URI_PATH, segment.encode()) for segment in path]
    if block2 is not None:
        options.append((wire.BLOCK2, wire.uint(wire.block_value(block2[0], False, block2[1]))))
    return wire.header_bytes(wire.CON, wire.GET, mid, mid.to_bytes(2, "big")) + wire.encoded_options(options)


@dataclass
class Load:
    ok: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def per_minute(self) -> float:
        return self.ok / self.seconds * 60 if self.seconds else 0.0


class _Endpoint(asyncio.DatagramProtocol):
    """One client endpoint: one GET in flight, the next sent as soon as the last is answered or timed out. With
    `blocks`, it reads blocks 0 to blocks - 1 of its path in turn (512 bytes each), then starts again."""

    def __init__(self, path: tuple[str, ...], blocks: int, load: Load, counting: list[bool]) -> None:
        self.path = path
        self.blocks = blocks
        self.load = load
        self.counting = counting
        self.transport: asyncio.DatagramTransport | None = None
        self.mid = 0
        self.block = 0
        self.sent_at = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        self.send()

    def send(self) -> None:
        self.mid = (self.mid + 1) & 0xFFFF
        self.sent_at = time.perf_counter()
        block2 = (self.block, 5) if self.blocks else None
        assert self.transport is not None
        self.transport.sendto(get_datagram(self.mid, self.path, block2))

    def datagram_received(self, data: bytes, addr: object) -> None:
        if len(data) < 4 or (data[0] >> 4) & 0x3 != wire.ACK or struct.unpack_from("!H", data, 2)[0] != self.mid:
            return  # not the answer to the request in flight (a late one, or an empty ACK)
        answered = data[1] == wire.CONTENT
        if self.counting[0]:
            if answered:
                self.load.ok += 1
                self.load.latencies.append(time.perf_counter() - self.sent_at)
            else:
                self.load.errors += 1
        if answered and self.blocks:
            self.block = (self.block + 1) % self.blocks
        self.send()

    def expire(self, now: float) -> None:
        if now - self.sent_at > TIMEOUT_SECONDS:
            if self.counting[0]:
                self.load.errors += 1
            self.send()


async def drive(
    port: int,
    *,
    paths: list[tuple[str, ...]],
    blocks: int = 0,
    seconds: float = 5.0,
    warm_up: float = 1.0,
) -> Load:
    """GETs of `coap://127.0.0.1:port/<path>` from one endpoint per path, all at once, for `seconds` after `warm_up`
    seconds that are not counted; `blocks`: each endpoint reads its path block-wise (see `_Endpoint`)."""
    loop = asyncio.get_running_loop()
    load = Load()
    counting = [False]
    endpoints: list[_Endpoint] = []
    transports: list[asyncio.DatagramTransport] = []
    try:
        for path in paths:
            transport, endpoint = await loop.create_datagram_endpoint(
                partial(_Endpoint, path, blocks, load, counting), remote_addr=("127.0.0.1", port)
            )
            transports.append(transport)
            endpoints.append(endpoint)
        await _run_for(endpoints, warm_up)
        counting[0] = True
        started = time.perf_counter()
        await _run_for(endpoints, seconds)
        load.seconds = time.perf_counter() - started
        counting[0] = False
    finally:
        for transport in transports:
            transport.close()
    return load


async def _run_for(endpoints: list[_Endpoint], seconds: float) -> None:
    end = time.perf_counter() + seconds
    while (now := time.perf_counter()) < end:
        for endpoint in endpoints:
            endpoint.expire(now)
        await asyncio.sleep(min(0.25, max(0.0, end - now)))
