"""The LwM2M server renders each CoAP request in a task with a constant name (not one formatted from the request),
and still answers a failing resource with a CoAP error. Over real loopback CoAP."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiocoap
from aiocoap import resource

from fota import runtime
from fota.adapters.lwm2m.render_tasks import RENDER_TASK_NAME, name_render_tasks_plainly
from tests.conftest import _free_port
from tests.lwm2m.harness import loopback_lwm2m_server


class TaskName(resource.Resource):  # type: ignore[misc]
    """Answers with the name of the task it is rendered in."""

    async def render_get(self, request: aiocoap.Message) -> aiocoap.Message:
        task = asyncio.current_task()
        assert task is not None
        return aiocoap.Message(payload=task.get_name().encode())


class Broken(resource.Resource):  # type: ignore[misc]
    async def render_get(self, request: aiocoap.Message) -> aiocoap.Message:
        raise RuntimeError("a bug in a handler")


def _site() -> resource.Site:
    site = resource.Site()
    site.add_resource(["name"], TaskName())
    site.add_resource(["broken"], Broken())
    return site


async def _get(port: int, path: str) -> aiocoap.Message:
    client = await aiocoap.Context.create_client_context(transports=["udp6"])
    try:
        request = aiocoap.Message(code=aiocoap.GET, uri=f"coap://127.0.0.1:{port}/{path}")
        response: aiocoap.Message = await client.request(request).response
        return response
    finally:
        await client.shutdown()


def test_a_request_is_rendered_in_a_task_of_a_constant_name_and_a_failing_one_still_gets_an_error() -> None:
    async def scenario(plain: bool) -> tuple[bytes, aiocoap.Code]:
        port = _free_port(socket.SOCK_DGRAM)
        server = await aiocoap.Context.create_server_context(_site(), bind=("127.0.0.1", port), transports=["udp6"])
        if plain:
            name_render_tasks_plainly(server)
        try:
            named = await _get(port, "name")
            broken = await _get(port, "broken")
            return named.payload, broken.code
        finally:
            await server.shutdown()

    default_name, default_error = asyncio.run(scenario(plain=False))
    assert default_name.startswith(b"Rendering for <aiocoap.Message")  # what the change avoids: a repr per request
    assert asyncio.run(scenario(plain=True)) == (RENDER_TASK_NAME.encode(), default_error)
    assert default_error == aiocoap.INTERNAL_SERVER_ERROR


def test_the_lwm2m_server_names_its_render_tasks_plainly(tmp_path: Path) -> None:
    process = runtime.build(
        runtime.Settings(database_url=f"sqlite:///{tmp_path / 'fota.db'}", simulated_clock=True, coap_port=None)
    )

    async def rendered_in() -> bytes:
        port = _free_port(socket.SOCK_DGRAM)
        server = loopback_lwm2m_server(process.services, port=port, coaps_port=0)
        await server.start()
        try:
            assert server.context is not None
            server.context.serversite = _site()  # looked up for each request, after the task is named
            return (await _get(port, "name")).payload
        finally:
            await server.stop()

    try:
        assert asyncio.run(rendered_in()) == RENDER_TASK_NAME.encode()
    finally:
        process.engine.dispose()
