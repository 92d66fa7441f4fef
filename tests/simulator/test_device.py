"""Simulated LwM2M devices driven over real CoAP on loopback by a test peer playing the LwM2M server.

The peer only sends what a server would (Register answers, Read, Observe, Write, Execute), so these tests pin the
simulator to the specification rather than to fota's own server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiocoap
import cbor2
import pytest
from aiocoap import resource
from aiocoap.optiontypes import BlockOption

from fota.simulator.device import DeviceConfig, SimulatedDevice
from fota.simulator.faults import Fault, FaultShare, assign_faults
from fota.simulator.firmware import Delivery, Protocol, Result, State
from fota.simulator.fleet import Fleet
from fota.simulator.package import IntegrityFailure, UnsupportedPackage, build_image, parse_image
from fota.simulator.waiting import wait_until

T = TypeVar("T")
IMAGE = build_image("2.0.0", 3000, seed=7)
TLV, TEXT, OPAQUE, LINK, SENML_JSON, SENML_CBOR = 11542, 0, 42, 40, 110, 112


def run(scenario: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(scenario(), timeout)

    return asyncio.run(bounded())


# --- an independent reading of OMA TLV, so the device's encoding is not checked by the codec that produced it -----


def tlv(payload: bytes) -> dict[int, tuple[int, bytes]]:
    """Top-level TLV entries: identifier -> (type bits 7-6, value bytes)."""
    entries: dict[int, tuple[int, bytes]] = {}
    i = 0
    while i < len(payload):
        type_byte = payload[i]
        i += 1
        id_len = 2 if type_byte & 0x20 else 1
        identifier = int.from_bytes(payload[i : i + id_len], "big")
        i += id_len
        length_len = (type_byte >> 3) & 0x03
        if length_len:
            length = int.from_bytes(payload[i : i + length_len], "big")
            i += length_len
        else:
            length = type_byte & 0x07
        entries[identifier] = (type_byte >> 6, payload[i : i + length])
        i += length
    assert i == len(payload), "TLV overran its payload"
    return entries


def tlv_int(payload: bytes) -> int:
    ((_, (kind, value)),) = tlv(payload).items()
    assert kind == 0b11
    return int.from_bytes(value, "big", signed=True)


# --- the test peer: the server side of the conversation ----------------------------------------------------------


@dataclass
class Registration:
    endpoint: str
    query: tuple[str, ...]
    payload: bytes
    content_format: int | None
    host: str
    port: int
    location: str


@dataclass
class Peer:
    """Registration interface, a firmware image served with Block2, and requests a server sends to devices."""

    image: bytes = IMAGE
    registrations: list[Registration] = field(default_factory=list)
    updates: list[str] = field(default_factory=list)
    deregistrations: list[str] = field(default_factory=list)
    update_code: aiocoap.Code = aiocoap.CHANGED
    block_requests: list[tuple[int, int]] = field(default_factory=list)
    busy: dict[int, int] = field(default_factory=dict)  # block number -> how many more times to answer it 5.03
    context: Any = None
    port: int = 0

    @property
    def uri(self) -> str:
        return f"coap://127.0.0.1:{self.port}"

    def of(self, device: SimulatedDevice) -> list[Registration]:
        return [r for r in self.registrations if r.endpoint == device.endpoint]

    async def request(
        self,
        device: SimulatedDevice,
        code: aiocoap.Code,
        path: str,
        *,
        payload: bytes = b"",
        content_format: int | None = None,
        accept: int | None = None,
        mtype: Any = None,
        timeout: float = 5.0,
        block1: tuple[int, bool, int] | None = None,
    ) -> aiocoap.Message:
        """Send to where the device last registered from, as a server does."""
        reg = self.of(device)[-1]
        message = aiocoap.Message(code=code, uri=f"coap://{reg.host}:{reg.port}{path}", payload=payload)
        if mtype is not None:
            message.mtype = mtype
        if content_format is not None:
            message.opt.content_format = content_format
        if accept is not None:
            message.opt.accept = accept
        if block1 is not None:
            message.opt.block1 = BlockOption.BlockwiseTuple(*block1)
        handle_blockwise = block1 is None
        return await asyncio.wait_for(
            self.context.request(message, handle_blockwise=handle_blockwise).response, timeout
        )

    async def observe(self, device: SimulatedDevice, path: str) -> Observed:
        reg = self.of(device)[-1]
        message = aiocoap.Message(code=aiocoap.GET, uri=f"coap://{reg.host}:{reg.port}{path}", observe=0)
        pending = self.context.request(message)
        first = await asyncio.wait_for(pending.response, 5)
        assert first.opt.observe is not None, "the device did not accept the observation"
        observed = Observed(pending, [tlv_int(first.payload)])
        observed.task = asyncio.create_task(observed.collect())
        return observed

    async def push(self, device: SimulatedDevice, data: bytes, block_size: int = 1024) -> list[aiocoap.Message]:
        """Block-wise Write of /5/0/0 that follows a 4.13's preferred size (RFC 7959 §2.9.3)."""
        exponent = block_size.bit_length() - 5
        responses = []
        offset = 0
        while True:
            size = 2 ** (exponent + 4)
            chunk = data[offset : offset + size]
            more = offset + size < len(data)
            response = await self.request(
                device,
                aiocoap.PUT,
                "/5/0/0",
                payload=chunk,
                content_format=OPAQUE,
                block1=(offset // size, more, exponent),
            )
            responses.append(response)
            if response.code == aiocoap.REQUEST_ENTITY_TOO_LARGE and response.opt.block1 is not None:
                exponent = response.opt.block1.size_exponent
                continue
            if not more or response.code != aiocoap.CONTINUE:
                return responses
            offset += size


@dataclass
class Observed:
    pending: Any
    values: list[int]
    task: asyncio.Task[None] | None = None

    async def collect(self) -> None:
        with contextlib.suppress(Exception):
            async for notification in self.pending.observation:
                self.values.append(tlv_int(notification.payload))

    def cancel(self) -> None:
        with contextlib.suppress(Exception):
            self.pending.observation.cancel()
        if self.task is not None:
            self.task.cancel()


class _Register(resource.Resource):  # type: ignore[misc]
    def __init__(self, peer: Peer) -> None:
        super().__init__()
        self.peer = peer

    async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
        query = tuple(request.opt.uri_query)
        endpoint = next(q[3:] for q in query if q.startswith("ep="))
        location = str(len(self.peer.registrations) + 1)
        host, port = request.remote.sockaddr[:2]
        self.peer.registrations.append(
            Registration(
                endpoint,
                query,
                bytes(request.payload),
                request.opt.content_format,
                str(host).removeprefix("::ffff:"),
                int(port),
                f"/rd/{location}",
            )
        )
        return aiocoap.Message(code=aiocoap.CREATED, location_path=("rd", location))


class _Location(resource.Resource, resource.PathCapable):  # type: ignore[misc]
    def __init__(self, peer: Peer) -> None:
        super().__init__()
        self.peer = peer

    async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
        self.peer.updates.append("/rd/" + "/".join(request.opt.uri_path))
        return aiocoap.Message(code=self.peer.update_code)

    async def render_delete(self, request: aiocoap.Message) -> aiocoap.Message:
        self.peer.deregistrations.append("/rd/" + "/".join(request.opt.uri_path))
        return aiocoap.Message(code=aiocoap.DELETED)


class _Image(resource.Resource):  # type: ignore[misc]
    """The image by Block2, sliced here so the test sees every block size the device asks for."""

    def __init__(self, peer: Peer) -> None:
        super().__init__()
        self.peer = peer

    async def needs_blockwise_assembly(self, request: aiocoap.Message) -> bool:
        return False

    async def render_get(self, request: aiocoap.Message) -> aiocoap.Message:
        block = request.opt.block2 or BlockOption.BlockwiseTuple(0, False, 6)
        self.peer.block_requests.append((block.block_number, block.size))
        if self.peer.busy.get(block.block_number, 0) > 0:
            self.peer.busy[block.block_number] -= 1
            return aiocoap.Message(code=aiocoap.SERVICE_UNAVAILABLE, max_age=1, payload=b"busy")
        chunk = self.peer.image[block.start : block.start + block.size]
        more = block.start + block.size < len(self.peer.image)
        response = aiocoap.Message(code=aiocoap.CONTENT, payload=chunk, content_format=OPAQUE)
        response.opt.block2 = BlockOption.BlockwiseTuple(block.block_number, more, block.size_exponent)
        response.opt.etag = b"image-1"
        return response


@contextlib.asynccontextmanager
async def peer_running(image: bytes = IMAGE) -> AsyncIterator[Peer]:
    peer = Peer(image=image)
    site = resource.Site()
    site.add_resource(("rd",), _Register(peer))
    site.add_resource(("rd",), _Location(peer))
    site.add_resource(("fw",), _Image(peer))
    peer.context = await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", 0), transports=["udp6"])
    interface = peer.context.request_interfaces[0].token_interface.message_interface
    peer.port = interface.transport.get_extra_info("socket").getsockname()[1]
    try:
        yield peer
    finally:
        await peer.context.shutdown()


FAST = {
    "checkin_interval": 60.0,
    "reboot_seconds": 0.2,
    "request_timeout": 2.0,
    "transfer_timeout": 2.0,
    "register_retry": 0.2,
    "block_size": 256,
}


@contextlib.asynccontextmanager
async def device_running(peer: Peer, **overrides: Any) -> AsyncIterator[SimulatedDevice]:
    device = SimulatedDevice(DeviceConfig(server=peer.uri, **{**FAST, **overrides}))
    await device.start()
    try:
        await device.wait_for(lambda d: d.registered, 5, "registration")
        yield device
    finally:
        await device.stop()


async def write_uri(peer: Peer, device: SimulatedDevice, uri: str) -> aiocoap.Message:
    return await peer.request(device, aiocoap.PUT, "/5/0/1", payload=uri.encode(), content_format=TEXT)


async def read_int(peer: Peer, device: SimulatedDevice, path: str) -> int:
    return tlv_int((await peer.request(device, aiocoap.GET, path)).payload)


# --- the package format and fault spread -------------------------------------------------------------------------


def test_image_is_deterministic_sized_and_verified() -> None:
    image = build_image("SR1.2.0.0-10657", 2048, seed=3)
    assert len(image) == 2048
    assert image == build_image("SR1.2.0.0-10657", 2048, seed=3) != build_image("SR1.2.0.0-10657", 2048, seed=4)
    assert image.startswith(b"FOTA-SIM-FIRMWARE version=SR1.2.0.0-10657 sha256=")
    assert parse_image(image) == "SR1.2.0.0-10657"
    with pytest.raises(IntegrityFailure) as integrity:
        parse_image(image[:-1] + bytes([image[-1] ^ 1]))
    assert integrity.value.update_result == 5
    with pytest.raises(UnsupportedPackage) as unsupported:
        parse_image(b"\x7fELF" + image)
    assert unsupported.value.update_result == 6
    with pytest.raises(ValueError, match="at least"):
        build_image("1", 10)


def test_faults_are_exclusive_and_deterministic() -> None:
    shares = [FaultShare.parse("corrupt:0.2"), FaultShare.parse("never-returns:0.1")]
    first = assign_faults(50, shares, seed=1)
    assert first == assign_faults(50, shares, seed=1) != assign_faults(50, shares, seed=2)
    assert first.count(Fault.CORRUPT) == 10 and first.count(Fault.NEVER_RETURNS) == 5 and first.count(None) == 35
    assert FaultShare.parse("update-fails") == FaultShare(Fault.UPDATE_FAILS, 1.0)
    with pytest.raises(ValueError, match="unknown fault"):
        FaultShare.parse("explode:0.5")
    with pytest.raises(ValueError, match="more than 1"):
        assign_faults(10, [FaultShare(Fault.CORRUPT, 0.7), FaultShare(Fault.OLD_FIRMWARE, 0.5)])


# --- registration interface --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "queue", "expected"),
    [
        ("1.1", True, ("b=U", "Q")),
        ("1.0", True, ("b=UQ",)),
        ("1.1", False, ("b=U",)),
    ],
)
def test_register_query_and_payload(version: str, queue: bool, expected: tuple[str, ...]) -> None:
    async def scenario() -> None:
        async with peer_running() as peer, device_running(peer, lwm2m_version=version, queue_mode=queue) as device:
            (reg,) = peer.of(device)
            assert reg.endpoint == "urn:imei:350000000000001"
            assert set(reg.query) == {"ep=urn:imei:350000000000001", "lt=300", f"lwm2m={version}", *expected}
            assert reg.payload == b'</>;rt="oma.lwm2m",</1/0>,</3/0>,</5/0>'
            assert reg.content_format == LINK
            assert (reg.host, reg.port) == device.address
            assert device.location == reg.location

    run(scenario)


