"""SenML JSON and CBOR as LwM2M 1.1 uses them: the specification's tables, round trips and malformed packs."""

from __future__ import annotations

import contextlib
import json

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fota.adapters.lwm2m.codec import CodecError, ContentFormat, decode_content, encode_senml_cbor, encode_senml_json
from fota.adapters.lwm2m.codec.model import Value
from fota.adapters.lwm2m.codec.senml import decode_senml_cbor, decode_senml_json

# LwM2M 1.1 Table 7.4.4-2: Read /3/0 in SenML JSON.
DEVICE_JSON = (
    b'[{"bn":"/3/0/","n":"0","vs":"Open Mobile Alliance"},'
    b'{"n":"1","vs":"Lightweight M2M Client"},'
    b'{"n":"2","vs":"345000123"},'
    b'{"n":"3","vs":"1.0"},'
    b'{"n":"6/0","v":1},'
    b'{"n":"6/1","v":5},'
    b'{"n":"7/0","v":3800},'
    b'{"n":"7/1","v":5000},'
    b'{"n":"8/0","v":125},'
    b'{"n":"8/1","v":900},'
    b'{"n":"9","v":100},'
    b'{"n":"10","v":15},'
    b'{"n":"11/0","v":0},'
    b'{"n":"13","v":1367491215},'
    b'{"n":"14","vs":"+02:00"},'
    b'{"n":"16","vs":"U"}]'
)
DEVICE_VALUES: dict[tuple[int, ...], Value] = {
    (3, 0, 0): "Open Mobile Alliance",
    (3, 0, 1): "Lightweight M2M Client",
    (3, 0, 2): "345000123",
    (3, 0, 3): "1.0",
    (3, 0, 6, 0): 1,
    (3, 0, 6, 1): 5,
    (3, 0, 7, 0): 3800,
    (3, 0, 7, 1): 5000,
    (3, 0, 8, 0): 125,
    (3, 0, 8, 1): 900,
    (3, 0, 9): 100,
    (3, 0, 10): 15,
    (3, 0, 11, 0): 0,
    (3, 0, 13): 1367491215,
    (3, 0, 14): "+02:00",
    (3, 0, 16): "U",
}
# The same table in SenML CBOR (§7.4.5): integer labels -2 bn, 0 n, 2 v, 3 vs.
DEVICE_CBOR = bytes.fromhex(
    "90a3216"
    "52f332f302f00613003744f70656e204d6f62696c6520416c6c69616e6365"
    "a20061310376 4c696768747765696768 74204d324d20436c69656e74"
    "a200613203693334353030303132 33"
    "a20061330363312e30"
    "a20063362f300201 a20063362f310205"
    "a20063372f3002190ed8 a20063372f310219 1388"
    "a20063382f3002187d a20063382f3102190384"
    "a2006139021864 a2006231300 20f"
    "a20064 31312f300200"
    "a2006231330 21a5182428f"
    "a20062313403662b30323a3030"
    "a2006231360361 55".replace(" ", "")
)
# Table 7.4.4-4: object links, with the base name "/" and full names below it.
LINKS_JSON = (
    b'[{"bn":"/","n":"65/0/0/0","vlo":"66:0"},'
    b'{"n":"65/0/0/1","vlo":"66:1"},'
    b'{"n":"65/0/1","vs":"8613800755500"},'
    b'{"n":"65/0/2","v":1},'
    b'{"n":"66/0/0","vs":"myService1"},'
    b'{"n":"66/0/1","vs":"Internet.15.234"},'
    b'{"n":"66/0/2","vlo":"67:0"},'
    b'{"n":"66/1/0","vs":"myService2"},'
    b'{"n":"66/1/1","vs":"Internet.15.235"},'
    b'{"n":"66/1/2","vlo":"65535:65535"},'
    b'{"n":"67/0/0","vs":"85.76.76.84"},'
    b'{"n":"67/0/1","vs":"85.76.255.255"}]'
)


def test_device_instance_json():
    assert decode_senml_json(DEVICE_JSON) == DEVICE_VALUES
    assert decode_content(DEVICE_JSON, ContentFormat.SENML_JSON, (3, 0)) == DEVICE_VALUES
    assert encode_senml_json(DEVICE_VALUES, (3, 0)) == DEVICE_JSON


