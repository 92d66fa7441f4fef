"""The LwM2M endpoint remembers answered requests for 67 s, not aiocoap's default 247 s, over real loopback CoAP."""

from __future__ import annotations

import asyncio
import functools
import socket

import aiocoap
from aiocoap import resource

from fota.adapters.lwm2m.udp_tuning import RECEIVE_BUFFER_BYTES, tune_udp


class Block(resource.Resource):  # type: ignore[misc]
    async def render_get(self, request: aiocoap.Message) -> aiocoap.Message:
        return aiocoap.Message(payload=b"x" * 512)


def _remembered(context: aiocoap.Context) -> list[float]:
    """Seconds until each remembered answer of the server is forgotten (aiocoap 0.4.17 internals)."""
    loop = asyncio.get_running_loop()
    recent = context.request_interfaces[0].token_interface._recent_messages
    return [
        handle.when() - loop.time()
        for handle in loop._scheduled  # type: ignore[attr-defined]
        if isinstance(handle._callback, functools.partial) and handle._callback.func == recent.pop
    ]


async def _serve_one_request(tuned: bool) -> tuple[list[float], aiocoap.Context]:
    site = resource.Site()
    site.add_resource(["block"], Block())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", port), transports=["udp6"])
    if tuned:
        tune_udp(server)
    client = await aiocoap.Context.create_client_context(transports=["udp6"])
    try:
        response = await client.request(
            aiocoap.Message(code=aiocoap.GET, uri=f"coap://127.0.0.1:{port}/block")
        ).response
        assert response.payload == b"x" * 512
        return _remembered(server), server
    finally:
        await client.shutdown()
        await server.shutdown()


def test_answers_are_remembered_for_the_server_window_not_the_rfc_default() -> None:
    default, _ = asyncio.run(_serve_one_request(tuned=False))
    tuned, _ = asyncio.run(_serve_one_request(tuned=True))
    assert len(default) == 1 and 240 < default[0] <= 247
    assert len(tuned) == 1 and 60 < tuned[0] <= 67


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
