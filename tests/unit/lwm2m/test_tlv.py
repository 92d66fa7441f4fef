"""OMA TLV: the specification's examples byte for byte, round trips over random trees, and malformed input."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fota.adapters.lwm2m.codec import DEFAULT_MODEL, CodecError, decode_tlv, encode_tlv, typed
from fota.adapters.lwm2m.codec.model import ObjectModel, Path, ResourceModel, ResourceType, Value
from fota.adapters.lwm2m.codec.tlv import decode_value, encode_value


def hexbytes(text: str) -> bytes:
    return bytes.fromhex(" ".join(text.split()))


# LwM2M 1.0 §6.4.3.1 / 1.1 §7.4.3.1: Read /3/0, the Device Object Instance as bare resource TLVs.
DEVICE_RESOURCES = hexbytes("""
    C8 00 14 4F 70 65 6E 20 4D 6F 62 69 6C 65 20 41 6C 6C 69 61 6E 63 65
    C8 01 16 4C 69 67 68 74 77 65 69 67 68 74 20 4D 32 4D 20 43 6C 69 65 6E 74
    C8 02 09 33 34 35 30 30 30 31 32 33
    C3 03 31 2E 30
    86 06 41 00 01 41 01 05
    88 07 08 42 00 0E D8 42 01 13 88
    87 08 41 00 7D 42 01 03 84
    C1 09 64
    C1 0A 0F
    83 0B 41 00 00
    C4 0D 51 82 42 8F
    C6 0E 2B 30 32 3A 30 30
    C1 10 55
""")
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
# The same instance read as /3: one Object Instance TLV of 0x79 = 121 bytes around it.
DEVICE_OBJECT = hexbytes("08 00 79") + DEVICE_RESOURCES

# §6.4.3.2 A: Read /2, two Access Control Object Instances; instance 2 has ACL[310] (a 16-bit id).
# The specification prints the ACL header of instance 2 as "86 02" but its value is 7 bytes: "87 02" is right.
ACCESS_CONTROL = hexbytes("""
    08 00 0E  C1 00 01  C1 01 00  83 02 41 7F 07  C1 03 7F
    08 02 12  C1 00 03  C1 01 00  87 02 41 7F 07 61 01 36 01  C1 03 7F
""")
ACCESS_CONTROL_RAW = {
    (2, 0, 0): b"\x01",
    (2, 0, 1): b"\x00",
    (2, 0, 2, 127): b"\x07",
    (2, 0, 3): b"\x7f",
    (2, 2, 0): b"\x03",
    (2, 2, 1): b"\x00",
    (2, 2, 2, 127): b"\x07",
    (2, 2, 2, 310): b"\x01",
    (2, 2, 3): b"\x7f",
}
# §6.4.3.2 B: Read /1, one Server Object Instance (printed with length 0D in one edition; its content is 15 bytes).
SERVER = hexbytes("08 00 0F  C1 00 01  C4 01 00 01 51 80  C1 06 01  C1 07 55")
# §6.4.3.3: an Object Instance with an Objlnk multiple resource (object 65), and two instances of object 66.
OBJ65 = hexbytes(
    "88 00 0C 44 00 00 42 00 00 44 01 00 42 00 01  C8 01 0D 38 36 31 33 38 30 30 37 35 35 35 30 30  C4 02 12 34 56 78"
)
OBJ66 = hexbytes("""
    08 00 26  C8 00 0B 6D 79 53 65 72 76 69 63 65 20 31  C8 01 0F 49 6E 74 65 72 6E 65 74 2E 31 35 2E 32 33 34
              C4 02 00 43 00 00
    08 01 26  C8 00 0B 6D 79 53 65 72 76 69 63 65 20 32  C8 01 0F 49 6E 74 65 72 6E 65 74 2E 31 35 2E 32 33 35
              C4 02 FF FF FF FF
