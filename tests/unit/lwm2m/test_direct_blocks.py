"""The direct block path answers byte for byte what aiocoap's path answers for the same request, keeps the same
bookkeeping (places, completion, refusals), and leaves to aiocoap every request it cannot answer from memory."""

from __future__ import annotations

import asyncio
import random
import socket
from datetime import UTC, datetime

import pytest
from aiocoap import CON, GET, NON, Message
from aiocoap.numbers.codes import Code
from aiocoap.optiontypes import BlockOption
from hypothesis import given, settings
from hypothesis import strategies as st

from fota.adapters.delivery.gate import DownloadGate
from fota.adapters.delivery.packages import Package
from fota.adapters.lwm2m.block_downloads import BlockDownloads
from fota.adapters.lwm2m.codec import datagrams as wire
from fota.adapters.lwm2m.direct_blocks import DirectBlocks, ReadyBlocks, _reply_ancdata
from fota.domain.bandwidth import BandwidthBudget
from fota.services.ports import DownloadLink

IMAGE = random.Random(3).randbytes(5_000 + 17)
PACKAGE = Package("fw-1", IMAGE, b"\x01\x02\x03\x04\x05\x06\x07\x08")
AT = datetime(2026, 12, 1, tzinfo=UTC)
LINK = DownloadLink("dev-1", "campaign-1", "fw-1", AT, AT)
TOKEN = "tok-abc"


class Budget:
    async def clear(self, token, link, *, offset, size, total):
        return None

    def finished(self, token) -> None:
        self.finished_token = token


class Packages:
    """What both paths ask of PackageStore: the cached download, and for the aiocoap path its async lookup."""

    def __init__(self, link: DownloadLink | None = LINK) -> None:
        self.link = link
        self.budget = Budget()

    def in_memory(self, token):
        return (PACKAGE, self.link) if token == TOKEN and self.link is not None else None

    async def download(self, token):
        return self.in_memory(token)


class Remote:
    maximum_block_size_exp = 6


def encoded(mtype: int, mid: int, code: Code, token: bytes = b"", **options) -> bytes:
    message = Message(code=code, **options)
    message.mtype, message.mid, message.token = mtype, mid, token
    return bytes(message.encode())


def request_bytes(mtype: int, mid: int, token: bytes, block2: tuple[int, int] | None, path=("fw", TOKEN)) -> bytes:
    message = Message(code=GET, uri_path=path)
    message.mtype, message.mid, message.token = mtype, mid, token
    if block2 is not None:
        message.opt.block2 = BlockOption.BlockwiseTuple(block2[0], False, block2[1])
    return bytes(message.encode())


def aiocoap_answer(data: bytes) -> Message:
    request = Message.decode(data)
    request.remote = Remote()
    downloads = BlockDownloads(Packages(), DownloadGate(10))  # type: ignore[arg-type]
    return asyncio.run(downloads.download(request, TOKEN))


def direct(packages: Packages | None = None, gate: DownloadGate | None = None) -> DirectBlocks:
    downloads = BlockDownloads(packages or Packages(), gate or DownloadGate(10))  # type: ignore[arg-type]
    return DirectBlocks(downloads, next_mid=lambda: 4242)


