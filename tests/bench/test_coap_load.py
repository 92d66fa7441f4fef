"""The benchmarks' CoAP load generator writes what aiocoap reads as the intended GETs, and measures a real aiocoap
server over loopback: every request answered, block numbers in turn, and nothing taken for a retransmission."""

from __future__ import annotations

import asyncio
import socket

import aiocoap
from aiocoap import resource

from bench import coap_load
from tests.conftest import _free_port


def test_datagrams_decode_as_the_get_they_stand_for() -> None:
    plain = aiocoap.Message.decode(coap_load.get_datagram(7, ("x",)))
    assert (plain.mtype, plain.code, plain.mid, plain.token) == (aiocoap.CON, aiocoap.GET, 7, b"\x00\x07")
    assert plain.opt.uri_path == ("x",) and plain.opt.block2 is None

    token = "t" * 300  # longer than one length byte: the two-byte extension
    block = aiocoap.Message.decode(coap_load.get_datagram(65535, ("fw", token), (1000, 5)))
    assert block.opt.uri_path == ("fw", token)
    assert (block.opt.block2.block_number, block.opt.block2.size_exponent, block.opt.block2.more) == (1000, 5, False)
    first = aiocoap.Message.decode(coap_load.get_datagram(1, ("fw", "a"), (0, 5)))
    assert first.opt.block2.block_number == 0  # the option with an empty value


class Numbered(resource.Resource):  # type: ignore[misc]
    """Answers each GET with 512 bytes; records the block numbers asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[int] = []

    async def needs_blockwise_assembly(self, request: aiocoap.Message) -> bool:
        return False

    async def render_get(self, request: aiocoap.Message) -> aiocoap.Message:
        self.asked.append(request.opt.block2.block_number if request.opt.block2 is not None else -1)
        return aiocoap.Message(payload=b"x" * 512)


def test_it_drives_a_real_server_with_every_request_answered() -> None:
    async def scenario() -> tuple[coap_load.Load, list[int], coap_load.Load]:
        numbered = Numbered()
        site = resource.Site()
        site.add_resource(["fw", "a"], numbered)
        site.add_resource(["x"], Numbered())
        port = _free_port(socket.SOCK_DGRAM)
        server = await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", port), transports=["udp6"])
        try:
            blocks = await coap_load.drive(port, paths=[("fw", "a")], blocks=4, seconds=0.3, warm_up=0.1)
            plain = await coap_load.drive(port, paths=[("x",)] * 8, seconds=0.3, warm_up=0.1)
            return blocks, numbered.asked, plain
        finally:
            await server.shutdown()

    blocks, asked, plain = asyncio.run(scenario())
    assert blocks.ok > 8 and blocks.errors == 0 and len(blocks.latencies) == blocks.ok
    assert asked[:9] == [0, 1, 2, 3, 0, 1, 2, 3, 0]  # block after block, then again from the first
    assert plain.ok > 8 and plain.errors == 0 and plain.per_minute > 0
