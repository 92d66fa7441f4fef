"""Pull downloads by hand-written datagrams (simulator/datagram_blocks.py) behave as the aiocoap path does, over real
loopback UDP: each case runs both ways against an aiocoap server, through a relay that records (and may lose) every
datagram, so what went over the wire is checked too. A scripted peer pins the message layer's corner cases.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import aiocoap
import pytest
from aiocoap import resource
from aiocoap.numbers.types import Type
from aiocoap.optiontypes import BlockOption

from fota.simulator import datagram_blocks
from fota.simulator.datagram_blocks import DatagramBlocks, ExchangeFailed
from fota.simulator.firmware import Delivery, FirmwareUpdate, Protocol, Result, State
from fota.simulator.package import build_image
from fota.simulator.waiting import wait_until

T = TypeVar("T")
IMAGE = build_image("2.0.0", 3000, seed=11)
BLOCK = 256
BLOCKS = -(-len(IMAGE) // BLOCK)
WAYS = pytest.mark.parametrize("datagram", [False, True], ids=["aiocoap", "datagrams"])


def run(scenario: Callable[[], Awaitable[T]], timeout: float = 60.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(scenario(), timeout)

    return asyncio.run(bounded())


# --- the server side: an image resource with knobs, and a relay in front of it ----------------------------------


class Image(resource.Resource):  # type: ignore[misc]
    """The image by Block2, sliced here; knobs make it slow (a separate response), busy, or change its ETag."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[int, int]] = []  # (block number, size) of every GET
        self.slow: set[int] = set()  # blocks answered after aiocoap's empty-ACK delay
        self.busy: dict[int, int] = {}  # block -> how many more times to answer 5.03 with Max-Age 1
        self.new_etag_from: int | None = None  # from this block on the image is another one
        self.szx: int | None = None  # the block size the server prefers, if smaller than asked

    async def needs_blockwise_assembly(self, request: aiocoap.Message) -> bool:
        return False

    async def render_get(self, request: aiocoap.Message) -> aiocoap.Message:
        block = request.opt.block2 or BlockOption.BlockwiseTuple(0, False, 6)
        if self.szx is not None and self.szx < block.size_exponent:
            block = BlockOption.BlockwiseTuple(block.start >> (self.szx + 4), False, self.szx)
        self.asked.append((block.block_number, block.size))
        if block.block_number in self.slow:
            await asyncio.sleep(0.4)  # past EMPTY_ACK_DELAY (0.1 s): aiocoap sends an empty ACK first
        if self.busy.get(block.block_number, 0) > 0:
            self.busy[block.block_number] -= 1
            return aiocoap.Message(code=aiocoap.SERVICE_UNAVAILABLE, max_age=1, payload=b"busy")
        more = block.start + block.size < len(IMAGE)
        response = aiocoap.Message(code=aiocoap.CONTENT, payload=IMAGE[block.start : block.start + block.size])
        response.opt.block2 = BlockOption.BlockwiseTuple(block.block_number, more, block.size_exponent)
        changed = self.new_etag_from is not None and block.block_number >= self.new_etag_from
        response.opt.etag = b"image-2" if changed else b"image-1"
        return response


class _Side(asyncio.DatagramProtocol):
    def __init__(self, received: Callable[[bytes, Any], None]) -> None:
        self.received = received
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.received(data, addr)


