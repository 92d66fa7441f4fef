"""Block2 reads of `/fw/<token>` answered from the datagram itself, before aiocoap decodes it, whenever everything they
need is in memory: the download's link and image cached and no bandwidth budget on its campaign. Every other datagram
goes on to aiocoap unchanged, and with it every block this path cannot answer alone (docs/adr/0044).

A block's answer depends only on the image, the block number and size, so its options and payload are kept ready in
a bounded cache; the answer is then four header bytes, the request's token and those bytes.
"""

from __future__ import annotations

import logging
import socket
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, NamedTuple

from aiocoap import Context
from aiocoap.transports.udp6 import MessageInterfaceUDP6

from fota.adapters import metrics
from fota.adapters.delivery.packages import Package
from fota.adapters.delivery.slicing import block
from fota.adapters.lwm2m.block_downloads import REFUSAL_MAX_AGE, REFUSAL_PAYLOAD, BlockDownloads
from fota.adapters.lwm2m.codec import datagrams as wire

log = logging.getLogger(__name__)

# Options a block request may carry and still be answered here; any other goes to aiocoap, which knows what to say
# to it (4.02 for an unknown critical option, an Observe registration, ...).
ANSWERED_WITH = frozenset({wire.URI_HOST, wire.URI_PORT, wire.URI_PATH, wire.BLOCK2, wire.SIZE2})
# aiocoap's own choice for a request without Block2 on UDP: 1 KiB (its MAX_REGULAR_BLOCK_SIZE_EXP).
DEFAULT_SZX = 6
READY_BYTES = 16 * 1024 * 1024  # the ready blocks kept, all images together
_OCTET_STREAM = wire.uint(42)  # application/octet-stream
_REFUSAL = (
    wire.encoded_options([(wire.MAX_AGE, wire.uint(REFUSAL_MAX_AGE))]) + bytes([wire.PAYLOAD_MARKER]) + REFUSAL_PAYLOAD
)
_V4_MAPPED = bytes(10) + b"\xff\xff"


class ReadyBlock(NamedTuple):
    body: bytes  # the options, the payload marker and the payload
    size: int  # payload bytes
    more: bool  # blocks follow


class ReadyBlocks:
    """Each block answered, by (image, number, size, whether the request asked with Block2), least recently used
    first, at most `limit` bytes in all: a block read again is neither sliced nor encoded again."""

    def __init__(self, limit: int = READY_BYTES) -> None:
        self.limit = limit
        self.size = 0
        self._blocks: OrderedDict[tuple[bytes, int, int, bool], ReadyBlock] = OrderedDict()

    def __len__(self) -> int:
        return len(self._blocks)

    def get(self, package: Package, number: int, szx: int, *, asked: bool) -> ReadyBlock | None:
        """Block `number` at size 2**(szx + 4); None past the end of the image."""
        key = (package.etag, number, szx, asked)
        ready = self._blocks.get(key)
        if ready is not None:
            self._blocks.move_to_end(key)
            return ready
        sliced = block(package.data, number, 2 ** (szx + 4))
        if sliced is None:
            return None
        chunk, more = sliced
        ready = ReadyBlock(_encoded_block(package, number, szx, chunk, more, asked=asked), len(chunk), more)
        self._blocks[key] = ready
        self.size += len(ready.body)
        while self.size > self.limit:
            _, dropped = self._blocks.popitem(last=False)
            self.size -= len(dropped.body)
        return ready


def _encoded_block(package: Package, number: int, szx: int, chunk: bytes, more: bool, *, asked: bool) -> bytes:
    # As BlockDownloads.download answers it: ETag, Content-Format, Block2 when the download is block-wise, Size2
    # with the first block.
    items = [(wire.ETAG, package.etag), (wire.CONTENT_FORMAT, _OCTET_STREAM)]
    if more or number > 0 or asked:
        items.append((wire.BLOCK2, wire.uint(wire.block_value(number, more, szx))))
    if number == 0:
        items.append((wire.SIZE2, wire.uint(len(package.data))))
    encoded = wire.encoded_options(items)
    return encoded + bytes([wire.PAYLOAD_MARKER]) + chunk if chunk else encoded