def test_device_instance_cbor():
    assert decode_senml_cbor(DEVICE_CBOR) == DEVICE_VALUES
    assert decode_content(DEVICE_CBOR, ContentFormat.SENML_CBOR, (3, 0)) == DEVICE_VALUES
    assert encode_senml_cbor(DEVICE_VALUES, (3, 0)) == DEVICE_CBOR


def test_single_resource_uses_the_base_name_alone():
    # Table 7.4.4-5: Read /3/0/0.
    payload = b'[{"bn":"/3/0/0","vs":"Open Mobile Alliance"}]'
    assert decode_senml_json(payload) == {(3, 0, 0): "Open Mobile Alliance"}
    assert encode_senml_json({(3, 0, 0): "Open Mobile Alliance"}, (3, 0, 0)) == payload
    cbor = encode_senml_cbor({(3, 0, 0): "Open Mobile Alliance"}, (3, 0, 0))
    assert cbor2.loads(cbor) == [{-2: "/3/0/0", 3: "Open Mobile Alliance"}]


def test_object_links_and_names_under_the_root():
    values = decode_senml_json(LINKS_JSON)
    assert values[(65, 0, 0, 0)] == (66, 0)
    assert values[(66, 1, 2)] == (65535, 65535)
    assert values[(65, 0, 2)] == 1
    assert values[(67, 0, 1)] == "85.76.255.255"
    cbor = encode_senml_cbor(values)
    assert decode_senml_cbor(cbor) == values
    assert cbor2.loads(cbor)[0] == {0: "/65/0/0/0", "vlo": "66:0"}


def test_composite_write_and_booleans():
    # Table 7.4.4-8: a Write-Composite with full names and no base name.
    payload = (
        b'[{"n":"/3311/0/5850", "vb":false},{"n":"/3311/1/5850", "vb":false},'
        b'{"n":"/3311/2/5851", "v":20},{"n":"/3308/0/5900", "v":18}]'
    )
    values = decode_senml_json(payload)
    assert values == {(3311, 0, 5850): False, (3311, 1, 5850): False, (3311, 2, 5851): 20, (3308, 0, 5900): 18}
    assert json.loads(encode_senml_json(values)) == [
        {"n": "/3308/0/5900", "v": 18},
        {"n": "/3311/0/5850", "vb": False},
        {"n": "/3311/1/5850", "vb": False},
        {"n": "/3311/2/5851", "v": 20},
    ]


def test_timestamped_values_keep_the_newest():
    # Table 7.4.4-3: three readings of /72/0/1... the newest (t = -5 from bt) is the current value.
    payload = (
        b'[{"bn":"/72/","bt":25462634,"n":"1/2","v":22.4,"t":-5},'
        b'{"n":"1/2","v":22.9,"t":-30},{"n":"1/2","v":24.1,"t":-50}]'
    )
    assert decode_senml_json(payload) == {(72, 1, 2): 22.4}


def test_opaque_data_value():
    assert decode_senml_json(b'[{"bn":"/5/0/0","vd":"AAEC_w"}]') == {(5, 0, 0): b"\x00\x01\x02\xff"}
    assert encode_senml_json({(5, 0, 0): b"\x00\x01\x02\xff"}, (5, 0, 0)) == b'[{"bn":"/5/0/0","vd":"AAEC_w"}]'
    assert decode_senml_cbor(cbor2.dumps([{-2: "/5/0/0", 8: b"\x00\xff"}])) == {(5, 0, 0): b"\x00\xff"}


def test_base_value_and_unknown_fields():
    payload = b'[{"bn":"/3/0/","bv":10,"n":"9","v":5,"u":"%","x-vendor":1}]'
    assert decode_senml_json(payload) == {(3, 0, 9): 15}


def test_model_types_apply_in_decode_content():
    payload = b'[{"bn":"/3/0/","n":"9","v":100.0},{"n":"13","v":1367491215}]'
    assert decode_content(payload, ContentFormat.SENML_JSON, (3, 0)) == {(3, 0, 9): 100, (3, 0, 13): 1367491215}
    with pytest.raises(CodecError, match="Battery Level"):
        decode_content(b'[{"bn":"/3/0/9","vs":"full"}]', ContentFormat.SENML_JSON, (3, 0, 9))
    with pytest.raises(CodecError, match="outside"):
        decode_content(b'[{"bn":"/3/0/9","v":1}]', ContentFormat.SENML_JSON, (5, 0))


