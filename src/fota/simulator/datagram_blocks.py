"""Block2 GETs of a coap:// URI written as datagrams by hand, for fleets where an aiocoap client a device costs more
CPU than the server it downloads from: one socket per download, one confirmable request at a time (RFC 7252, 7959).
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import struct
from dataclasses import dataclass
from typing import cast
from urllib.parse import unquote, urlsplit

from aiocoap.optiontypes import BlockOption

# RFC 7252 4.8: transmission parameters.
ACK_TIMEOUT = 2.0
ACK_RANDOM_FACTOR = 1.5
MAX_RETRANSMIT = 4

_CON, _NON, _ACK, _RST = 0, 1, 2, 3
_GET = 0x01
_TOKEN_LENGTH = 4
_URI_HOST, _ETAG, _URI_PORT, _URI_PATH, _MAX_AGE, _URI_QUERY, _BLOCK2 = 3, 4, 7, 11, 14, 15, 23
DEFAULT_PORT = 5683


class ExchangeFailed(Exception):
    """The server reset the request, or never acknowledged it through every retransmission."""


@dataclass(frozen=True, slots=True)
class BlockReply:
    """What a block-wise download needs of a response: its code (class << 5 | detail), payload and three options."""

    code: int
    payload: bytes
    block2: BlockOption.BlockwiseTuple | None
    etag: bytes | None
    max_age: int | None  # None: the option is absent (RFC 7252 5.10.5: then 60 s)

    @property
    def successful(self) -> bool:
        return self.code >> 5 == 2


def request_options(uri: str) -> tuple[str, int, bytes, int]:
    """(host, port, the encoded Uri-Host, Uri-Path and Uri-Query options, the last option number) for a GET of `uri`
    (RFC 7252 6.4); ValueError for what cannot be a coap:// request."""
    parts = urlsplit(uri)
    host = parts.hostname
    if parts.scheme.lower() != "coap" or not host or parts.fragment:
        raise ValueError(f"not a coap:// URI with a host: {uri!r}")
    port = parts.port or DEFAULT_PORT
    options: list[tuple[int, bytes]] = []
    try:
        ipaddress.ip_address(host)
    except ValueError:
        options.append((_URI_HOST, host.encode("idna")))
    path = parts.path
    if path not in ("", "/"):
        options += [(_URI_PATH, unquote(segment).encode()) for segment in path[1:].split("/")]
    if parts.query:
        options += [(_URI_QUERY, unquote(item).encode()) for item in parts.query.split("&")]
    encoded = b""
    last = 0
    for number, value in options:
        if len(value) > 255:
            raise ValueError(f"an option of {uri!r} is longer than 255 bytes")
        encoded += encoded_option(number - last, value)
        last = number
    return host, port, encoded, last


def encoded_option(delta: int, value: bytes) -> bytes:
    """One CoAP option (RFC 7252 3.1): `delta` from the option before it, then the value's length and bytes."""
    (d, d_extended), (n, n_extended) = _nibble(delta), _nibble(len(value))
    return bytes([(d << 4) | n]) + d_extended + n_extended + value


def _nibble(n: int) -> tuple[int, bytes]:
    if n < 13:
        return n, b""
    if n < 269:
        return 13, bytes([n - 13])
    return 14, struct.pack("!H", n - 269)


def parse_reply(data: bytes, offset: int) -> BlockReply | None:
    """The options and payload from `offset` (just after the token) of a response; None if malformed."""
    try:
        return _parse_reply(data, offset)
    except IndexError:  # an extended option length running past the datagram
        return None


def _parse_reply(data: bytes, offset: int) -> BlockReply | None:
    etag: bytes | None = None
    max_age: int | None = None
    block2: BlockOption.BlockwiseTuple | None = None
    number = 0
    end = len(data)
    while offset < end:
        byte = data[offset]
        offset += 1
        if byte == 0xFF:
            if offset == end:
                return None  # a payload marker with no payload is a format error (RFC 7252 3)
            break
        delta, length = byte >> 4, byte & 0x0F
        if delta == 15 or length == 15:
            return None
        if delta == 13:
            delta, offset = data[offset] + 13, offset + 1
        elif delta == 14:
            delta, offset = int.from_bytes(data[offset : offset + 2], "big") + 269, offset + 2
        if length == 13:
            length, offset = data[offset] + 13, offset + 1
        elif length == 14:
            length, offset = int.from_bytes(data[offset : offset + 2], "big") + 269, offset + 2
        number += delta
        value = data[offset : offset + length]
        offset += length
        if offset > end:
            return None
        if number == _ETAG and etag is None:
            etag = value
        elif number == _MAX_AGE:
            max_age = int.from_bytes(value, "big")
        elif number == _BLOCK2:
            raw = int.from_bytes(value, "big")
            if raw & 0x7 == 7:
                return None  # SZX 7 is reserved (RFC 7959 2.2)
            block2 = BlockOption.BlockwiseTuple(raw >> 4, bool(raw & 0x8), raw & 0x7)
    return BlockReply(data[1], data[offset:], block2, etag, max_age)


