"""The LwM2M endpoint remembers answered requests for 67 s, not aiocoap's default 247 s, and reads not at all: a
retransmitted GET is answered again, but a copy that arrives while the first is being answered is dropped; on plain
CoAP and on coaps alike. Over real loopback CoAP."""

from __future__ import annotations

import asyncio
import functools
import socket
from pathlib import Path

import aiocoap
import pytest
from aiocoap import resource

from fota import runtime
from fota.adapters.lwm2m.udp_tuning import RECEIVE_BUFFER_BYTES, ReadsInProgress, ReadTuning, tune_udp
from tests.conftest import _free_port
from tests.lwm2m.harness import loopback_lwm2m_server


class Block(resource.Resource):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.served = 0

    async def render_get(self, request: aiocoap.Message) -> aiocoap.Message:
        self.served += 1
        return aiocoap.Message(payload=b"x" * 512)

    async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
        return aiocoap.Message(code=aiocoap.CHANGED)


def _remembered(context: aiocoap.Context) -> list[float]:
    """Seconds until each remembered answer of the server is forgotten (aiocoap 0.4.17 internals)."""
    loop = asyncio.get_running_loop()
    recent = context.request_interfaces[0].token_interface._recent_messages
    return [
        handle.when() - loop.time()
        for handle in loop._scheduled  # type: ignore[attr-defined]
        if isinstance(handle._callback, functools.partial) and handle._callback.func == recent.pop
    ]


async def _block_server(block: Block, *, tuned: bool) -> tuple[aiocoap.Context, int]:
    """A server of `block` at /block on a free loopback port, with fota's tuning or aiocoap's defaults."""
    site = resource.Site()
    site.add_resource(["block"], block)
    port = _free_port(socket.SOCK_DGRAM)
    server = await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", port), transports=["udp6"])
    if tuned:
        tune_udp(server)
    return server, port


async def _serve_one_request(tuned: bool, code: aiocoap.Code = aiocoap.POST) -> list[float]:
    server, port = await _block_server(Block(), tuned=tuned)
    client = await aiocoap.Context.create_client_context(transports=["udp6"])
    try:
        response = await client.request(aiocoap.Message(code=code, uri=f"coap://127.0.0.1:{port}/block")).response
        assert response.code.is_successful()
        await asyncio.sleep(0)  # a forgetting that is due at once runs
        return _remembered(server)
    finally:
        await client.shutdown()
        await server.shutdown()


def test_answers_are_remembered_for_the_server_window_not_the_rfc_default() -> None:
    default = asyncio.run(_serve_one_request(tuned=False))
    tuned = asyncio.run(_serve_one_request(tuned=True))
    assert len(default) == 1 and 240 < default[0] <= 247
    assert len(tuned) == 1 and 60 < tuned[0] <= 67


def test_reads_are_not_remembered_and_a_retransmitted_one_is_answered_again() -> None:
    assert asyncio.run(_serve_one_request(tuned=True, code=aiocoap.GET)) == []

    async def twice() -> tuple[list[bytes], int]:
        block = Block()
        server, port = await _block_server(block, tuned=True)
        request = aiocoap.Message(code=aiocoap.GET, uri_path=("block",))
        request.mtype, request.mid, request.token = aiocoap.CON, 4242, b"t1"  # as a device's own stack sets them
        loop = asyncio.get_running_loop()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as device:
            device.bind(("127.0.0.1", 0))
            device.setblocking(False)
            answers = []
            try:
                for _ in range(2):  # the same message ID: a retransmission whose answer was lost
                    await loop.sock_sendto(device, request.encode(), ("127.0.0.1", port))
                    answers.append(await asyncio.wait_for(loop.sock_recv(device, 2048), 10))
            finally:
                await server.shutdown()
        return answers, block.served

    answers, served = asyncio.run(twice())
    decoded = [aiocoap.Message.decode(a) for a in answers]
    assert [(m.mid, m.mtype, m.payload) for m in decoded] == [(4242, aiocoap.ACK, b"x" * 512)] * 2
    assert served == 2


