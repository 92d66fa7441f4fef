"""CoAP messages as bytes: options written by `encoded_options` read back by `options` (against aiocoap's own decoder
too), and no input makes the reader fail other than with MalformedMessage."""

from __future__ import annotations

import pytest
from aiocoap import Message
from hypothesis import given
from hypothesis import strategies as st

from fota.adapters.lwm2m.codec import datagrams as wire

option_lists = st.lists(st.tuples(st.integers(min_value=1, max_value=2000), st.binary(max_size=300)), max_size=6).map(
    lambda items: sorted(items, key=lambda item: item[0])
)


@given(option_lists, st.binary(max_size=64), st.binary(max_size=8), st.integers(0, 0xFFFF))
def test_written_options_read_back(items: list[tuple[int, bytes]], payload: bytes, token: bytes, mid: int) -> None:
    data = wire.header_bytes(wire.NON, wire.GET, mid, token) + wire.encoded_options(items)
    if payload:
        data += bytes([wire.PAYLOAD_MARKER]) + payload
    assert wire.header(data) == (wire.NON, wire.GET, mid, token)
    assert wire.options(data, 4 + len(token)) == (items, payload)


# Numbers aiocoap reads as opaque bytes: If-Match, ETag and unassigned ones (it decodes the strings and uints it knows).
opaque_option_lists = st.lists(
    st.tuples(st.sampled_from([1, 4, 300, 301, 777, 1500, 1999]), st.binary(max_size=300)), max_size=6
).map(lambda items: sorted(items, key=lambda item: item[0]))


@given(opaque_option_lists, st.binary(max_size=64))
def test_aiocoap_reads_what_is_written(items: list[tuple[int, bytes]], payload: bytes) -> None:
    data = wire.header_bytes(wire.CON, wire.CONTENT, 7, b"\x01\x02") + wire.encoded_options(items)
    if payload:
        data += bytes([wire.PAYLOAD_MARKER]) + payload
    decoded = Message.decode(data)
    assert [(int(o.number), o.encode()) for o in decoded.opt.option_list()] == items
    assert decoded.payload == payload
    assert (decoded.mid, decoded.token) == (7, b"\x01\x02")


@given(st.binary(max_size=80))
def test_any_bytes_are_read_or_refused_as_malformed(data: bytes) -> None:
    try:
        _, _, _, token = wire.header(data)
        wire.options(data, 4 + len(token))
    except wire.MalformedMessage:
        pass


@pytest.mark.parametrize(
    "data",
    [
        b"\x40\x01",  # shorter than the header
        b"\x80\x01\x00\x00",  # version 2
        b"\x49\x01\x00\x00",  # a token length of 9
        b"\x44\x01\x00\x00\x01",  # a token past the datagram
        b"\x40\x01\x00\x00\xff",  # a payload marker with no payload
        b"\x40\x01\x00\x00\xd1",  # an extended delta past the datagram
        b"\x40\x01\x00\x00\xb5ab",  # an option value past the datagram
        b"\x40\x01\x00\x00\xf0",  # delta nibble 15 outside a payload marker
    ],
)
def test_malformed_messages(data: bytes) -> None:
    with pytest.raises(wire.MalformedMessage):
        _, _, _, token = wire.header(data)
        wire.options(data, 4 + len(token))


def test_uint_and_block_values() -> None:
    assert wire.uint(0) == b""
    assert wire.uint(255) == b"\xff"
    assert wire.uint(256) == b"\x01\x00"
    assert wire.block_value(0, True, 5) == 0x0D
    assert wire.block_value(127, False, 6) == (127 << 4) | 6