@dataclass
class Relay:
    """A UDP hop between one client and the server: records every datagram decoded, with its direction ("up" to the
    server, "down" to the client), and passes it on unless `drop` picks it."""

    drop: Callable[[str, aiocoap.Message], bool] = lambda direction, message: False
    seen: list[tuple[str, aiocoap.Message]] = field(default_factory=list)
    dropped: list[tuple[str, aiocoap.Message]] = field(default_factory=list)
    port: int = 0
    _client: Any = None
    _front: _Side | None = None
    _back: _Side | None = None

    async def start(self, server_port: int) -> None:
        loop = asyncio.get_running_loop()
        _, self._front = await loop.create_datagram_endpoint(
            lambda: _Side(self._from_client), local_addr=("127.0.0.1", 0)
        )
        _, self._back = await loop.create_datagram_endpoint(
            lambda: _Side(self._from_server), remote_addr=("127.0.0.1", server_port)
        )
        assert self._front.transport is not None
        self.port = self._front.transport.get_extra_info("sockname")[1]

    def close(self) -> None:
        for side in (self._front, self._back):
            if side is not None and side.transport is not None:
                side.transport.close()

    def _passes(self, direction: str, data: bytes) -> bool:
        message = aiocoap.Message.decode(data)
        self.seen.append((direction, message))
        if self.drop(direction, message):
            self.dropped.append((direction, message))
            return False
        return True

    def _from_client(self, data: bytes, addr: Any) -> None:
        self._client = addr
        if self._passes("up", data) and self._back is not None and self._back.transport is not None:
            self._back.transport.sendto(data)

    def _from_server(self, data: bytes, addr: Any) -> None:
        if self._passes("down", data) and self._front is not None and self._front.transport is not None:
            self._front.transport.sendto(data, self._client)

    def requests(self) -> list[aiocoap.Message]:
        return [m for d, m in self.seen if d == "up" and m.code == aiocoap.GET]

    def of(self, direction: str, mtype: Type, *, empty: bool) -> list[aiocoap.Message]:
        return [m for d, m in self.seen if d == direction and m.mtype == mtype and (m.code == aiocoap.EMPTY) == empty]


@dataclass
class Scene:
    image: Image
    relay: Relay
    firmware: FirmwareUpdate
    events: list[tuple[str, str]]

    @property
    def uri(self) -> str:
        return f"coap://127.0.0.1:{self.relay.port}/fw"

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]

    async def wait(self, predicate: Callable[[FirmwareUpdate], bool], what: str, timeout: float = 30.0) -> None:
        await wait_until(lambda: predicate(self.firmware), timeout, what=what)


@contextlib.asynccontextmanager
async def scene(
    datagram: bool, *, drop: Callable[[str, aiocoap.Message], bool] | None = None, **firmware: Any
) -> AsyncIterator[Scene]:
    """An aiocoap server with the image at /fw, a relay in front of it, and a Firmware Update object that downloads
    with datagrams or with an aiocoap client context of its own."""
    image = Image()
    site = resource.Site()
    site.add_resource(("fw",), image)
    server = await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", 0), transports=["udp6"])
    interface = server.request_interfaces[0].token_interface.message_interface
    relay = Relay() if drop is None else Relay(drop=drop)
    await relay.start(interface.transport.get_extra_info("socket").getsockname()[1])
    client = None if datagram else await aiocoap.Context.create_client_context()
    events: list[tuple[str, str]] = []

    def context() -> aiocoap.Context:
        assert client is not None, "the datagram path used the aiocoap context"
        return client

    update = FirmwareUpdate(
        protocols=(Protocol.COAP,),
        delivery=Delivery.PULL,
        block_size=BLOCK,
        faults=(),
        coap_context=context,
        on_change=lambda paths: None,
        on_execute=lambda: None,
        record=lambda kind, detail: events.append((kind, detail)),
        datagram_downloads=datagram,
        **{"transfer_timeout": 30.0, **firmware},
    )
    try:
        yield Scene(image, relay, update, events)
    finally:
        await update.close()
        if client is not None:
            await client.shutdown()
        relay.close()
        await server.shutdown()


def failure(s: Scene) -> str:
    return next(detail for kind, detail in s.events if kind == "download-failed")


# --- the same behaviour both ways ------------------------------------------------------------------------------------