class DirectBlocks:
    def __init__(self, downloads: BlockDownloads, *, next_mid: Callable[[], int]) -> None:
        self.downloads = downloads
        self.next_mid = next_mid  # for the answer to a non-confirmable request: the endpoint's own message IDs
        self.ready = ReadyBlocks()

    def answer(self, data: bytes) -> bytes | None:
        """The response datagram to `data`, or None when aiocoap is to handle it."""
        try:
            mtype, code, mid, token = wire.header(data)
            if code != wire.GET or mtype not in (wire.CON, wire.NON):
                return None
            found, payload = wire.options(data, 4 + len(token))
        except wire.MalformedMessage:
            return None
        if payload:
            return None
        path: list[bytes] = []
        block2: int | None = None
        for number, value in found:
            if number == wire.URI_PATH:
                path.append(value)
            elif number == wire.BLOCK2:
                block2 = int.from_bytes(value, "big")
            elif number not in ANSWERED_WITH:
                return None
        if len(path) != 2 or path[0] != b"fw" or not path[1].isascii():
            return None
        download = path[1].decode("ascii")
        held = self.downloads.packages.in_memory(download)
        if held is None:
            return None  # the link needs a query (a first block), or the token is not valid: aiocoap's path says
        package, link = held
        if link.bandwidth is not None:
            return None  # a budget may need a reservation in the database before the block goes
        number, szx = (0, DEFAULT_SZX) if block2 is None else (block2 >> 4, block2 & 0x7)
        if szx == 7:
            return None  # reserved (RFC 7959 2.2): aiocoap answers it
        if not self.downloads.admitted(download):
            body, answer_code = _REFUSAL, wire.SERVICE_UNAVAILABLE
        else:
            ready = self.ready.get(package, number, szx, asked=block2 is not None)
            if ready is None:
                return None  # past the end: aiocoap's 4.02, as for any other bad Block2
            body, answer_code = ready.body, wire.CONTENT
            self.downloads.sent(download, ready.size, more=ready.more)
        metrics.COAP_BLOCKS_DIRECT.inc()
        if mtype == wire.CON:
            return wire.header_bytes(wire.ACK, answer_code, mid, token) + body
        return wire.header_bytes(wire.NON, answer_code, self.next_mid(), token) + body


def answer_blocks_directly(context: Context, downloads: BlockDownloads) -> None:
    """Puts the direct path in front of the context's plain-UDP endpoint (CoAP over DTLS keeps aiocoap's path).

    It wraps the endpoint's `datagram_msg_received`, aiocoap 0.4.17's (the pinned version) callback for each
    datagram with its ancillary data; the answer goes out as aiocoap sends one, from the address the request came to.
    """
    for interface in context.request_interfaces:
        messages = getattr(interface, "token_interface", None)
        endpoint = getattr(messages, "message_interface", None)
        if isinstance(endpoint, MessageInterfaceUDP6):
            direct = DirectBlocks(downloads, next_mid=messages._next_message_id)  # type: ignore[union-attr]
            _wrap(endpoint, direct)
            return
    log.warning("no plain-UDP CoAP endpoint: every block goes through aiocoap")


def _wrap(endpoint: MessageInterfaceUDP6, direct: DirectBlocks) -> None:
    received: Callable[[bytes, list[Any], int, Any], None] = endpoint.datagram_msg_received

    def datagram_msg_received(data: bytes, ancdata: list[Any], flags: int, address: Any) -> None:
        if len(data) > 1 and data[1] == wire.GET:
            reply_from = _reply_ancdata(ancdata)
            if reply_from is not None:
                try:
                    response = direct.answer(data)
                except Exception:
                    log.exception("a block request failed on the direct path; aiocoap answers it")
                    response = None
                if response is not None:
                    endpoint.transport.sendmsg(response, reply_from, 0, address)
                    return
        received(data, ancdata, flags, address)

    endpoint.datagram_msg_received = datagram_msg_received


def _reply_ancdata(ancdata: list[Any]) -> list[tuple[int, int, bytes]] | None:
    """The ancillary data that sends the answer from the address the request was sent to, as aiocoap does; None for
    a request to a multicast address (answered from a unicast one, by aiocoap) or one without the address."""
    for level, kind, pktinfo in ancdata:
        if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO and len(pktinfo) >= 16:
            if pktinfo[0] == 0xFF or (pktinfo[:12] == _V4_MAPPED and 224 <= pktinfo[12] <= 239):
                return None
            return [(level, kind, pktinfo)]
    return None