""")
LINK_MODEL = {
    65: ObjectModel(
        65,
        "object link tests 65",
        {
            0: ResourceModel(0, "res0", ResourceType.OBJLNK, multiple=True),
            1: ResourceModel(1, "res1", ResourceType.STRING),
            2: ResourceModel(2, "res2", ResourceType.INTEGER),
        },
    ),
    66: ObjectModel(
        66,
        "object link tests 66",
        {
            0: ResourceModel(0, "res0", ResourceType.STRING),
            1: ResourceModel(1, "res1", ResourceType.STRING),
            2: ResourceModel(2, "res2", ResourceType.OBJLNK),
        },
    ),
}


def typed_all(raw: dict[tuple[int, ...], bytes], model=DEFAULT_MODEL) -> dict[tuple[int, ...], Value]:
    return {path: typed(path, value, model) for path, value in raw.items()}


# --- the specification's examples -----------------------------------------------------------------------------------


def test_device_instance_decodes_to_the_spec_values():
    assert typed_all(decode_tlv(DEVICE_RESOURCES, (3, 0))) == DEVICE_VALUES


def test_device_instance_encodes_byte_for_byte():
    assert encode_tlv(DEVICE_VALUES, (3, 0)) == DEVICE_RESOURCES


def test_device_object_read_wraps_the_instance():
    assert typed_all(decode_tlv(DEVICE_OBJECT, (3,))) == DEVICE_VALUES
    assert encode_tlv(DEVICE_VALUES, (3,)) == DEVICE_OBJECT


def test_an_instance_wrapper_is_accepted_on_an_instance_read():
    assert typed_all(decode_tlv(DEVICE_OBJECT, (3, 0))) == DEVICE_VALUES


def test_available_power_sources_multiple_resource():
    wrapped = hexbytes("86 06 41 00 01 41 01 05")
    expected: dict[Path, Value] = {(3, 0, 6, 0): 1, (3, 0, 6, 1): 5}
    assert typed_all(decode_tlv(wrapped, (3, 0, 6))) == expected
    assert encode_tlv(expected, (3, 0, 6)) == wrapped
    # Some clients answer a multiple-resource read with the bare Resource Instance TLVs.
    assert typed_all(decode_tlv(hexbytes("41 00 01 41 01 05"), (3, 0, 6))) == expected
    assert typed_all(decode_tlv(hexbytes("41 01 05"), (3, 0, 6, 1))) == {(3, 0, 6, 1): 5}
    assert encode_tlv({(3, 0, 6, 1): 5}, (3, 0, 6, 1)) == hexbytes("41 01 05")


def test_multiple_object_instances():
    assert decode_tlv(ACCESS_CONTROL, (2,)) == ACCESS_CONTROL_RAW
    assert encode_tlv(ACCESS_CONTROL_RAW, (2,)) == ACCESS_CONTROL


def test_server_object_with_one_instance():
    raw = decode_tlv(SERVER, (1,))
    assert raw == {(1, 0, 0): b"\x01", (1, 0, 1): (86400).to_bytes(4, "big"), (1, 0, 6): b"\x01", (1, 0, 7): b"U"}
    values: dict[Path, Value] = {(1, 0, 0): 1, (1, 0, 1): 86400, (1, 0, 6): True, (1, 0, 7): "U"}
    assert encode_tlv(values, (1,)) == SERVER


def test_object_links():
    obj65 = typed_all(decode_tlv(OBJ65, (65, 0)), LINK_MODEL)
    assert obj65 == {
        (65, 0, 0, 0): (66, 0),
        (65, 0, 0, 1): (66, 1),
        (65, 0, 1): "8613800755500",
        (65, 0, 2): 0x12345678,
    }
    assert encode_tlv(obj65, (65, 0)) == OBJ65
    obj66 = typed_all(decode_tlv(OBJ66, (66,)), LINK_MODEL)
    assert obj66[(66, 0, 2)] == (67, 0)
    assert obj66[(66, 1, 2)] == (65535, 65535)
    assert obj66[(66, 1, 0)] == "myService 2"
    assert encode_tlv(obj66, (66,)) == OBJ66


def test_single_resource_and_unknown_resources_stay_bytes():
    assert decode_tlv(hexbytes("C3 03 31 2E 30"), (3, 0, 3)) == {(3, 0, 3): b"1.0"}
    assert typed((3, 0, 99), b"\x01\x02", DEFAULT_MODEL) == b"\x01\x02"
    assert typed((4242, 0, 1), b"abc", DEFAULT_MODEL) == b"abc"


def test_firmware_update_resources():
    payload = encode_tlv({(5, 0, 3): 2, (5, 0, 5): 0, (5, 0, 1): "coap://fota/fw/x", (5, 0, 9): 2}, (5, 0))
    assert typed_all(decode_tlv(payload, (5, 0))) == {
        (5, 0, 1): "coap://fota/fw/x",
        (5, 0, 3): 2,
        (5, 0, 5): 0,
        (5, 0, 9): 2,
    }
    assert encode_tlv({(5, 0, 0): b"\x00" * 300}, (5, 0, 0))[:4] == hexbytes("D0 00 01 2C")


# --- header and value widths ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, "00"),
        (127, "7F"),
        (-128, "80"),
        (128, "00 80"),
        (-129, "FF 7F"),
        (32767, "7F FF"),
        (-32768, "80 00"),
        (32768, "00 00 80 00"),
        (2**31 - 1, "7F FF FF FF"),
        (-(2**31), "80 00 00 00"),
        (2**31, "00 00 00 00 80 00 00 00"),
        (2**63 - 1, "7F FF FF FF FF FF FF FF"),
        (-(2**63), "80 00 00 00 00 00 00 00"),
    ],
)
def test_integers_take_the_smallest_signed_width(value: int, encoded: str):
    assert encode_value(value) == hexbytes(encoded)
    assert decode_value(hexbytes(encoded), ResourceType.INTEGER) == value


def test_integers_beyond_64_bits_are_refused():
    with pytest.raises(CodecError, match="64"):
        encode_value(2**63)


def test_floats_booleans_objlnk_and_time():
    assert encode_value(1.5) == struct.pack(">f", 1.5)
    assert encode_value(0.1) == struct.pack(">d", 0.1)
    assert encode_value(1e300) == struct.pack(">d", 1e300)
    assert decode_value(struct.pack(">f", 1.5), ResourceType.FLOAT) == 1.5
    assert decode_value(struct.pack(">d", 0.1), ResourceType.FLOAT) == 0.1
    assert encode_value(True) == b"\x01"
    assert encode_value(False) == b"\x00"
    assert decode_value(b"\x01", ResourceType.BOOLEAN) is True
    assert encode_value((66, 1)) == hexbytes("00 42 00 01")
    assert decode_value(hexbytes("51 82 42 8F"), ResourceType.TIME) == 1367491215
    assert decode_value(hexbytes("FF FF"), ResourceType.UNSIGNED_INTEGER) == 65535


@pytest.mark.parametrize(
    ("resource_id", "length", "header"),
    [
        (0, 0, "C0 00"),
        (1, 7, "C7 01"),
        (1, 8, "C8 01 08"),
        (255, 255, "C8 FF FF"),
        (256, 256, "F0 01 00 01 00"),
        (65535, 65535, "F0 FF FF FF FF"),
        (2, 65536, "D8 02 01 00 00"),
        (300, 70000, "F8 01 2C 01 11 70"),
    ],
)
def test_identifier_and_length_fields(resource_id: int, length: int, header: str):
    payload = encode_tlv({(9999, 0, resource_id): b"x" * length}, (9999, 0))
    assert payload == hexbytes(header) + b"x" * length
    assert decode_tlv(payload, (9999, 0)) == {(9999, 0, resource_id): b"x" * length}


def test_24_bit_length_limit():
    largest = b"\x00" * 0xFFFFFF
    payload = encode_tlv({(5, 0, 0): largest}, (5, 0, 0))
    assert payload[:5] == hexbytes("D8 00 FF FF FF")
    assert decode_tlv(payload, (5, 0, 0)) == {(5, 0, 0): largest}
    with pytest.raises(CodecError, match="24-bit"):
        encode_tlv({(5, 0, 0): largest + b"\x00"}, (5, 0, 0))


Tree = dict[int, dict[int, Value | dict[int, Value]]]


# --- round trips -----------------------------------------------------------------------------------------------------

INTEGER_BOUNDARIES = [
    0,
    -1,
    1,
    -128,
    127,
    128,
    -129,
    -32768,
    32767,
    32768,
    -(2**31),
    2**31 - 1,
    2**31,
    -(2**63),
    2**63 - 1,
]
ids = st.one_of(st.integers(0, 300), st.integers(0, 65535))
values = st.one_of(
    st.sampled_from(INTEGER_BOUNDARIES),
    st.integers(-(2**63), 2**63 - 1),
    st.booleans(),
    st.floats(allow_nan=False),
    st.text(max_size=300),
    st.binary(max_size=300),
    st.tuples(st.integers(0, 65535), st.integers(0, 65535)),
)
resource = st.one_of(values, st.dictionaries(ids, values, min_size=1, max_size=4))
instance = st.dictionaries(ids, resource, min_size=1, max_size=6)
obj = st.dictionaries(ids, instance, min_size=1, max_size=3)


def flatten(object_id: int, tree: Tree) -> dict[tuple[int, ...], Value]:
    flat: dict[tuple[int, ...], Value] = {}
    for iid, resources in tree.items():
        for rid, content in resources.items():
            if isinstance(content, dict):
                flat.update({(object_id, iid, rid, riid): value for riid, value in content.items()})
            else:
                flat[(object_id, iid, rid)] = content
    return flat


def kind_of(value: Value) -> ResourceType:
    if isinstance(value, bool):
        return ResourceType.BOOLEAN
    if isinstance(value, int):
        return ResourceType.INTEGER
    if isinstance(value, float):
        return ResourceType.FLOAT
    if isinstance(value, str):
        return ResourceType.STRING
    if isinstance(value, tuple):
        return ResourceType.OBJLNK
    return ResourceType.OPAQUE


def assert_round_trip(flat: dict[tuple[int, ...], Value], base: tuple[int, ...]) -> None:
    raw = decode_tlv(encode_tlv(flat, base), base)
    assert set(raw) == set(flat)
    for path, value in flat.items():
        assert raw[path] == encode_value(value)
        assert decode_value(raw[path], kind_of(value)) == value


@settings(max_examples=200, deadline=None)
@given(object_id=ids, tree=obj)
def test_object_round_trip(object_id: int, tree: Tree):
    assert_round_trip(flatten(object_id, tree), (object_id,))


@settings(max_examples=200, deadline=None)
@given(object_id=ids, iid=ids, resources=instance)
def test_instance_round_trip(object_id: int, iid: int, resources: dict[int, Value | dict[int, Value]]):
    assert_round_trip(flatten(object_id, {iid: resources}), (object_id, iid))


@settings(max_examples=100, deadline=None)
@given(rid=ids, content=resource)
def test_resource_round_trip(rid: int, content: Value | dict[int, Value]):
    flat = flatten(3, {0: {rid: content}})
    assert_round_trip(flat, (3, 0, rid))


@given(value=st.text(min_size=1, max_size=50))
def test_typed_strings_decode_as_written(value: str):
    assert typed((3, 0, 3), encode_value(value), DEFAULT_MODEL) == value


# --- malformed input -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "base", "message"),
    [
        ("C8", (3, 0), "header"),
        ("E8 00", (3, 0), "header"),
        ("D8 00 01", (3, 0), "header"),
        ("C8 00 14 4F 70", (3, 0), "runs past the end"),
        ("C5 00 01 02", (3, 0), "runs past the end"),
        ("08 00 05 C8 00 09 00", (3,), "runs past the end"),
        ("86 06 41 00", (3, 0), "runs past the end"),
        ("C1 00 01", (3,), "Object Instance"),
        ("41 00 01", (3, 0), "Resource"),
        ("08 00 03 41 00 01", (3,), "out of place"),
        ("86 06 C1 00 01 C1 01 05", (3, 0), "out of place"),
        ("08 00 03 08 00 00", (3,), "out of place"),
        ("C1 00 01 C1 00 02", (3, 0), "twice"),
        ("08 01 03 C1 00 01", (3, 0), "outside"),
        ("C1 01 01", (3, 0, 0), "outside"),
        ("", (3, 0, 6, 1), "no value"),
    ],
)
def test_malformed_tlv_raises_codec_error(payload: str, base: tuple[int, ...], message: str):
    with pytest.raises(CodecError, match=message):
        decode_tlv(hexbytes(payload), base)


@pytest.mark.parametrize(
    ("path", "raw", "message"),
    [
        ((3, 0, 0), b"\xff\xfe", "UTF-8"),
        ((3, 0, 9), b"\x00\x00\x01", "1, 2, 4 or 8"),
        ((3, 0, 9), b"", "1, 2, 4 or 8"),
        ((5, 0, 4), b"\x02", "boolean"),
        ((5, 0, 4), b"", "boolean"),
        ((3, 0, 22, 0), b"\x00\x01", "4 bytes"),
    ],
)
def test_values_that_do_not_fit_their_type(path, raw, message):
    with pytest.raises(CodecError, match=message):
        typed(path, raw, DEFAULT_MODEL)


@given(st.binary(max_size=64), st.sampled_from([(3,), (3, 0), (3, 0, 6), (3, 0, 6, 0)]))
def test_random_bytes_never_raise_anything_but_codec_error(payload: bytes, base: tuple[int, ...]):
    try:
        raw = decode_tlv(payload, base)
    except CodecError:
        return
    for path, value in raw.items():
        with contextlib.suppress(CodecError):
            typed(path, value, DEFAULT_MODEL)


@pytest.mark.parametrize(
    ("values", "base", "message"),
    [
        ({(3, 0, 1): "x"}, (3, 0, 0), "outside"),
        ({(3, 0): "x"}, (3, 0), "3 to 4"),
        ({(3, 0, 6): 1, (3, 0, 6, 0): 1}, (3, 0, 6), "both"),
        ({(3, 0, 70000): 1}, (3, 0), "ids are integers"),
        ({(3, 0, 1): (70000, 0)}, (3, 0), "object link"),
        ({(3, 0, 6, 0): 1, (3, 0, 6, 1): 2}, (3, 0, 6, 0), "outside"),
    ],
)
def test_values_that_cannot_be_encoded(values, base, message):
    with pytest.raises(CodecError, match=message):
        encode_tlv(values, base)