@WAYS
def test_piggybacked_blocks_verify_and_stage_the_image(datagram: bool) -> None:
    async def scenario() -> None:
        async with scene(datagram) as s:
            s.firmware.write_package_uri(s.uri)
            await s.wait(lambda f: f.state == State.DOWNLOADED, "the image staged")
            assert s.firmware.result == Result.INITIAL and s.firmware.pkg_version == "2.0.0"
            assert s.image.asked == [(n, BLOCK) for n in range(BLOCKS)]
            assert s.firmware.received == len(IMAGE)
            assert s.kinds() == ["fu-state", "download-start", "download-done", "fu-state"]
            requests = s.relay.requests()
            assert [r.opt.block2.block_number for r in requests] == list(range(BLOCKS))
            assert {(r.mtype, tuple(r.opt.uri_path), r.opt.block2.size_exponent) for r in requests} == {
                (aiocoap.CON, ("fw",), BLOCK.bit_length() - 5)
            }
            assert len({r.mid for r in requests}) == len({r.token for r in requests}) == BLOCKS

    run(scenario)


@WAYS
def test_a_smaller_block_size_chosen_by_the_server_is_followed(datagram: bool) -> None:
    async def scenario() -> None:
        async with scene(datagram) as s:
            s.image.szx = 3  # 128 bytes
            s.firmware.write_package_uri(s.uri)
            await s.wait(lambda f: f.state == State.DOWNLOADED, "the image staged")
            sizes = [r.opt.block2.size for r in s.relay.requests()]
            assert sizes[0] == BLOCK and set(sizes[1:]) == {128}
            assert s.firmware.received == len(IMAGE)

    run(scenario)


@WAYS
def test_separate_responses_are_taken_and_acknowledged(datagram: bool) -> None:
    """A slow block: aiocoap's server acknowledges the request empty, then sends the response as a CON of its own,
    which the client must acknowledge with that message's ID (or the server would send it again)."""

    async def scenario() -> None:
        async with scene(datagram) as s:
            s.image.slow = {1, 4}
            s.firmware.write_package_uri(s.uri)
            await s.wait(lambda f: f.state == State.DOWNLOADED, "the image staged")
            assert s.firmware.received == len(IMAGE)
            assert len(s.relay.of("down", aiocoap.ACK, empty=True)) == 2
            separate = s.relay.of("down", aiocoap.CON, empty=False)
            assert [m.opt.block2.block_number for m in separate] == [1, 4]
            await wait_until(
                lambda: len(s.relay.of("up", aiocoap.ACK, empty=True)) >= 2, 5, what="the separate responses ACKed"
            )
            assert [m.mid for m in s.relay.of("up", aiocoap.ACK, empty=True)] == [m.mid for m in separate]

    run(scenario)


@WAYS
def test_a_busy_server_is_waited_out_for_its_max_age_within_the_budget(datagram: bool) -> None:
    async def scenario() -> None:
        async with scene(datagram) as s:
            s.image.busy = {2: 1}
            s.firmware.write_package_uri(s.uri)
            await s.wait(lambda f: f.state == State.DOWNLOADED, "the image staged")
            assert [detail for kind, detail in s.events if kind == "download-busy"] == [
                "5.03 at block 2; retrying in 1s"
            ]
            assert [n for n, _ in s.image.asked].count(2) == 2
            assert s.firmware.received == len(IMAGE)

        async with scene(datagram, busy_budget=0.5) as s:
            s.image.busy = {0: 5}
            s.firmware.write_package_uri(s.uri)
            await s.wait(lambda f: f.result == Result.CONNECTION_LOST, "the download given up")
            assert s.firmware.state == State.IDLE and s.image.asked == [(0, BLOCK)]
            assert "5.03 for too long" in failure(s)

    run(scenario)


@WAYS
def test_an_etag_change_mid_download_is_a_lost_connection(datagram: bool) -> None:
    async def scenario() -> None:
        async with scene(datagram) as s:
            s.image.new_etag_from = 3
            s.firmware.write_package_uri(s.uri)
            await s.wait(lambda f: f.result == Result.CONNECTION_LOST, "the download failed")
            assert s.firmware.state == State.IDLE and "ETag" in failure(s)
            assert s.firmware.received == 3 * BLOCK  # the block of the other image is not taken

    run(scenario)


