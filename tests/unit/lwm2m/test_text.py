"""Plain text and opaque single values, plain CBOR, the LwM2M 1.0 JSON format and decode_content's dispatch."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fota.adapters.lwm2m.codec import CodecError, ContentFormat, decode_content, encode_opaque, encode_text
from fota.adapters.lwm2m.codec.cbor import encode_cbor
from fota.adapters.lwm2m.codec.model import DEFAULT_MODEL
from fota.adapters.lwm2m.codec.text import decode_text


@pytest.mark.parametrize(
    ("path", "text", "value"),
    [
        ((3, 0, 0), "Open Mobile Alliance", "Open Mobile Alliance"),
        ((3, 0, 3), "SR1.2.0.0-10657", "SR1.2.0.0-10657"),
        ((3, 0, 9), "100", 100),
        ((3, 0, 9), "-5", -5),
        ((3, 0, 13), "1367491215", 1367491215),
        ((5, 0, 3), "2", 2),
        ((5, 0, 4), "1", True),
        ((5, 0, 4), "0", False),
        ((5, 0, 13), "86400", 86400),
        ((3, 0, 22, 0), "66:1", (66, 1)),
        ((5, 0, 0), "AQIDBAU=", b"\x01\x02\x03\x04\x05"),
        ((3, 0, 99), "unknown stays text", "unknown stays text"),
    ],
)
def test_decode_text(path, text, value):
    assert decode_text(text.encode(), path, DEFAULT_MODEL) == value
    assert decode_content(text.encode(), ContentFormat.TEXT, path) == {path: value}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (100, "100"),
        (-5, "-5"),
        (True, "1"),
        (False, "0"),
        (1.5, "1.5"),
        (1e20, "100000000000000000000"),
        (1e-7, "0.0000001"),
        ("coap://[::1]:5683/fw/abc", "coap://[::1]:5683/fw/abc"),
        ((1, 2), "1:2"),
        (b"\x01\x02\x03\x04\x05", "AQIDBAU="),
    ],
)
def test_encode_text(value, text):
    assert encode_text(value) == text.encode()


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_text_round_trip(value: float):
    text = encode_text(value)
    assert b"e" not in text.lower()
    assert float(text) == value


@pytest.mark.parametrize(
    ("path", "payload", "message"),
    [
        ((3, 0, 9), b"12a", "integer"),
        ((3, 0, 9), b"", "integer"),
        ((3, 0, 9), b" 1", "integer"),
        ((5, 0, 13), b"-1", "unsigned"),
        ((5, 0, 4), b"true", "boolean"),
        ((3, 0, 22, 0), b"66", "object link"),
        ((3, 0, 22, 0), b"66:70000", "object link"),
        ((5, 0, 0), b"not base64!", "base64"),
        ((3, 0, 0), b"\xc3\x28", "UTF-8"),
        ((3, 0), b"x", "3 to 4"),
    ],
)
def test_malformed_text(path, payload, message):
    with pytest.raises(CodecError, match=message):
        decode_text(payload, path, DEFAULT_MODEL)


def test_text_refuses_non_finite_floats():
    with pytest.raises(CodecError):
        encode_text(float("nan"))


def test_opaque():
    image = bytes(range(256)) * 4
    assert encode_opaque(image) == image
    assert decode_content(image, ContentFormat.OPAQUE, (5, 0, 0)) == {(5, 0, 0): image}
    with pytest.raises(CodecError, match="bytes"):
        encode_opaque("text")  # type: ignore[arg-type]
    with pytest.raises(CodecError, match="3 to 4"):
        decode_content(image, ContentFormat.OPAQUE, (5, 0))


def test_plain_cbor():
    assert decode_content(cbor2.dumps("1.0"), ContentFormat.CBOR, (3, 0, 3)) == {(3, 0, 3): "1.0"}
    assert decode_content(cbor2.dumps(2), ContentFormat.CBOR, (5, 0, 3)) == {(5, 0, 3): 2}
    assert decode_content(encode_cbor((66, 1)), ContentFormat.CBOR, (3, 0, 22, 0)) == {(3, 0, 22, 0): (66, 1)}
    # Time as a tag-1 epoch.
    assert decode_content(bytes.fromhex("c11a5182428f"), ContentFormat.CBOR, (3, 0, 13)) == {(3, 0, 13): 1367491215}
    with pytest.raises(CodecError, match="Firmware Version"):
        decode_content(cbor2.dumps(3), ContentFormat.CBOR, (3, 0, 3))
    with pytest.raises(CodecError, match="not a resource value"):
        decode_content(cbor2.dumps([1]), ContentFormat.CBOR, (3, 0, 3))
    with pytest.raises(CodecError, match="CBOR"):
        decode_content(b"\x19\x01", ContentFormat.CBOR, (3, 0, 9))


def test_lwm2m_json_of_lwm2m_1_0():
    payload = (
        b'{"bn":"/3/0/","e":[{"n":"0","sv":"Open Mobile Alliance"},{"n":"6/0","v":1},'
        b'{"n":"13","v":1367491215},{"n":"22/0","ov":"66:0"}]}'
    )
    assert decode_content(payload, ContentFormat.LWM2M_JSON, (3, 0)) == {
        (3, 0, 0): "Open Mobile Alliance",
        (3, 0, 6, 0): 1,
        (3, 0, 13): 1367491215,
        (3, 0, 22, 0): (66, 0),
    }
    assert decode_content(b'{"e":[{"n":"/5/0/4","bv":true}]}', ContentFormat.LWM2M_JSON, (5, 0)) == {(5, 0, 4): True}
    for bad in (b"{}", b'{"e":[{"n":"0"}]}', b'{"e":[{"n":"x","v":1}]}', b'{"e":[{"n":"0","v":"1"}]}', b"\xff"):
        with pytest.raises(CodecError):
            decode_content(bad, ContentFormat.LWM2M_JSON, (3, 0))


def test_decode_content_dispatch_errors():
    with pytest.raises(CodecError, match="content format 50"):
        decode_content(b"{}", 50, (3, 0))
    with pytest.raises(CodecError, match="ids are integers"):
        decode_content(b"", ContentFormat.TLV, (3, -1))
    with pytest.raises(CodecError, match="1 to 4"):
        decode_content(b"", ContentFormat.TLV, ())


def test_firmware_version_read_in_every_format():
    """What the server does at registration: read /3/0/3, whatever format the client answers in."""
    expected = {(3, 0, 3): "SR1.2.0.0-10657"}
    answers = {
        ContentFormat.TEXT: b"SR1.2.0.0-10657",
        ContentFormat.TLV: b"\xc8\x03\x0fSR1.2.0.0-10657",
        ContentFormat.SENML_JSON: b'[{"bn":"/3/0/3","vs":"SR1.2.0.0-10657"}]',
        ContentFormat.SENML_CBOR: cbor2.dumps([{-2: "/3/0/3", 3: "SR1.2.0.0-10657"}]),
        ContentFormat.CBOR: cbor2.dumps("SR1.2.0.0-10657"),
    }
    for content_format, payload in answers.items():
        assert decode_content(payload, content_format, (3, 0, 3)) == expected, content_format.name