def test_empty_pack():
    assert decode_senml_json(b"[]") == {}
    assert decode_senml_cbor(b"\x80") == {}


senml_values = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.text(max_size=40),
    st.binary(max_size=40),
    st.tuples(st.integers(0, 65535), st.integers(0, 65535)),
)
paths = st.tuples(st.integers(0, 65535), st.integers(0, 65535), st.integers(0, 65535))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(paths, senml_values, max_size=8))
def test_round_trip(values: dict[tuple[int, ...], Value]):
    assert decode_senml_json(encode_senml_json(values)) == values
    assert decode_senml_cbor(encode_senml_cbor(values)) == values


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.integers(0, 65535), senml_values, min_size=1, max_size=8))
def test_round_trip_under_a_base(resources):
    values: dict[tuple[int, ...], Value] = {(3, 0, rid): value for rid, value in resources.items()}
    assert decode_senml_json(encode_senml_json(values, (3, 0))) == values
    assert decode_senml_cbor(encode_senml_cbor(values, (3, 0))) == values


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\xff[]", "UTF-8"),
        (b"[{", "not valid JSON"),
        (b'{"bn":"/3/0/0"}', "array"),
        (b"[1]", "map"),
        (b'[{"n":"/3/0/0"}]', "exactly one"),
        (b'[{"n":"/3/0/0","v":1,"vs":"x"}]', "exactly one"),
        (b'[{"v":1}]', "no name"),
        (b'[{"n":"/3/x/0","v":1}]', "LwM2M path"),
        (b'[{"n":"/3/0/0/0/0","v":1}]', "LwM2M path"),
        (b'[{"n":"/3/0/70000","v":1}]', "LwM2M path"),
        (b'[{"n":"/3/0/0","v":"1"}]', "number"),
        (b'[{"n":"/3/0/0","v":true}]', "number"),
        (b'[{"n":"/3/0/0","vs":1}]', "string"),
        (b'[{"n":"/3/0/0","vb":1}]', "boolean"),
        (b'[{"n":"/3/0/0","vd":"***"}]', "base64"),
        (b'[{"n":"/3/0/0","vlo":"66"}]', "object link"),
        (b'[{"n":"/3/0/0","v":NaN}]', "not a JSON number"),
        (b'[{"n":"/3/0/0","v":1,"v":2}]', "repeats"),
        (b'[{"n":"/3/0/0","v":1,"ext_":2}]', "must-understand"),
        (b'[{"bn":3,"n":"0","v":1}]', "bn must be a string"),
    ],
)
def test_malformed_json(payload: bytes, message: str):
    with pytest.raises(CodecError, match=message):
        decode_senml_json(payload)


@pytest.mark.parametrize(
    ("pack", "message"),
    [
        (b"\x81\xa2\x00\x66/3/0/0", "not valid CBOR"),  # truncated
        (cbor2.dumps([{0: "/3/0/0", 2: 1}]) + b"\x00", "after the pack"),
        (cbor2.dumps({0: "/3/0/0"}), "array"),
        (cbor2.dumps([[0, "/3/0/0"]]), "map"),
        (cbor2.dumps([{0: "/3/0/0", 2: "1"}]), "number"),
        (cbor2.dumps([{0: "/3/0/0", 3: b"bytes"}]), "string"),
        (cbor2.dumps([{0: "/3/0/0", 4: 1}]), "boolean"),
        (cbor2.dumps([{0: "/3/0/0", 8: "text"}]), "byte string"),
        (cbor2.dumps([{0: 3, 2: 1}]), "string"),
        (cbor2.dumps([{b"n": "/3/0/0", 2: 1}]), "map keys"),
        (cbor2.dumps([{0: "/3/0/0", "vlo": 660}]), "string"),
    ],
)
def test_malformed_cbor(pack: bytes, message: str):
    with pytest.raises(CodecError, match=message):
        decode_senml_cbor(pack)


@given(st.binary(max_size=64))
def test_random_cbor_never_raises_anything_but_codec_error(payload: bytes):
    with contextlib.suppress(CodecError):
        decode_senml_cbor(payload)
