"""Malformed CoAP and LwM2M input against the real server's UDP port; after each abuse a well-behaved simulated
device still registers and upgrades, and the server process is alive.

The abuses: garbage datagrams, truncated CoAP headers, bad options, a registration with a huge payload, bad
link-format, a fake device answering the server's reads with bad TLV, and a registration flood from one address
(2 000 requests in four seconds from one socket on 127.0.0.2, while the healthy devices use 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import socket
import struct
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import aiocoap
import pytest
from aiocoap import resource

from fota.adapters.lwm2m.codec.datagrams import encoded_option as option
from fota.simulator.device import SimulatedDevice
from tests.conftest import BACKENDS, Account, RunningServer, _stop_and_cleanup, start_server
from tests.faults.figures import record
from tests.lwm2m.harness import (
    TO,
    create_campaign_with_sdk,
    device_report,
    provision,
    resilient_template,
)

# The flood's rate and the per-address limit it meets are wall-clock: alone on the machine.
pytestmark = [pytest.mark.slow, pytest.mark.serial]

ABUSES = ["garbage", "truncated", "bad-options", "huge-registration", "bad-link-format", "bad-tlv", "flood"]
FLOOD_REQUESTS = 2000
FLOOD_ADDRESS = "127.0.0.2"  # the flood's own address: the per-address limit must not touch other devices


@dataclass
class Scene:
    server: RunningServer
    account: Account
    campaign_id: str
    imeis: list[str]  # one healthy device per abuse, all in the campaign
    spare: list[str]  # provisioned, in no campaign: the fake device's identity
    faults_injected: int = 0
    flood_answers: Counter[int] = field(default_factory=Counter)


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    # The CoAP edge is the same code on both databases; SQLite (one writer) is the harder case for a flood.
    server = start_server(BACKENDS[0], Path(tmp_path_factory.mktemp("malformed-coap")))
    try:
        account = server.new_account(license_count=len(ABUSES) + 2)
        firmware, imeis, _ = provision(server, account, len(ABUSES) + 1, image_size=2048)
        today = server.now().date()
        campaign_id = create_campaign_with_sdk(
            account, firmware, imeis[: len(ABUSES)], today, today + timedelta(days=2)
        )
        server.advance(0)  # the campaign starts today: scheduled, window open
        yield Scene(server, account, campaign_id, imeis[: len(ABUSES)], imeis[len(ABUSES) :])
    finally:
        _stop_and_cleanup(server)


# ----------------------------------------------------------------------------------------------------
# Raw datagrams


def header(tkl: int = 0, code: int = 0x02, mid: int | None = None, mtype: int = 0, version: int = 1) -> bytes:
    mid = random.randrange(1 << 16) if mid is None else mid
    return struct.pack("!BBH", (version << 6) | (mtype << 4) | tkl, code, mid)


def rd_post(query: list[str], payload: bytes = b"", extra: bytes = b"") -> bytes:
    """A confirmable POST /rd?<query> (Uri-Path 11, Content-Format 12 = 40 link-format, Uri-Query 15)."""
    token = os.urandom(4)
    out = header(tkl=4, code=0x02) + token + option(11, b"rd") + option(1, bytes([40]))
    for i, q in enumerate(query):
        out += option(3 if i == 0 else 0, q.encode())
    return out + extra + ((b"\xff" + payload) if payload else b"")


def send_all(datagrams: list[bytes], bind: str = "127.0.0.1", port: int = 0) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((bind, 0))
        for d in datagrams:
            s.sendto(d, ("127.0.0.1", port))
    return len(datagrams)


def garbage(scene: Scene) -> int:
    rng = random.Random(1)
    sizes = [0, 1, 2, 3, 4, 17, 100, 1000, 1400, 9000, 60000]
    datagrams = [bytes(rng.randrange(256) for _ in range(n)) for n in sizes for _ in range(3)]
    datagrams += [os.urandom(rng.randrange(1, 300)) for _ in range(300)]
    return send_all(datagrams, port=scene.server.coap_port)


def truncated(scene: Scene) -> int:
    full = rd_post([f"ep=urn:imei:{scene.spare[0]}", "lt=300"], b"</3/0>,</5/0>")
    datagrams = [full[:n] for n in range(1, len(full))]
    datagrams += [header(tkl=tkl) + b"\x01" * min(tkl, 3) for tkl in range(9, 16)]  # TKL 9-15 is a format error
    datagrams += [header(version=v) + b"\xb2rd" for v in (0, 2, 3)]
    datagrams += [header(mtype=t, code=c) for t in range(4) for c in (0x00, 0x01, 0x02, 0x45, 0xE0, 0xFF)]
    return send_all(datagrams, port=scene.server.coap_port)


def bad_options(scene: Scene) -> int:
    q = [f"ep=urn:imei:{scene.spare[0]}"]
    base = header(tkl=0)
    datagrams = [
        base + b"\xf0",  # option delta 15 without being the payload marker
        base + b"\x0f",  # option length 15 (reserved)
        base + b"\xb8rd",  # option length beyond the datagram
        base + b"\xd1",  # extended delta byte missing
        base + b"\xe1\x00",  # two-byte extended delta cut short
        base + b"\xb2rd\xff",  # payload marker with no payload
        base + option(11, b"\xff\xfe\xfd"),  # Uri-Path that is not UTF-8
        base + option(11, b"rd") + option(4, b"ep=" + b"\xc3\x28"),  # Uri-Query that is not UTF-8
        base + option(9, b"x"),  # unknown critical option 9
        base + option(11, b"rd") + option(1000, b"x"),  # unknown critical option far out
        base + option(11, b"rd") + option(4, b"ep=" + b"a" * 1000),  # endpoint name too long
        base + option(11, b"rd") + option(4, b"lt=-5") + option(0, b"ep=urn:imei:" + scene.spare[0].encode()),
        base + option(11, b"rd") + option(4, b"b=XYZ") + option(0, b"ep=urn:imei:" + scene.spare[0].encode()),
        base + option(11, b"rd") + option(0, b"x") + option(0, b"y"),  # /rd/x/y
        base + option(12, bytes([0xFF, 0xFF, 0xFF, 0xFF, 0xFF])),  # Content-Format too long
        base + option(23, b"\xff\xff\xff\xff"),  # Block2 with a 4-byte value
        base + option(11, b"fw") + option(0, b"x" * 300) + option(12, b"\x07"),  # /fw/<unknown> with Block2
        rd_post(q, extra=option(27 - 15, b"\x0f\xff\xff")),  # Block1 with reserved SZX 7
    ]
    return send_all(datagrams * 5, port=scene.server.coap_port)


def coap_post_rd(server: RunningServer, query: list[str], payload: bytes) -> aiocoap.Message:
    async def go() -> aiocoap.Message:
        ctx = await aiocoap.Context.create_client_context()
        try:
            message = aiocoap.Message(code=aiocoap.POST, uri=f"{server.coap_url}/rd", payload=payload)
            message.opt.uri_query = tuple(query)
            message.opt.content_format = 40
            return await asyncio.wait_for(ctx.request(message).response, 20)
        finally:
            await ctx.shutdown()

    return asyncio.run(go())


def huge_registration(scene: Scene) -> int:
    query = [f"ep=urn:imei:{scene.spare[0]}", "lt=300"]
    links = ",".join(f"</{i}/0>" for i in range(20000)).encode()  # ~180 KB: sent block-wise by aiocoap
    answer = coap_post_rd(scene.server, query, links)
    assert 0x80 <= int(answer.code) < 0xA0, answer  # a 4.xx: refused, not registered
    one = rd_post(query, links[:60000])  # and in a single datagram
    return 1 + send_all([one], port=scene.server.coap_port)


def bad_link_format(scene: Scene) -> int:
    query = [f"ep=urn:imei:{scene.spare[0]}", "lt=300"]
    bad = [b"<<<>>>", b"</3/0", b"</3/0>;;;=,,", b"\xff\xfe</3/0>", b'</3/0>;rt="unterminated', b"<" + b"/1" * 2000]
    answers = [coap_post_rd(scene.server, query, payload) for payload in bad]
    assert all(a.code == aiocoap.BAD_REQUEST for a in answers), [str(a.code) for a in answers]
    return len(bad)


class _Garbage(resource.Resource):  # type: ignore[misc]
    """A whole fake device: answers every request of the server with a TLV content format and bytes that are not
    TLV (a length past the end, a reserved type, a multi-resource with no members, random bytes)."""

    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    async def needs_blockwise_assembly(self, request: aiocoap.Message) -> bool:
        return False

    async def render(self, request: aiocoap.Message) -> aiocoap.Message:
        self.requests += 1
        payloads = [b"\xff\xff\xff", b"\xc8\x00\x20" + b"x" * 3, b"\x08\x00\xff" + b"\x00" * 10, os.urandom(40)]
        return aiocoap.Message(
            code=aiocoap.CONTENT, payload=payloads[self.requests % len(payloads)], content_format=11542
        )


def bad_tlv(scene: Scene) -> int:
    """A provisioned device registers, then answers every read (/3/0, /5/0 ...) with bad TLV."""

    async def go() -> int:
        fake = _Garbage()
        ctx = await aiocoap.Context.create_server_context(fake, bind=("127.0.0.1", 0), transports=["udp6"])
        try:
            message = aiocoap.Message(
                code=aiocoap.POST, uri=f"{scene.server.coap_url}/rd", payload=b"</1/0>,</3/0>,</5/0>"
            )
            message.opt.uri_query = (f"ep=urn:imei:{scene.spare[0]}", "lt=300", "lwm2m=1.1", "b=U")
            message.opt.content_format = 40
            answer = await asyncio.wait_for(ctx.request(message).response, 20)
            assert answer.code == aiocoap.CREATED, answer
            deadline = time.monotonic() + 20
            while fake.requests == 0 and time.monotonic() < deadline:  # the server's session reads the device
                await asyncio.sleep(0.05)
            assert fake.requests > 0, "the server never read the fake device"
            return fake.requests
        finally:
            await ctx.shutdown()

    return asyncio.run(go())


def flood(scene: Scene) -> int:
    """2 000 registrations (unknown endpoints, each refused) in about four seconds; returns how many of the answers
    were 5.03 (the per-address refusal budget, adapters/lwm2m/server.py) rather than 4.03 after a database write."""
    datagrams = [rd_post([f"ep=urn:imei:{900000000000000 + i}", "lt=300"], b"</3/0>") for i in range(FLOOD_REQUESTS)]
    codes: Counter[int] = Counter()

    def drain(sock: socket.socket, wait: float) -> None:
        # Read answers as they come: left unread, they would overflow this socket's own receive buffer.
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                codes[sock.recv(2048)[1]] += 1
            except TimeoutError:
                return

    started = time.monotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((FLOOD_ADDRESS, 0))
        for i, d in enumerate(datagrams):
            sock.sendto(d, ("127.0.0.1", scene.server.coap_port))
            if i % 50 == 49:
                # ~500 requests/s: faster and the kernel's receive buffer drops most of them before the server sees
                # them (a defence of its own, but not the one under test).
                drain(sock, started + (i + 1) / 500 - time.monotonic())
        drain(sock, 3.0)
    scene.flood_answers = codes
    return codes[0xA3]


ACTIONS: dict[str, Callable[[Scene], int]] = {
    "garbage": garbage,
    "truncated": truncated,
    "bad-options": bad_options,
    "huge-registration": huge_registration,
    "bad-link-format": bad_link_format,
    "bad-tlv": bad_tlv,
    "flood": flood,
}


def healthy_device_upgrades(scene: Scene, imei: str, *, during: Callable[[], object] | None = None) -> float:
    """Starts one well-behaved device; returns how long it took to register. It must then upgrade."""
    config = dataclasses.replace(resilient_template(scene.server, checkin_interval=2.0, timeout=10.0), imei=imei)

    async def go() -> float:
        device = SimulatedDevice(config)
        background = asyncio.create_task(asyncio.to_thread(during)) if during is not None else None
        started = time.monotonic()
        await device.start()
        try:
            await device.wait_for(lambda d: d.registered, 30, "registered")
            registered_after = time.monotonic() - started
            await device.wait_for(lambda d: d.firmware_version == TO and d.registered, 60, "upgraded")
            # The server concludes once the rebooted device has registered and been read: keep it running until then.
            for _ in range(150):
                if await asyncio.to_thread(succeeded):
                    break
                await asyncio.sleep(0.2)
            return registered_after
        finally:
            if background is not None:
                await background
            await device.stop()

    def succeeded() -> bool:
        return bool(device_report(scene.account, scene.campaign_id)[imei]["status"] == "UpgradeSuccess")

    took = asyncio.run(go())
    assert succeeded(), device_report(scene.account, scene.campaign_id)[imei]
    return took


@pytest.mark.parametrize("abuse", ABUSES)
def test_abuse_leaves_other_devices_served(scene: Scene, abuse: str) -> None:
    imei = scene.imeis[ABUSES.index(abuse)]
    if abuse == "flood":
        # The healthy device registers while the flood is under way, not after it.
        took = healthy_device_upgrades(scene, imei, during=lambda: flood(scene))
        scene.faults_injected += FLOOD_REQUESTS
        answers = scene.flood_answers
        record(
            "malformed-coap flood",
            requests=FLOOD_REQUESTS,
            answered_403=answers[0x83],
            answered_503=answers[0xA3],
            healthy_registration_seconds=round(took, 2),
        )
        # Most of the flood is turned away before it costs a database write.
        assert answers[0xA3] >= FLOOD_REQUESTS // 2, answers
        assert took < 10, f"a flood from another address delayed a healthy registration by {took:.1f} s"
    else:
        scene.faults_injected += ACTIONS[abuse](scene)
        healthy_device_upgrades(scene, imei)
    assert scene.server.process.poll() is None, scene.server.log_path.read_text()[-3000:]
    record(f"malformed-coap {abuse}", faults_injected_so_far=scene.faults_injected, devices_lost=0)