class HeldBlock(resource.Resource):  # type: ignore[misc]
    """A block read that is answered only once the test releases it."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = 0
        self.release = asyncio.Event()

    async def render_get(self, request: aiocoap.Message) -> aiocoap.Message:
        self.entered += 1
        await self.release.wait()
        return aiocoap.Message(payload=b"y" * 512)


def test_a_copy_of_a_read_still_being_answered_is_dropped_and_one_after_its_answer_is_served(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No empty ACK while the read is held: it would end the read as an answer does, at a moment of aiocoap's timer.
    monkeypatch.setattr(ReadTuning, "EMPTY_ACK_DELAY", 3600.0)

    async def scenario() -> tuple[int, list[aiocoap.Message]]:
        held, ping = HeldBlock(), Block()
        site = resource.Site()
        site.add_resource(["held"], held)
        site.add_resource(["ping"], ping)
        port = _free_port(socket.SOCK_DGRAM)
        server = await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", port), transports=["udp6"])
        tune_udp(server)
        loop = asyncio.get_running_loop()

        def con_get(path: str, mid: int) -> bytes:
            request = aiocoap.Message(code=aiocoap.GET, uri_path=(path,))
            request.mtype, request.mid, request.token = aiocoap.CON, mid, mid.to_bytes(2, "big")
            return bytes(request.encode())

        async def receive() -> aiocoap.Message:
            return aiocoap.Message.decode(await asyncio.wait_for(loop.sock_recv(device, 2048), 10))

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as device:
            device.bind(("127.0.0.1", 0))
            device.setblocking(False)
            try:
                await loop.sock_sendto(device, con_get("held", 7), ("127.0.0.1", port))
                while held.entered == 0:
                    await asyncio.sleep(0.01)
                await loop.sock_sendto(device, con_get("held", 7), ("127.0.0.1", port))  # retransmitted meanwhile
                # The socket is read in order: once a later request is answered, the copy has been handled.
                await loop.sock_sendto(device, con_get("ping", 8), ("127.0.0.1", port))
                answers = [await receive()]
                held.release.set()
                answers.append(await receive())
                # Its answer lost, the device sends the read again: it is served again.
                await loop.sock_sendto(device, con_get("held", 7), ("127.0.0.1", port))
                answers.append(await receive())
            finally:
                await server.shutdown()
        return held.entered, answers

    entered, answers = asyncio.run(scenario())
    assert [(m.mid, m.payload[:1]) for m in answers] == [(8, b"x"), (7, b"y"), (7, b"y")]
    assert entered == 2


def test_reads_in_progress_forgets_answered_reads_at_once_and_unanswered_ones_after_the_retransmit_span() -> None:
    now = [100.0]
    reads = ReadsInProgress(monotonic=lambda: now[0])
    assert reads.arrived(("device-a", 1)) is False
    assert reads.arrived(("device-a", 1)) is True  # a copy while it is answered
    assert reads.arrived(("device-b", 1)) is False  # another device's message ID is its own
    reads.answered(("device-a", 1))
    assert reads.arrived(("device-a", 1)) is False  # answered, then sent again: served again
    now[0] += 44.0
    assert reads.arrived(("device-b", 1)) is True
    now[0] += 2.0  # past RFC 7252's MAX_TRANSMIT_SPAN of the first copy: no copy of it can still arrive
    assert reads.arrived(("device-b", 1)) is False
    assert len(reads) == 1  # device-a's second read, never answered, was swept with the span's end


def test_the_receive_buffer_is_enlarged_up_to_the_kernel_cap() -> None:
    async def buffer_size() -> int:
        server = await aiocoap.Context.create_server_context(
            resource.Site(), bind=("127.0.0.1", 0), transports=["udp6"]
        )
        try:
            tune_udp(server)
            messages = server.request_interfaces[0].token_interface.message_interface
            size: int = messages.transport.get_extra_info("socket").getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
            return size
        finally:
            await server.shutdown()

    with open("/proc/sys/net/core/rmem_max") as cap:
        kernel_cap = int(cap.read())
    # Linux doubles the requested size for bookkeeping; the default is far below either figure.
    assert asyncio.run(buffer_size()) >= min(RECEIVE_BUFFER_BYTES, kernel_cap)


def test_the_lwm2m_server_tunes_its_coap_and_coaps_endpoints(tmp_path: Path) -> None:
    """Both of the server's message managers (plain CoAP, and DTLS added after it) de-duplicate with fota's
    tuning: the coaps one was once tuned before its transport existed."""
    process = runtime.build(
        runtime.Settings(
            database_url=f"sqlite:///{tmp_path / 'fota.db'}",
            simulated_clock=True,
            coap_port=None,
            secret_key="a-key-of-sixteen-or-more-characters",  # without one, coaps stays off
        )
    )

    async def tuned_managers() -> list[str]:
        port, coaps_port = _free_port(socket.SOCK_DGRAM), _free_port(socket.SOCK_DGRAM)
        server = loopback_lwm2m_server(process.services, port=port, coaps_port=coaps_port)
        await server.start()
        try:
            assert server.context is not None
            return [
                type(interface.token_interface.message_interface).__module__
                for interface in server.context.request_interfaces
                if interface.token_interface.dispatch_message.__name__ == "dispatch_with_server_tuning"
            ]
        finally:
            await server.stop()

    try:
        tuned = asyncio.run(tuned_managers())
    finally:
        process.engine.dispose()
    assert len(tuned) == 2 and any("dtls" in module for module in tuned), tuned