def test_periodic_update_reregister_on_404_and_deregister_on_stop() -> None:
    async def scenario() -> None:
        async with peer_running() as peer:
            async with device_running(peer, checkin_interval=0.2) as device:
                await wait_until(lambda: len(peer.updates) >= 2, 3, what="two Updates")
                assert set(peer.updates) == {"/rd/1"}
                peer.update_code = aiocoap.NOT_FOUND  # the server lost the registration
                await wait_until(lambda: len(peer.of(device)) == 2, 3, what="a new Register after 4.04")
                peer.update_code = aiocoap.CHANGED
                await device.wait_for(lambda d: d.registered and d.location == "/rd/2", 3)
            assert peer.deregistrations == ["/rd/2"]

    run(scenario)


# --- device management: reads in every format --------------------------------------------------------------------


def test_read_device_object_in_tlv_senml_and_text() -> None:
    async def scenario() -> None:
        async with peer_running() as peer, device_running(peer, make="Acme", model="GM01Q", firmware="SR1") as device:
            response = await peer.request(device, aiocoap.GET, "/3/0")
            assert response.code == aiocoap.CONTENT and response.opt.content_format == TLV
            resources = tlv(response.payload)
            assert resources[0] == (0b11, b"Acme") and resources[1] == (0b11, b"GM01Q")
            assert resources[2] == (0b11, b"350000000000001") and resources[3] == (0b11, b"SR1")

            response = await peer.request(device, aiocoap.GET, "/3/0", accept=SENML_JSON)
            assert response.opt.content_format == SENML_JSON
            records = json.loads(response.payload)
            assert records[0]["bn"] == "/3/0/"
            named = {r["n"]: r.get("vs", r.get("v")) for r in records}
            assert named["0"] == "Acme" and named["1"] == "GM01Q" and named["3"] == "SR1"

            response = await peer.request(device, aiocoap.GET, "/5/0", accept=SENML_CBOR)
            assert response.opt.content_format == SENML_CBOR
            assert isinstance(cbor2.loads(response.payload), list)

            response = await peer.request(device, aiocoap.GET, "/3/0/3", accept=TEXT)
            assert (response.opt.content_format, response.payload) == (TEXT, b"SR1")

            response = await peer.request(device, aiocoap.GET, "/5/0/8")
            assert response.opt.content_format == TLV
            ((_, (kind, instances)),) = tlv(response.payload).items()
            assert kind == 0b10 and [v for _, (_, v) in tlv(instances).items()] == [b"\x00", b"\x02", b"\x03"]
            assert await read_int(peer, device, "/5/0/9") == Delivery.BOTH

            assert (await peer.request(device, aiocoap.GET, "/5/0/0")).code == aiocoap.METHOD_NOT_ALLOWED
            assert (await peer.request(device, aiocoap.GET, "/5/0", accept=TEXT)).code == aiocoap.NOT_ACCEPTABLE
            assert (await peer.request(device, aiocoap.GET, "/7/0")).code == aiocoap.NOT_FOUND
            discovered = await peer.request(device, aiocoap.GET, "/5/0", accept=LINK)
            assert discovered.payload.startswith(b"</5/0>,</5/0/0>,</5/0/1>")

    run(scenario)