class DatagramBlocks(asyncio.DatagramProtocol):
    """GETs of one URI block after block from a socket of its own; `get` answers the reply to each, however it came
    (piggybacked on the ACK, or separately after an empty ACK: that response is acknowledged when confirmable)."""

    def __init__(self, uri: str, *, timeout: float, ack_timeout: float | None = None) -> None:
        self.host, self.port, self._options, self._last_option = request_options(uri)
        self._timeout = timeout  # for one block, however many retransmissions and separate waits it takes
        self._ack_timeout = ACK_TIMEOUT if ack_timeout is None else ack_timeout
        self._transport: asyncio.DatagramTransport | None = None
        self._loop = asyncio.get_running_loop()
        # Message IDs and tokens start at random and count up; a download uses far fewer than 2**16 of either.
        self._mid = random.getrandbits(16)
        self._first_token = self._token = random.getrandbits(32)
        self._reply: asyncio.Future[BlockReply] | None = None
        self._datagram = b""
        self._acknowledged = False  # an empty ACK came: the response will come separately
        self._retransmissions = 0
        self._wait = 0.0
        self._deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None

    async def open(self) -> DatagramBlocks:
        """Resolve the host and bind a socket (OSError, socket.gaierror among them, if either fails)."""
        await self._loop.create_datagram_endpoint(lambda: self, remote_addr=(self.host, self.port))
        return self

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    async def get(self, number: int, szx: int) -> BlockReply:
        """Block `number` at size 2**(szx + 4); ExchangeFailed, TimeoutError or OSError if no response comes."""
        if self._transport is None:
            raise ExchangeFailed("the download's socket is closed")
        self._mid = (self._mid + 1) & 0xFFFF
        self._token = (self._token + 1) & 0xFFFFFFFF
        value = (number << 4) | szx
        block2 = encoded_option(_BLOCK2 - self._last_option, value.to_bytes((value.bit_length() + 7) // 8, "big"))
        self._datagram = (
            struct.pack("!BBHI", 0x40 | (_CON << 4) | _TOKEN_LENGTH, _GET, self._mid, self._token)
            + self._options
            + block2
        )
        reply: asyncio.Future[BlockReply] = self._loop.create_future()
        self._reply = reply
        self._acknowledged = False
        self._retransmissions = 0
        self._wait = self._ack_timeout * random.uniform(1.0, ACK_RANDOM_FACTOR)  # noqa: S311 (jitter, not a secret)
        self._deadline = self._loop.time() + self._timeout
        self._send(self._datagram)
        self._arm(self._wait)
        try:
            return await reply
        finally:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._reply = None

    # --- the exchange -----------------------------------------------------------------------------------------------

    def _send(self, datagram: bytes) -> None:
        assert self._transport is not None
        self._transport.sendto(datagram)

    def _arm(self, delay: float) -> None:
        when = self._loop.time() + delay
        if when < self._deadline:
            self._timer = self._loop.call_at(when, self._retransmit)
        else:
            self._timer = self._loop.call_at(self._deadline, self._timed_out)

    def _retransmit(self) -> None:
        if self._reply is None or self._reply.done():
            return
        if self._retransmissions < MAX_RETRANSMIT:
            self._retransmissions += 1
            self._wait *= 2
            self._send(self._datagram)
            self._arm(self._wait)
        else:
            self._fail(ExchangeFailed(f"no acknowledgement after {MAX_RETRANSMIT} retransmissions"))

    def _timed_out(self) -> None:
        self._fail(TimeoutError(f"no response within {self._timeout:g}s"))

    def _fail(self, exc: Exception) -> None:
        if self._reply is not None and not self._reply.done():
            self._reply.set_exception(exc)

    def _deliver(self, reply: BlockReply) -> None:
        if self._reply is not None and not self._reply.done():
            self._reply.set_result(reply)

    def _is_ours(self, token: bytes) -> bool:
        """A token this download used: a duplicate of a response it has already taken is acknowledged again."""
        if len(token) != _TOKEN_LENGTH:
            return False
        return (int.from_bytes(token, "big") - self._first_token) & 0xFFFFFFFF <= (
            self._token - self._first_token
        ) & 0xFFFFFFFF

    # --- asyncio.DatagramProtocol -----------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: object) -> None:
        if len(data) < 4 or data[0] >> 6 != 1:
            return
        mtype, tkl, code = (data[0] >> 4) & 0x3, data[0] & 0x0F, data[1]
        if tkl > 8 or len(data) < 4 + tkl:
            return
        mid = (data[2] << 8) | data[3]
        token = data[4 : 4 + tkl]
        pending = self._reply is not None and not self._reply.done()
        current = pending and tkl == _TOKEN_LENGTH and int.from_bytes(token, "big") == self._token
        if mtype in (_ACK, _RST):
            if not pending or mid != self._mid:
                return  # a late answer to an earlier request or retransmission
            if mtype == _RST:
                self._fail(ExchangeFailed("the server reset the request"))
            elif code == 0 and not self._acknowledged:
                # The response follows in a message of its own: no more retransmissions, only the deadline is left.
                self._acknowledged = True
                if self._timer is not None:
                    self._timer.cancel()
                self._timer = self._loop.call_at(self._deadline, self._timed_out)
            elif current and (reply := parse_reply(data, 4 + tkl)) is not None:
                self._deliver(reply)
            return
        if code == 0:  # an empty CON is a ping, answered by a reset; an empty NON is meaningless
            if mtype == _CON:
                self._send(struct.pack("!BBH", 0x40 | (_RST << 4), 0, mid))
            return
        # A separate response. A confirmable one is acknowledged if it answers this download's requests (a duplicate
        # of one already taken is acknowledged again), and reset if not, or if it cannot be read (RFC 7252 4.2).
        reply = parse_reply(data, 4 + tkl) if current else None
        if mtype == _CON:
            ours = reply is not None if current else self._is_ours(token)
            self._send(struct.pack("!BBH", 0x40 | ((_ACK if ours else _RST) << 4), 0, mid))
        if reply is not None:
            self._deliver(reply)

    def error_received(self, exc: Exception) -> None:
        # ICMP, e.g. port unreachable: as aiocoap does, the request in flight fails.
        self._fail(exc if isinstance(exc, OSError) else OSError(str(exc)))

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._fail(exc if exc is not None else ExchangeFailed("the download's socket closed"))