@WAYS
def test_not_found_and_a_bad_port_are_invalid_uris(datagram: bool) -> None:
    async def scenario() -> None:
        async with scene(datagram) as s:
            s.firmware.write_package_uri(s.uri + "/none")
            await s.wait(lambda f: f.result == Result.INVALID_URI, "4.04 taken as an invalid URI")
            assert "answered 4.04" in failure(s)
            assert [tuple(r.opt.uri_path) for r in s.relay.requests()] == [("fw", "none")]
        async with scene(datagram) as s:
            s.firmware.write_package_uri("coap://127.0.0.1:99999/fw")
            await s.wait(lambda f: f.result == Result.INVALID_URI, "a port out of range taken as an invalid URI")

    run(scenario)


@WAYS
def test_lost_requests_and_responses_are_retransmitted(datagram: bool) -> None:
    """The first request for block 2 and the first response to block 5 are lost on the way: the client sends the
    same message again (same message ID and token) after ACK_TIMEOUT, and the download completes."""
    lost: set[tuple[str, int]] = set()

    def drop(direction: str, message: aiocoap.Message) -> bool:
        if message.opt.block2 is None:
            return False
        number = message.opt.block2.block_number
        wanted = (direction == "up" and number == 2) or (direction == "down" and number == 5)
        if wanted and (direction, number) not in lost:
            lost.add((direction, number))
            return True
        return False

    async def scenario() -> None:
        async with scene(datagram, drop=drop) as s:
            s.firmware.write_package_uri(s.uri)
            await s.wait(lambda f: f.state == State.DOWNLOADED, "the image staged")
            assert len(s.relay.dropped) == 2
            requests = s.relay.requests()
            for number in (2, 5):
                sent = [(r.mid, r.token) for r in requests if r.opt.block2.block_number == number]
                assert len(sent) == 2 and sent[0] == sent[1], f"block {number}: {sent}"
            assert len(requests) == BLOCKS + 2
            assert s.firmware.received == len(IMAGE)

    run(scenario)


# --- the datagram path's own message layer ---------------------------------------------------------------------------