@settings(max_examples=60, deadline=None)
@given(
    szx=st.integers(0, 6),
    fraction=st.floats(0, 1, exclude_max=True),
    asked=st.booleans(),
    token=st.binary(max_size=8),
)
def test_a_confirmable_block_is_answered_as_aiocoap_answers_it(
    szx: int, fraction: float, asked: bool, token: bytes
) -> None:
    blocks = -(-len(IMAGE) // 2 ** (szx + 4))
    number = int(fraction * blocks) if asked else 0
    data = request_bytes(CON, 321, token, (number, szx) if asked else None)
    answer = direct().answer(data)
    assert answer is not None
    expected = aiocoap_answer(data)
    expected.mtype, expected.mid, expected.token = wire.ACK, 321, token
    assert answer == bytes(expected.encode())


def test_a_non_confirmable_block_is_answered_non_confirmable_with_the_endpoints_message_id() -> None:
    answer = direct().answer(request_bytes(NON, 9, b"\xaa", (2, 5)))
    assert answer is not None
    decoded = Message.decode(answer)
    assert (decoded.mtype, decoded.mid, decoded.token, decoded.code) == (NON, 4242, b"\xaa", Code.CONTENT)
    assert decoded.payload == IMAGE[2 * 512 : 3 * 512]
    assert decoded.opt.block2 == BlockOption.BlockwiseTuple(2, True, 5)


def test_the_last_block_completes_the_download_and_frees_its_place() -> None:
    gate = DownloadGate(10)
    packages = Packages()
    blocks = direct(packages, gate)
    last = -(-len(IMAGE) // 512) - 1
    assert blocks.answer(request_bytes(CON, 1, b"", (0, 5))) is not None
    assert gate.active == 1
    answer = blocks.answer(request_bytes(CON, 2, b"", (last, 5)))
    assert answer is not None
    assert Message.decode(answer).opt.block2 == BlockOption.BlockwiseTuple(last, False, 5)
    assert gate.active == 0
    assert packages.budget.finished_token == TOKEN


def test_a_download_without_a_place_at_a_full_limit_is_told_to_come_back() -> None:
    gate = DownloadGate(1)
    assert gate.admit("another download")
    answer = direct(gate=gate).answer(request_bytes(CON, 5, b"\x01", (3, 5)))
    assert answer is not None
    decoded = Message.decode(answer)
    assert (decoded.mtype, decoded.mid, decoded.code, decoded.opt.max_age) == (
        wire.ACK,
        5,
        Code.SERVICE_UNAVAILABLE,
        30,
    )


@pytest.mark.parametrize(
    "data",
    [
        request_bytes(CON, 1, b"", (0, 5), path=("fw", "unknown")),  # the link needs the database
        request_bytes(CON, 1, b"", (0, 5), path=("rd", TOKEN)),  # not a download
        request_bytes(CON, 1, b"", (0, 5), path=("fw",)),
        request_bytes(CON, 1, b"", (0, 5), path=("fw", TOKEN, "x")),
        request_bytes(CON, 1, b"", (0, 7)),  # the reserved block size
        request_bytes(CON, 1, b"", (999, 5)),  # past the end: aiocoap's 4.02
        encoded(CON, 1, GET, uri_path=("fw", TOKEN), observe=0),
        encoded(CON, 1, GET, uri_path=("fw", TOKEN), accept=42),
        encoded(CON, 1, GET, uri_path=("fw", TOKEN), payload=b"x"),
        encoded(CON, 1, Code.POST, uri_path=("fw", TOKEN)),
        encoded(wire.ACK, 1, GET, uri_path=("fw", TOKEN)),
        b"\x40\x01\x00",  # malformed
        b"\x40\x01\x00\x01\xb2fw\xff",  # a payload marker with nothing after it
    ],
)
def test_what_it_cannot_answer_from_memory_goes_to_aiocoap(data: bytes) -> None:
    assert direct().answer(data) is None


def test_a_campaign_with_a_bandwidth_budget_goes_to_aiocoap() -> None:
    budgeted = DownloadLink("dev-1", "campaign-1", "fw-1", AT, AT, BandwidthBudget(bytes_per_hour=10_000))
    assert direct(Packages(budgeted)).answer(request_bytes(CON, 1, b"", (1, 5))) is None


def test_ready_blocks_stay_within_their_bytes() -> None:
    ready = ReadyBlocks(limit=2_000)
    for number in range(10):
        chunk = IMAGE[number * 512 : (number + 1) * 512]
        got = ready.get(PACKAGE, number, 5, asked=True)
        assert got is not None and got.body.endswith(chunk)
        assert (got.size, got.more) == (len(chunk), (number + 1) * 512 < len(IMAGE))
    assert ready.size <= 2_000
    assert len(ready) == 3


def test_requests_to_a_multicast_address_are_left_to_aiocoap() -> None:
    unicast = bytes(10) + b"\xff\xff" + bytes([127, 0, 0, 1]) + (1).to_bytes(4, "little")
    multicast_v4 = bytes(10) + b"\xff\xff" + bytes([224, 0, 1, 187]) + bytes(4)
    multicast_v6 = b"\xff\x02" + bytes(14) + bytes(4)
    pktinfo = (socket.IPPROTO_IPV6, socket.IPV6_PKTINFO)
    assert _reply_ancdata([(*pktinfo, unicast)]) == [(*pktinfo, unicast)]
    assert _reply_ancdata([(*pktinfo, multicast_v4)]) is None
    assert _reply_ancdata([(*pktinfo, multicast_v6)]) is None
    assert _reply_ancdata([]) is None
