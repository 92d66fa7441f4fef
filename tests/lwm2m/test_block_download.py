"""Firmware delivery is byte-exact over CoAP Block2 at every block size (libcoap's client and aiocoap's) and over
HTTP with Range requests, from a per-device download link."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import random
import secrets
import shutil
import socket
import subprocess
from pathlib import Path

import httpx
import pytest
from aiocoap import GET, Context, Message

from fota.adapters.lwm2m.codec import datagrams as wire
from fota.adapters.storage.database import make_engine
from fota.adapters.storage.unit_of_work import SqlUnitOfWorkFactory
from fota.domain.upgrade import Assignment, UpgradePolicy
from fota.services import upgrades
from fota.services.ports import DownloadLink, UnitOfWork
from tests.conftest import RunningServer

COAP_CLIENT = shutil.which("coap-client-notls") or shutil.which("coap-client")
IMAGE = random.Random(7).randbytes(20_000 + 123)  # not a multiple of any block size


@pytest.fixture
def download_token(server: RunningServer) -> str:
    """A real per-device link, issued by the same service the upgrade flow uses, on the server's database."""
    account = server.new_account()
    firmware = server.new_firmware()
    r = server.admin.put(
        f"/firmware/{firmware['firmwareName']}/image",
        content=IMAGE,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"size": len(IMAGE), "sha256": hashlib.sha256(IMAGE).hexdigest()}
    imei = f"{random.randint(10**14, 10**15 - 1)}"
    account.add_devices(
        [
            {
                "deviceId": imei,
                "make": firmware["make"],
                "model": firmware["model"],
                "firmware": firmware["firmwareFrom"],
                "protocol": "LWM2M",
            }
        ]
    )
    today = server.now().date()
    with account.client() as client:
        r = client.post(
            f"/campaigns/firmware/{account.name}",
            json={
                "firmwareName": firmware["firmwareName"],
                "firmwareFrom": firmware["firmwareFrom"],
                "firmwareTo": firmware["firmwareTo"],
                "protocol": "LWM2M",
                "startDate": today.isoformat(),
                "endDate": (today + dt.timedelta(days=1)).isoformat(),
                "deviceList": [imei],
                "autoAssignLicenseFlag": True,
                "autoAddDevicesFlag": False,
            },
        )
        assert r.status_code == 200, r.text
    engine = make_engine(server.database_url)
    try:
        assignment = Assignment(
            r.json()["id"], account.name, firmware["firmwareName"], firmware["firmwareTo"], None, 0, None, False
        )
        return _download_link(SqlUnitOfWorkFactory(engine)(), assignment, imei, now=server.now())
    finally:
        engine.dispose()


def _download_link(uow: UnitOfWork, assignment: Assignment, device_id: str, *, now: dt.datetime) -> str:
    """A download link for the device's package, stored as the server stores one when it offers the package, at the
    server's own (simulated) time: the shared server's clock may be days past the wall clock."""
    token = secrets.token_urlsafe(24)
    with uow:
        expires_at = now + UpgradePolicy().download_link_lifetime
        link = DownloadLink(device_id, assignment.campaign_id, assignment.firmware_name, now, expires_at)
        uow.downloads.add(upgrades.download_token_hash(token), link)
        uow.commit()
    return token


