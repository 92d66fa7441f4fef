"""OMA TLV (application/vnd.oma.lwm2m+tlv, LwM2M 1.0 §6.4.3 / 1.1 §7.4.3): the binary tree of instances and resources.

Decoding yields the raw value bytes by full path; `typed` turns them into values with the object model.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from enum import IntEnum

from fota.adapters.lwm2m.codec.errors import CodecError
from fota.adapters.lwm2m.codec.model import (
    MAX_ID,
    Model,
    Path,
    ResourceType,
    Value,
    check_objlnk,
    check_path,
    format_path,
    resource_model,
)

MAX_LENGTH = 0xFFFFFF  # the widest Length field is 24 bits


class Kind(IntEnum):
    """Bits 7-6 of the Type byte: what the Identifier names."""

    OBJECT_INSTANCE = 0b00
    RESOURCE_INSTANCE = 0b01
    MULTIPLE_RESOURCE = 0b10
    RESOURCE = 0b11  # Resource with Value


_Entry = tuple[Kind, int, bytes]
# The path depth each kind's identifier completes: instance id is path[1], resource id path[2], instance path[3].
_DEPTH = {Kind.OBJECT_INSTANCE: 2, Kind.RESOURCE: 3, Kind.MULTIPLE_RESOURCE: 3, Kind.RESOURCE_INSTANCE: 4}


# --- decoding ------------------------------------------------------------------------------------------------------


def _entries(payload: bytes, where: str) -> list[_Entry]:
    """Split one level of TLVs; every length is checked against what is left, so nothing reads past the end."""
    entries: list[_Entry] = []
    pos, end = 0, len(payload)
    while pos < end:
        start = pos
        type_byte = payload[pos]
        kind = Kind(type_byte >> 6)
        id_len = 2 if type_byte & 0b0010_0000 else 1
        length_type = (type_byte >> 3) & 0b11
        header_len = 1 + id_len + length_type
        if start + header_len > end:
            raise CodecError(f"TLV at byte {start} of {where}: header needs {header_len} bytes, {end - start} left")
        identifier = int.from_bytes(payload[start + 1 : start + 1 + id_len], "big")
        if length_type == 0:
            length = type_byte & 0b111
        else:
            length = int.from_bytes(payload[start + 1 + id_len : start + header_len], "big")
        pos = start + header_len
        if pos + length > end:
            raise CodecError(
                f"TLV {kind.name} {identifier} at byte {start} of {where}: "
                f"length {length} runs past the end ({end - pos} bytes left)"
            )
        entries.append((kind, identifier, payload[pos : pos + length]))
        pos += length
    return entries


def _collect(entries: list[_Entry], prefix: Path, out: dict[Path, bytes]) -> None:
    for kind, identifier, value in entries:
        path = (*prefix, identifier)
        if len(path) != _DEPTH[kind]:
            raise CodecError(f"TLV {kind.name} {identifier} is out of place under {format_path(prefix)}")
        if kind is Kind.OBJECT_INSTANCE or kind is Kind.MULTIPLE_RESOURCE:
            _collect(_entries(value, format_path(path)), path, out)
            continue
        if path in out:
            raise CodecError(f"TLV payload has {format_path(path)} twice")
        out[path] = value


def decode_tlv(payload: bytes, base: Path) -> dict[Path, bytes]:
    """The raw value bytes of every resource (instance) by full path; `base` is the path that was read.

    Tolerated as real clients send them: an Object Instance wrapper around the resources of an instance or
    resource read, and bare Resource Instance TLVs for a multiple resource read. Anything outside `base` is an error.
    """
    check_path(base)
    out: dict[Path, bytes] = {}
    for kind, identifier, value in _entries(payload, "payload"):
        depth = _DEPTH[kind]
        if len(base) < depth - 1:
            raise CodecError(
                f"TLV {kind.name} {identifier} cannot answer a request on {format_path(base)}; "
                f"expected {'Object Instance' if len(base) == 1 else 'Resource'} TLVs"
            )
        _collect([(kind, identifier, value)], base[: depth - 1], out)
    for path in out:
        if path[: len(base)] != base:
            raise CodecError(f"TLV payload has {format_path(path)}, outside the requested {format_path(base)}")
    # An empty answer on a resource is an empty multiple resource; a resource instance always has a value.
    if len(base) == 4 and base not in out:
        raise CodecError(f"TLV payload has no value for {format_path(base)}")
    return out


def _integer(raw: bytes, where: str, *, signed: bool = True) -> int:
    if len(raw) not in (1, 2, 4, 8):
        raise CodecError(f"{where}: an integer is 1, 2, 4 or 8 bytes, got {len(raw)}")
    return int.from_bytes(raw, "big", signed=signed)


def decode_value(raw: bytes, kind: ResourceType, where: str = "value") -> Value:
    """One TLV value of a known type (LwM2M 1.1 Appendix C)."""
    if kind in (ResourceType.INTEGER, ResourceType.TIME):
        return _integer(raw, where)
    if kind is ResourceType.UNSIGNED_INTEGER:
        return _integer(raw, where, signed=False)
    if kind is ResourceType.FLOAT:
        if len(raw) == 4:
            return float(struct.unpack(">f", raw)[0])
        if len(raw) == 8:
            return float(struct.unpack(">d", raw)[0])
        raise CodecError(f"{where}: a float is 4 or 8 bytes, got {len(raw)}")
    if kind is ResourceType.BOOLEAN:
        if raw not in (b"\x00", b"\x01"):
            raise CodecError(f"{where}: a boolean is one byte 0 or 1, got {raw.hex() or 'nothing'}")
        return raw == b"\x01"
    if kind is ResourceType.STRING:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CodecError(f"{where}: string is not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    if kind is ResourceType.OBJLNK:
        if len(raw) != 4:
            raise CodecError(f"{where}: an object link is 4 bytes, got {len(raw)}")
        return (int.from_bytes(raw[:2], "big"), int.from_bytes(raw[2:], "big"))
    return bytes(raw)  # Opaque, and None (an executable has no value worth typing)


def typed(path: Path, raw: bytes, model: Model) -> Value:
    """A raw TLV value typed by the object model; resources the model does not know stay bytes."""
    resource = resource_model(model, path)
    if resource is None:
        return bytes(raw)
    return decode_value(raw, resource.type, f"{format_path(path)} ({resource.name})")


# --- encoding ------------------------------------------------------------------------------------------------------


def encode_value(value: Value) -> bytes:
    """The TLV value bytes of a Python value; integers take the smallest of 1, 2, 4, 8 bytes (signed)."""
    if isinstance(value, bool):  # before int: bool is an int
        return b"\x01" if value else b"\x00"
    if isinstance(value, int):
        for width in (1, 2, 4, 8):
            if -(1 << (8 * width - 1)) <= value < 1 << (8 * width - 1):
                return value.to_bytes(width, "big", signed=True)
        raise CodecError(f"integer {value} does not fit in 64 signed bits")
    if isinstance(value, float):
        # Single precision when it loses nothing (NaN and infinities included), as constrained clients prefer.
        try:
            single = struct.pack(">f", value)
        except OverflowError:
            return struct.pack(">d", value)
        if math.isnan(value) or struct.unpack(">f", single)[0] == value:
            return single
        return struct.pack(">d", value)
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    if isinstance(value, tuple):
        object_id, instance_id = check_objlnk(value)
        return object_id.to_bytes(2, "big") + instance_id.to_bytes(2, "big")
    raise CodecError(f"cannot encode {type(value).__name__} in TLV")


def _header(kind: Kind, identifier: int, length: int) -> bytes:
    if not 0 <= identifier <= MAX_ID:
        raise CodecError(f"TLV identifier {identifier} does not fit in 16 bits")
    if length > MAX_LENGTH:
        raise CodecError(f"TLV value of {length} bytes exceeds the 24-bit length field")
    type_byte = kind << 6
    id_bytes = identifier.to_bytes(1 if identifier <= 0xFF else 2, "big")
    if identifier > 0xFF:
        type_byte |= 0b0010_0000
    if length <= 0b111:
        return bytes([type_byte | length]) + id_bytes
    width = 1 if length <= 0xFF else 2 if length <= 0xFFFF else 3
    return bytes([type_byte | width << 3]) + id_bytes + length.to_bytes(width, "big")


def _tlv(kind: Kind, identifier: int, value: bytes) -> bytes:
    return _header(kind, identifier, len(value)) + value


def _resource(resource_id: int, items: dict[Path, Value], depth: int) -> bytes:
    """One resource: a Resource with Value, or a Multiple Resource of Resource Instances."""
    single = [path for path in items if len(path) == depth]
    if single:
        if len(items) > 1:
            raise CodecError(f"{format_path(single[0])} has both a value and resource instances")
        return _tlv(Kind.RESOURCE, resource_id, encode_value(items[single[0]]))
    instances = b"".join(_tlv(Kind.RESOURCE_INSTANCE, path[depth], encode_value(items[path])) for path in sorted(items))
    return _tlv(Kind.MULTIPLE_RESOURCE, resource_id, instances)


def _group(values: Mapping[Path, Value], depth: int) -> dict[int, dict[Path, Value]]:
    groups: dict[int, dict[Path, Value]] = {}
    for path, value in values.items():
        groups.setdefault(path[depth], {})[path] = value
    return dict(sorted(groups.items()))


def _resources(values: Mapping[Path, Value]) -> bytes:
    return b"".join(_resource(rid, items, 3) for rid, items in _group(values, 2).items())


def encode_tlv(values: Mapping[Path, Value], base: Path) -> bytes:
    """TLV for a write or a response on `base`: Object Instance TLVs for an object, bare resources for an instance,
    one (Multiple) Resource for a resource, one Resource Instance for a resource instance. Ids are sorted."""
    check_path(base)
    for path in values:
        check_path(path, min_len=3)
        if path[: len(base)] != base:
            raise CodecError(f"{format_path(path)} is outside {format_path(base)}")
    if len(base) == 1:
        return b"".join(_tlv(Kind.OBJECT_INSTANCE, iid, _resources(items)) for iid, items in _group(values, 1).items())
    if len(base) == 2:
        return _resources(values)
    if len(base) == 3:
        if not values:
            return _tlv(Kind.MULTIPLE_RESOURCE, base[2], b"")
        return _resource(base[2], dict(values), 3)
    if set(values) != {base}:
        raise CodecError(f"a write on {format_path(base)} takes exactly that one value")
    return _tlv(Kind.RESOURCE_INSTANCE, base[3], encode_value(values[base]))
