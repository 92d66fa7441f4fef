"""Block2 GETs of a coap:// URI written as datagrams by hand, for fleets where an aiocoap client a device costs more
CPU than the server it downloads from: one socket per download, one confirmable request at a time (RFC 7252, 7959).
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
from dataclasses import dataclass
from typing import cast
from urllib.parse import unquote, urlsplit

from aiocoap.optiontypes import BlockOption

from fota.adapters.lwm2m.codec import datagrams as wire

# RFC 7252 4.8: transmission parameters.
ACK_TIMEOUT = 2.0
ACK_RANDOM_FACTOR = 1.5
MAX_RETRANSMIT = 4

_TOKEN_LENGTH = 4
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
        options.append((wire.URI_HOST, host.encode("idna")))
    path = parts.path
    if path not in ("", "/"):
        options += [(wire.URI_PATH, unquote(segment).encode()) for segment in path[1:].split("/")]
    if parts.query:
        options += [(wire.URI_QUERY, unquote(item).encode()) for item in parts.query.split("&")]
    if any(len(value) > 255 for _, value in options):
        raise ValueError(f"an option of {uri!r} is longer than 255 bytes")
    return host, port, wire.encoded_options(options), options[-1][0] if options else 0


def parse_reply(data: bytes, offset: int) -> BlockReply | None:
    """The options and payload from `offset` (just after the token) of a response; None if malformed."""
    try:
        found, payload = wire.options(data, offset)
    except wire.MalformedMessage:
        return None
    etag: bytes | None = None
    max_age: int | None = None
    block2: BlockOption.BlockwiseTuple | None = None
    for number, value in found:
        if number == wire.ETAG and etag is None:
            etag = value
        elif number == wire.MAX_AGE:
            max_age = int.from_bytes(value, "big")
        elif number == wire.BLOCK2:
            raw = int.from_bytes(value, "big")
            if raw & 0x7 == 7:
                return None  # SZX 7 is reserved (RFC 7959 2.2)
            block2 = BlockOption.BlockwiseTuple(raw >> 4, bool(raw & 0x8), raw & 0x7)
    return BlockReply(data[1], payload, block2, etag, max_age)


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
        block2 = wire.encoded_option(wire.BLOCK2 - self._last_option, wire.uint(value))
        self._datagram = (
            wire.header_bytes(wire.CON, wire.GET, self._mid, self._token.to_bytes(_TOKEN_LENGTH, "big"))
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
        try:
            mtype, code, mid, token = wire.header(data)
        except wire.MalformedMessage:
            return
        offset = 4 + len(token)
        pending = self._reply is not None and not self._reply.done()
        current = pending and len(token) == _TOKEN_LENGTH and int.from_bytes(token, "big") == self._token
        if mtype in (wire.ACK, wire.RST):
            if not pending or mid != self._mid:
                return  # a late answer to an earlier request or retransmission
            if mtype == wire.RST:
                self._fail(ExchangeFailed("the server reset the request"))
            elif code == 0 and not self._acknowledged:
                # The response follows in a message of its own: no more retransmissions, only the deadline is left.
                self._acknowledged = True
                if self._timer is not None:
                    self._timer.cancel()
                self._timer = self._loop.call_at(self._deadline, self._timed_out)
            elif current and (reply := parse_reply(data, offset)) is not None:
                self._deliver(reply)
            return
        if code == 0:  # an empty CON is a ping, answered by a reset; an empty NON is meaningless
            if mtype == wire.CON:
                self._send(wire.header_bytes(wire.RST, 0, mid, b""))
            return
        # A separate response. A confirmable one is acknowledged if it answers this download's requests (a duplicate
        # of one already taken is acknowledged again), and reset if not, or if it cannot be read (RFC 7252 4.2).
        reply = parse_reply(data, offset) if current else None
        if mtype == wire.CON:
            ours = reply is not None if current else self._is_ours(token)
            self._send(wire.header_bytes(wire.ACK if ours else wire.RST, 0, mid, b""))
        if reply is not None:
            self._deliver(reply)

    def error_received(self, exc: Exception) -> None:
        # ICMP, e.g. port unreachable: as aiocoap does, the request in flight fails.
        self._fail(exc if isinstance(exc, OSError) else OSError(str(exc)))

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._fail(exc if exc is not None else ExchangeFailed("the download's socket closed"))