def test_timezone_resource_only_on_a_device_configured_with_a_zone() -> None:
    async def scenario() -> None:
        async with peer_running() as peer:
            async with device_running(peer, time_zone="Asia/Kolkata") as device:
                response = await peer.request(device, aiocoap.GET, "/3/0/15", accept=TEXT)
                assert (response.code, response.payload) == (aiocoap.CONTENT, b"Asia/Kolkata")
                records = json.loads((await peer.request(device, aiocoap.GET, "/3/0", accept=SENML_JSON)).payload)
                assert {r["n"]: r.get("vs") for r in records}["15"] == "Asia/Kolkata"
                discovered = await peer.request(device, aiocoap.GET, "/3/0", accept=LINK)
                assert b"</3/0/15>" in discovered.payload
            async with device_running(peer) as device:
                assert (await peer.request(device, aiocoap.GET, "/3/0/15")).code == aiocoap.NOT_FOUND
                records = json.loads((await peer.request(device, aiocoap.GET, "/3/0", accept=SENML_JSON)).payload)
                assert "15" not in {r["n"] for r in records}
                discovered = await peer.request(device, aiocoap.GET, "/3/0", accept=LINK)
                assert b"/3/0/15" not in discovered.payload

    run(scenario)


def test_lwm2m_1_0_client_refuses_senml() -> None:
    async def scenario() -> None:
        async with peer_running() as peer, device_running(peer, lwm2m_version="1.0") as device:
            assert (await peer.request(device, aiocoap.GET, "/3/0", accept=SENML_JSON)).code == aiocoap.NOT_ACCEPTABLE
            assert (await peer.request(device, aiocoap.GET, "/3/0")).opt.content_format == TLV

    run(scenario)