@pytest.mark.skipif(COAP_CLIENT is None, reason="libcoap3-bin is not installed (.ci/run installs it)")
@pytest.mark.parametrize("block_size", [16, 32, 64, 128, 256, 512, 1024])
def test_libcoap_client_downloads_identical_bytes(
    server: RunningServer, download_token: str, block_size: int, tmp_path: Path
) -> None:
    out = tmp_path / "image.bin"
    assert COAP_CLIENT is not None
    completed = subprocess.run(
        [
            COAP_CLIENT,
            "-m",
            "get",
            "-b",
            str(block_size),
            "-B",
            "60",
            "-o",
            str(out),
            f"{server.coap_url}/fw/{download_token}",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    # coap-client exits 0 on an error response too, writing nothing: what it printed says which one.
    assert out.exists(), completed.stderr.decode(errors="replace")
    assert hashlib.sha256(out.read_bytes()).hexdigest() == hashlib.sha256(IMAGE).hexdigest()


def test_aiocoap_client_downloads_identical_bytes(server: RunningServer, download_token: str) -> None:
    async def fetch() -> bytes:
        context = await Context.create_client_context()
        try:
            response = await context.request(Message(code=GET, uri=f"{server.coap_url}/fw/{download_token}")).response
            assert response.code.is_successful(), response.code
            return bytes(response.payload)
        finally:
            await context.shutdown()

    assert asyncio.run(fetch()) == IMAGE


def test_unknown_link_is_not_found_over_coap_and_http(server: RunningServer) -> None:
    async def fetch() -> str:
        context = await Context.create_client_context()
        try:
            response = await context.request(Message(code=GET, uri=f"{server.coap_url}/fw/not-a-token")).response
            return str(response.code)
        finally:
            await context.shutdown()

    assert "4.04" in asyncio.run(fetch())
    assert httpx.get(f"{server.base_url}/fw/not-a-token").status_code == 404


def test_http_download_whole_and_by_ranges(server: RunningServer, download_token: str) -> None:
    url = f"{server.base_url}/fw/{download_token}"
    whole = httpx.get(url)
    assert whole.status_code == 200
    assert whole.content == IMAGE
    assert whole.headers["accept-ranges"] == "bytes"
    pieces = []
    for start in range(0, len(IMAGE), 4096):
        end = min(start + 4095, len(IMAGE) - 1)
        part = httpx.get(url, headers={"Range": f"bytes={start}-{end}"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes {start}-{end}/{len(IMAGE)}"
        pieces.append(part.content)
    assert b"".join(pieces) == IMAGE
    suffix = httpx.get(url, headers={"Range": "bytes=-100"})
    assert suffix.status_code == 206 and suffix.content == IMAGE[-100:]
    beyond = httpx.get(url, headers={"Range": f"bytes={len(IMAGE)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(IMAGE)}"


def _exchange(sock: socket.socket, request: bytes) -> bytes:
    """One confirmable request over a plain UDP socket, retransmitted as RFC 7252 4.2 asks until its ACK comes."""
    for _ in range(5):
        sock.send(request)
        try:
            while True:
                answer = sock.recv(2048)
                if answer[2:4] == request[2:4]:
                    return answer
        except TimeoutError:
            continue
    raise AssertionError("no answer after five transmissions")


def _coap_get(mid: int, token: bytes, path: tuple[str, ...], number: int, extra: list[tuple[int, bytes]] = ()) -> bytes:
    options = [(wire.URI_PATH, segment.encode()) for segment in path]
    options += [(wire.BLOCK2, wire.uint(wire.block_value(number, False, 5)))]
    options = sorted([*options, *extra], key=lambda option: option[0])
    return wire.header_bytes(wire.CON, wire.GET, mid, token) + wire.encoded_options(options)


def _direct_blocks_served(server: RunningServer) -> float:
    for line in httpx.get(f"{server.base_url}/metrics", timeout=30).text.splitlines():
        if line.startswith("fota_coap_blocks_direct_total "):
            return float(line.split()[1])
    return 0.0


def test_blocks_after_the_first_are_answered_directly_with_the_bytes_aiocoap_answers(
    server: RunningServer, download_token: str
) -> None:
    """The first block checks the link through aiocoap; every later one is answered before aiocoap decodes it. An
    Accept option (which the direct path leaves to aiocoap) gets the very same answer from aiocoap's path."""
    path = ("fw", download_token)
    blocks = -(-len(IMAGE) // 512)
    before = _direct_blocks_served(server)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.connect(("127.0.0.1", server.coap_port))
        received = b""
        for number in range(blocks):
            answer = _exchange(sock, _coap_get(number + 1, b"\x07\x08", path, number))
            header = wire.header(answer)
            assert (header.mtype, header.code, header.token) == (wire.ACK, wire.CONTENT, b"\x07\x08")
            options, payload = wire.options(answer, 6)
            assert dict(options)[wire.BLOCK2] == wire.uint(wire.block_value(number, number < blocks - 1, 5))
            received += payload
        assert received == IMAGE
        assert _direct_blocks_served(server) - before == blocks - 1
        direct = _exchange(sock, _coap_get(1000, b"\x01", path, 3))
        through_aiocoap = _exchange(sock, _coap_get(1001, b"\x01", path, 3, [(wire.ACCEPT, wire.uint(42))]))
    assert _direct_blocks_served(server) - before == blocks
    assert direct[4:] == through_aiocoap[4:]