def test_no_acknowledgement_gives_up_after_max_retransmit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that never answers: the request goes out 1 + MAX_RETRANSMIT times, then Update Result 4."""
    monkeypatch.setattr(datagram_blocks, "ACK_TIMEOUT", 0.05)

    async def scenario() -> None:
        async with scene(True) as s, silent_peer() as peer:
            s.firmware.write_package_uri(f"coap://127.0.0.1:{peer.port}/fw")
            await s.wait(lambda f: f.result == Result.CONNECTION_LOST, "the download given up")
            assert s.firmware.state == State.IDLE and "retransmissions" in failure(s)
            assert len(peer.received) == 1 + datagram_blocks.MAX_RETRANSMIT
            assert len(set(peer.received)) == 1  # the same datagram every time
            assert s.firmware.received == 0

    run(scenario)


@dataclass
class ScriptedPeer:
    """A raw UDP endpoint the test answers by hand."""

    received: list[bytes] = field(default_factory=list)
    queue: asyncio.Queue[tuple[bytes, Any]] = field(default_factory=asyncio.Queue)
    side: _Side | None = None
    port: int = 0

    def send(self, data: bytes, addr: Any) -> None:
        assert self.side is not None and self.side.transport is not None
        self.side.transport.sendto(data, addr)

    async def next(self) -> tuple[aiocoap.Message, Any]:
        data, addr = await asyncio.wait_for(self.queue.get(), 5)
        return aiocoap.Message.decode(data), addr


@contextlib.asynccontextmanager
async def silent_peer() -> AsyncIterator[ScriptedPeer]:
    peer = ScriptedPeer()

    def received(data: bytes, addr: Any) -> None:
        peer.received.append(data)
        peer.queue.put_nowait((data, addr))

    _, peer.side = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: _Side(received), local_addr=("127.0.0.1", 0)
    )
    assert peer.side.transport is not None
    peer.port = peer.side.transport.get_extra_info("sockname")[1]
    try:
        yield peer
    finally:
        peer.side.transport.close()


def _encode(mtype: Type, code: aiocoap.Code, mid: int, token: bytes, *, block: int | None = None) -> bytes:
    message = aiocoap.Message(code=code, payload=b"x" * 16 if block is not None else b"")
    message.mtype, message.mid, message.token = mtype, mid, token
    if block is not None:
        message.opt.block2 = BlockOption.BlockwiseTuple(block, True, 0)
        message.opt.etag = b"e"
    return cast(bytes, message.encode())


def test_the_message_layer_against_a_scripted_peer() -> None:
    """Separate response ACKed with its own message ID, its duplicate ACKed again, an unknown response and a ping
    reset, late answers to an older request ignored, and a reset request failing the block."""

    async def scenario() -> None:
        async with silent_peer() as peer:
            blocks = await DatagramBlocks(f"coap://127.0.0.1:{peer.port}/fw/a%2Fb?x=1", timeout=10.0).open()
            try:
                pending = asyncio.ensure_future(blocks.get(0, 0))
                request, addr = await peer.next()
                assert (request.mtype, request.code, request.opt.uri_host) == (aiocoap.CON, aiocoap.GET, None)
                assert (tuple(request.opt.uri_path), tuple(request.opt.uri_query)) == (("fw", "a/b"), ("x=1",))
                assert request.opt.block2 == BlockOption.BlockwiseTuple(0, False, 0)
                peer.send(_encode(aiocoap.ACK, aiocoap.EMPTY, request.mid, b""), addr)
                separate = _encode(aiocoap.CON, aiocoap.CONTENT, 0x1234, request.token, block=0)
                peer.send(separate, addr)
                ack, _ = await peer.next()
                assert (ack.mtype, ack.code, ack.mid, ack.token) == (aiocoap.ACK, aiocoap.EMPTY, 0x1234, b"")
                reply = await pending
                assert (reply.code, reply.payload, reply.etag, reply.max_age) == (
                    aiocoap.CONTENT,
                    b"x" * 16,
                    b"e",
                    None,
                )
                assert reply.block2 == BlockOption.BlockwiseTuple(0, True, 0)

                peer.send(separate, addr)  # the ACK was lost, as far as the peer knows: ACKed again
                again, _ = await peer.next()
                assert (again.mtype, again.mid) == (aiocoap.ACK, 0x1234)
                peer.send(_encode(aiocoap.CON, aiocoap.CONTENT, 0x2000, b"unknown!", block=0), addr)
                reset, _ = await peer.next()
                assert (reset.mtype, reset.code, reset.mid) == (aiocoap.RST, aiocoap.EMPTY, 0x2000)
                peer.send(_encode(aiocoap.CON, aiocoap.EMPTY, 0x2001, b""), addr)  # CoAP ping
                pong, _ = await peer.next()
                assert (pong.mtype, pong.mid) == (aiocoap.RST, 0x2001)

                pending = asyncio.ensure_future(blocks.get(1, 0))
                second, _ = await peer.next()
                assert second.mid != request.mid and second.token != request.token
                # A late piggybacked answer to the first request is not an answer to this one.
                peer.send(_encode(aiocoap.ACK, aiocoap.CONTENT, request.mid, request.token, block=0), addr)
                peer.send(struct.pack("!BBH", 0x70, 0, second.mid), addr)  # RST of the request in flight
                with pytest.raises(ExchangeFailed, match="reset"):
                    await pending
            finally:
                blocks.close()

    run(scenario)


def test_a_host_name_goes_in_uri_host_and_the_path_is_percent_decoded() -> None:
    host, port, options, last = datagram_blocks.request_options("coap://fw.example.com/fw/a%2Fb/?x=1&y")
    assert (host, port, last) == ("fw.example.com", datagram_blocks.DEFAULT_PORT, 15)
    decoded = aiocoap.Message.decode(struct.pack("!BBH", 0x40, 1, 1) + options)
    assert decoded.opt.uri_host == "fw.example.com"
    assert (tuple(decoded.opt.uri_path), tuple(decoded.opt.uri_query)) == (("fw", "a/b", ""), ("x=1", "y"))
    with pytest.raises(ValueError):
        datagram_blocks.request_options("coaps://127.0.0.1/fw")