# --- firmware update: pull, push, and the state machine ----------------------------------------------------------


def test_pull_over_coap_then_update_reboots_into_new_firmware() -> None:
    async def scenario() -> None:
        async with peer_running() as peer, device_running(peer, block_size=256) as device:
            first = peer.of(device)[0]
            state = await peer.observe(device, "/5/0/3")
            result = await peer.observe(device, "/5/0/5")
            assert (state.values, result.values) == ([0], [0])

            response = await write_uri(peer, device, f"{peer.uri}/fw")
            assert response.code == aiocoap.CHANGED
            await wait_until(lambda: state.values[-1] == State.DOWNLOADED, 5, what="State 2 notified")
            assert state.values == [0, 1, 2]
            assert {size for _, size in peer.block_requests} == {256}
            assert [n for n, _ in peer.block_requests] == list(range(len(IMAGE) // 256 + 1))
            assert await read_int(peer, device, "/5/0/3") == State.DOWNLOADED
            pkg_version = await peer.request(device, aiocoap.GET, "/5/0/7", accept=TEXT)
            assert pkg_version.payload == b"2.0.0"

            response = await peer.request(device, aiocoap.POST, "/5/0/2")
            assert response.code == aiocoap.CHANGED
            await wait_until(lambda: len(peer.of(device)) == 2, 5, what="re-registration after Update")
            assert state.values[-1] == State.UPDATING
            assert peer.deregistrations == [first.location]
            again = peer.of(device)[1]
            assert (again.host, again.port) != (first.host, first.port)  # a reboot comes back on a new socket
            response = await peer.request(device, aiocoap.GET, "/3/0/3", accept=TEXT)
            assert response.payload == b"2.0.0"
            assert await read_int(peer, device, "/5/0/5") == Result.SUCCESS
            assert await read_int(peer, device, "/5/0/3") == State.IDLE
            assert device.firmware_version == "2.0.0" and device.update_executions == 1
            state.cancel()
            result.cancel()

    run(scenario)


def test_push_follows_a_256_byte_device_limit() -> None:
    async def scenario() -> None:
        async with peer_running() as peer, device_running(peer, max_block_size=256) as device:
            responses = await peer.push(device, IMAGE, block_size=1024)
            assert responses[0].code == aiocoap.REQUEST_ENTITY_TOO_LARGE
            assert responses[0].opt.block1.size == 256
            assert all(r.code == aiocoap.CONTINUE for r in responses[1:-1])
            assert responses[-1].code == aiocoap.CHANGED
            assert len(responses) == 1 + -(-len(IMAGE) // 256)
            assert device.state == State.DOWNLOADED
            assert (await peer.request(device, aiocoap.POST, "/5/0/2")).code == aiocoap.CHANGED
            await device.wait_for(lambda d: d.registered and d.registrations == 2, 5)
            assert device.firmware_version == "2.0.0"
            assert device.update_result == Result.SUCCESS

    run(scenario)


def test_pull_over_http() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        status = b"200 OK" if request.startswith(b"GET /fw ") else b"404 Not Found"
        body = IMAGE if status.startswith(b"200") else b""
        writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        await writer.drain()
        writer.close()

    async def scenario() -> None:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            async with peer_running() as peer:
                async with device_running(peer) as device:
                    assert (await write_uri(peer, device, f"http://127.0.0.1:{port}/fw")).code == aiocoap.CHANGED
                    await device.wait_for(lambda d: d.state == State.DOWNLOADED, 5)
                async with device_running(peer, imei="350000000000002") as device:
                    await write_uri(peer, device, f"http://127.0.0.1:{port}/nothing")
                    await device.wait_for(lambda d: d.update_result == Result.INVALID_URI, 5)
                    assert device.state == State.IDLE
        finally:
            server.close()

    run(scenario)


def test_state_machine_refusals_cancel_and_uri_errors() -> None:
    async def scenario() -> None:
        async with peer_running() as peer, device_running(peer, protocols=(Protocol.COAP,)) as device:
            # Update is executable only in Downloaded (object 5, resource 2).
            assert (await peer.request(device, aiocoap.POST, "/5/0/2")).code == aiocoap.METHOD_NOT_ALLOWED
            assert (await peer.request(device, aiocoap.POST, "/5/0/3")).code == aiocoap.METHOD_NOT_ALLOWED
            assert (await peer.request(device, aiocoap.PUT, "/5/0/3", payload=b"1")).code == aiocoap.METHOD_NOT_ALLOWED

            # A scheme outside /5/0/8: the write fails and Update Result says 9 (Anjay's behaviour).
            response = await write_uri(peer, device, "http://127.0.0.1:1/fw")
            assert response.code == aiocoap.BAD_REQUEST
            assert (device.state, device.update_result) == (State.IDLE, Result.UNSUPPORTED_PROTOCOL)

            await write_uri(peer, device, f"{peer.uri}/missing")
            await device.wait_for(lambda d: d.update_result == Result.INVALID_URI, 5)
            assert device.state == State.IDLE

            # A Package URI written as TLV (what many servers send) downloads just the same.
            payload = bytes([0xC8, 0x01, len(f"{peer.uri}/fw")]) + f"{peer.uri}/fw".encode()
            response = await peer.request(device, aiocoap.PUT, "/5/0/1", payload=payload, content_format=TLV)
            assert response.code == aiocoap.CHANGED
            await device.wait_for(lambda d: d.state == State.DOWNLOADED, 5)
            # A second URI while not Idle is refused; an empty one cancels back to Idle with result 0.
            assert (await write_uri(peer, device, f"{peer.uri}/fw")).code == aiocoap.BAD_REQUEST
            assert (await write_uri(peer, device, "")).code == aiocoap.CHANGED
            assert (device.state, device.update_result, device.firmware.staged_version) == (State.IDLE, 0, None)
            assert await read_int(peer, device, "/5/0/3") == State.IDLE

    run(scenario)


def test_delivery_method_limits_pull_and_push() -> None:
    async def scenario() -> None:
        async with peer_running() as peer:
            async with device_running(peer, delivery=Delivery.PULL) as device:
                responses = await peer.push(device, IMAGE)
                assert responses[-1].code == aiocoap.METHOD_NOT_ALLOWED
                assert await read_int(peer, device, "/5/0/9") == Delivery.PULL
            async with device_running(peer, delivery=Delivery.PUSH, imei="350000000000002") as device:
                assert (await write_uri(peer, device, f"{peer.uri}/fw")).code == aiocoap.METHOD_NOT_ALLOWED

    run(scenario)


# --- injected faults ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "push", "result"),
    [
        (Fault.DROP_DOWNLOAD, False, Result.CONNECTION_LOST),
        (Fault.DROP_DOWNLOAD, True, Result.CONNECTION_LOST),
        (Fault.CORRUPT, False, Result.INTEGRITY_FAILURE),
        (Fault.CORRUPT, True, Result.INTEGRITY_FAILURE),
        (Fault.UNSUPPORTED_PACKAGE, False, Result.UNSUPPORTED_PACKAGE),
    ],
)
def test_download_faults_end_idle_with_their_result(fault: Fault, push: bool, result: Result) -> None:
    async def scenario() -> None:
        async with peer_running() as peer, device_running(peer, faults=frozenset({fault})) as device:
            state = await peer.observe(device, "/5/0/5")
            if push:
                await peer.push(device, IMAGE, block_size=256)
            else:
                await write_uri(peer, device, f"{peer.uri}/fw")
            await wait_until(lambda: state.values[-1] == result, 5, what=f"Update Result {int(result)} notified")
            assert device.state == State.IDLE
            assert (await peer.request(device, aiocoap.POST, "/5/0/2")).code == aiocoap.METHOD_NOT_ALLOWED
            state.cancel()

    run(scenario)


@pytest.mark.parametrize(
    ("fault", "result"),
    [(Fault.UPDATE_FAILS, Result.UPDATE_FAILED), (Fault.OLD_FIRMWARE, Result.SUCCESS)],
)
def test_update_faults_come_back_on_the_old_firmware(fault: Fault, result: Result) -> None:
    async def scenario() -> None:
        async with peer_running() as peer, device_running(peer, faults=frozenset({fault})) as device:
            await write_uri(peer, device, f"{peer.uri}/fw")
            await device.wait_for(lambda d: d.state == State.DOWNLOADED, 5)
            await peer.request(device, aiocoap.POST, "/5/0/2")
            await wait_until(lambda: len(peer.of(device)) == 2, 5, what="re-registration")
            assert (await peer.request(device, aiocoap.GET, "/3/0/3", accept=TEXT)).payload == b"1.0.0"
            assert await read_int(peer, device, "/5/0/5") == result
            assert await read_int(peer, device, "/5/0/3") == State.IDLE
            assert device.update_executions == 1

    run(scenario)


def test_never_returns_after_update() -> None:
    async def scenario() -> None:
        async with peer_running() as peer, device_running(peer, faults=frozenset({Fault.NEVER_RETURNS})) as device:
            await write_uri(peer, device, f"{peer.uri}/fw")
            await device.wait_for(lambda d: d.state == State.DOWNLOADED, 5)
            await peer.request(device, aiocoap.POST, "/5/0/2")
            await device.wait_for(lambda d: d.gone, 5)
            # Absence can only be shown by waiting: several reboot times pass without a new Register.
            await asyncio.sleep(device.config.reboot_seconds * 3)
            assert len(peer.of(device)) == 1 and len(peer.deregistrations) == 1
            assert device.address is None

    run(scenario)


# --- queue mode --------------------------------------------------------------------------------------------------


def test_queue_mode_device_is_silent_until_it_checks_in() -> None:
    async def scenario() -> None:
        async with peer_running() as peer, device_running(peer, awake_seconds=0.3, checkin_interval=1.0) as device:
            assert (await peer.request(device, aiocoap.GET, "/3/0/3", accept=TEXT)).payload == b"1.0.0"
            await device.wait_for(lambda d: not d.awake, 2, "falling asleep")
            with pytest.raises(TimeoutError):
                await peer.request(device, aiocoap.GET, "/3/0/3", mtype=aiocoap.NON, timeout=0.3)
            assert device.events_of("dropped")
            updates = len(peer.updates)
            await wait_until(lambda: len(peer.updates) > updates, 3, what="the next check-in")
            # Right after its Update the device listens again.
            assert (await peer.request(device, aiocoap.GET, "/3/0/3", accept=TEXT)).payload == b"1.0.0"

    run(scenario)


# --- the fleet and the CLI ---------------------------------------------------------------------------------------


def test_fleet_registers_consecutive_imeis_with_faults_and_deregisters_all() -> None:
    async def scenario() -> None:
        async with peer_running() as peer:
            template = DeviceConfig(server=peer.uri, **FAST)  # type: ignore[arg-type]
            fleet = Fleet(5, template, imei_start=350000000000010, faults=[FaultShare(Fault.CORRUPT, 0.4)], seed=3)
            async with fleet:
                await fleet.wait_all(lambda d: d.registered, 5)
                assert [d.endpoint for d in fleet.devices] == [f"urn:imei:3500000000000{n}" for n in range(10, 15)]
                assert len({d.address for d in fleet.devices}) == 5
                assert len(fleet.with_fault(Fault.CORRUPT)) == 2
                summary = fleet.summary()
                assert (summary.registered, summary.by_firmware, summary.by_state) == (5, {"1.0.0": 5}, {0: 5})
                assert fleet.device(350000000000012).imei == "350000000000012"
            assert len(peer.deregistrations) == 5

    run(scenario)


def test_cli_runs_for_a_duration_and_deregisters() -> None:
    async def scenario() -> tuple[Peer, bytes]:
        async with peer_running() as peer:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "fota",
                "simulate",
                "--devices",
                "3",
                "--server",
                peer.uri,
                "--duration",
                "1.5",
                "--summary-every",
                "0.5",
                "--fault",
                "corrupt:0.34",
                stdout=asyncio.subprocess.PIPE,
                env={**os.environ, "COLUMNS": "200"},
            )
            output, _ = await process.communicate()
            assert process.returncode == 0, output
            return peer, output

    peer, output = run(scenario)
    assert len(peer.registrations) == 3 and len(peer.deregistrations) == 3
    assert b"registered 3/3" in output and b"firmware 1.0.0=3" in output


def test_a_busy_download_server_is_waited_out_for_its_max_age() -> None:
    """5.03 with Max-Age (the server's download cap) is "come back later", not a lost connection: the device asks for
    the same block again after Max-Age, within its busy budget, and the download completes."""

    async def scenario() -> None:
        async with peer_running() as peer, device_running(peer, protocols=(Protocol.COAP,)) as device:
            peer.busy = {0: 1, 3: 1}
            assert (await write_uri(peer, device, f"{peer.uri}/fw")).code == aiocoap.CHANGED
            await device.wait_for(lambda d: d.state == State.DOWNLOADED, 10)
            assert device.update_result == Result.INITIAL
            assert len(device.events_of("download-busy")) == 2
            numbers = [n for n, _ in peer.block_requests]
            assert (numbers.count(0), numbers.count(3), numbers.count(1)) == (2, 2, 1)

        async with peer_running() as peer, device_running(peer, protocols=(Protocol.COAP,), busy_budget=0.5) as device:
            # Busy for longer than the device is willing to wait: the download fails as a lost connection.
            peer.busy = {0: 5}
            assert (await write_uri(peer, device, f"{peer.uri}/fw")).code == aiocoap.CHANGED
            await device.wait_for(lambda d: d.update_result == Result.CONNECTION_LOST, 5)
            assert device.state == State.IDLE
            assert [n for n, _ in peer.block_requests] == [0]

    run(scenario)
