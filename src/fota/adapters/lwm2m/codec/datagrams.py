"""CoAP messages as bytes (RFC 7252 3): the header fields, options and payload that the server's direct block path and
the simulator's datagram downloads read and write without a CoAP library in the loop."""

from __future__ import annotations

import struct
from typing import NamedTuple

from fota.adapters.lwm2m.codec.errors import CodecError

CON, NON, ACK, RST = 0, 1, 2, 3
GET = 0x01
CONTENT = 0x45  # 2.05
SERVICE_UNAVAILABLE = 0xA3  # 5.03

URI_HOST, ETAG, URI_PORT, URI_PATH, CONTENT_FORMAT, MAX_AGE, URI_QUERY, ACCEPT, BLOCK2, SIZE2 = (
    3,
    4,
    7,
    11,
    12,
    14,
    15,
    17,
    23,
    28,
)
PAYLOAD_MARKER = 0xFF


class MalformedMessage(CodecError):
    """Bytes that are not a well-formed CoAP message (RFC 7252 3 and 4.2: such a message is ignored or reset)."""


class Header(NamedTuple):
    """The fixed four bytes and the token."""

    mtype: int
    code: int
    mid: int
    token: bytes


def header(data: bytes) -> Header:
    if len(data) < 4 or data[0] >> 6 != 1:
        raise MalformedMessage("not a CoAP version 1 message")
    tkl = data[0] & 0x0F
    if tkl > 8 or len(data) < 4 + tkl:
        raise MalformedMessage("a token length past 8 bytes or past the datagram")
    return Header((data[0] >> 4) & 0x3, data[1], (data[2] << 8) | data[3], data[4 : 4 + tkl])


def options(data: bytes, offset: int) -> tuple[list[tuple[int, bytes]], bytes]:
    """The (option number, value) pairs from `offset` (just after the token), in order, and the payload."""
    found: list[tuple[int, bytes]] = []
    number = 0
    end = len(data)
    while offset < end:
        byte = data[offset]
        offset += 1
        if byte == PAYLOAD_MARKER:
            if offset == end:
                raise MalformedMessage("a payload marker with no payload")
            return found, data[offset:]
        delta, length = byte >> 4, byte & 0x0F
        if delta == 15 or length == 15:
            raise MalformedMessage("the reserved nibble 15 outside a payload marker")
        delta, offset = _extended(data, delta, offset)
        length, offset = _extended(data, length, offset)
        number += delta
        if offset + length > end:
            raise MalformedMessage("an option runs past the datagram")
        found.append((number, data[offset : offset + length]))
        offset += length
    return found, b""


def _extended(data: bytes, nibble: int, offset: int) -> tuple[int, int]:
    try:
        if nibble == 13:
            return data[offset] + 13, offset + 1
        if nibble == 14:
            return ((data[offset] << 8) | data[offset + 1]) + 269, offset + 2
    except IndexError:
        raise MalformedMessage("an extended option field runs past the datagram") from None
    return nibble, offset


def encoded_option(delta: int, value: bytes) -> bytes:
    """One CoAP option (RFC 7252 3.1): `delta` from the option before it, then the value's length and bytes."""
    (d, d_extended), (n, n_extended) = _nibble(delta), _nibble(len(value))
    return bytes([(d << 4) | n]) + d_extended + n_extended + value


def encoded_options(items: list[tuple[int, bytes]]) -> bytes:
    """Options given in ascending number order, each encoded as a delta from the one before."""
    encoded = b""
    last = 0
    for number, value in items:
        encoded += encoded_option(number - last, value)
        last = number
    return encoded


def uint(value: int) -> bytes:
    """An option's uint value in as few bytes as it needs (zero is empty, RFC 7252 3.2)."""
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def block_value(number: int, more: bool, szx: int) -> int:
    """A Block1/Block2 option's value (RFC 7959 2.2)."""
    return (number << 4) | (0x8 if more else 0) | szx


def header_bytes(mtype: int, code: int, mid: int, token: bytes) -> bytes:
    return struct.pack("!BBH", 0x40 | (mtype << 4) | len(token), code, mid) + token


def _nibble(n: int) -> tuple[int, bytes]:
    if n < 13:
        return n, b""
    if n < 269:
        return 13, bytes([n - 13])
    return 14, struct.pack("!H", n - 269)
