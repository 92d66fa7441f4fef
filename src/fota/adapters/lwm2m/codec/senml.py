"""SenML JSON (110) and SenML CBOR (112) as LwM2M 1.1 §7.4.4/§7.4.5 uses them (RFC 8428 records, LwM2M paths as names).

Names are base name + name; values are v (number), vs, vb, vd (opaque) and the LwM2M "vlo" (Objlnk "66:0").
"""

from __future__ import annotations

import base64
import io
import json
import math
from collections.abc import Mapping
from typing import Any

import cbor2

from fota.adapters.lwm2m.codec.errors import CodecError
from fota.adapters.lwm2m.codec.model import (
    MAX_ID,
    Path,
    Value,
    check_objlnk,
    check_path,
    decode_base64,
    format_path,
    parse_objlnk,
)

# RFC 8428 §6 CBOR labels; LwM2M's "vlo" has no label and stays a text key.
_LABELS = {-1: "bver", -2: "bn", -3: "bt", -4: "bu", -5: "bv", -6: "bs", 0: "n", 1: "u", 2: "v", 3: "vs", 4: "vb"}
_LABELS |= {5: "s", 6: "t", 7: "ut", 8: "vd"}
_KEYS = {name: label for label, name in _LABELS.items()}
_VALUE_FIELDS = ("v", "vs", "vb", "vd", "vlo")


def _parse_name(name: str, index: int) -> Path:
    parts = name.removeprefix("/").split("/")
    if not all(part.isascii() and part.isdigit() for part in parts):
        raise CodecError(f"SenML record {index}: name {name!r} is not an LwM2M path like /3/0/1")
    path = tuple(int(part) for part in parts)
    if not 1 <= len(path) <= 4 or any(part > MAX_ID for part in path):
        raise CodecError(f"SenML record {index}: name {name!r} is not an LwM2M path like /3/0/1")
    return path


def _number(record: Mapping[str, object], key: str, index: int) -> int | float | None:
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CodecError(f"SenML record {index}: {key} must be a number, got {type(value).__name__}")
    return value


def _string(record: Mapping[str, object], key: str, index: int) -> str | None:
    value = record.get(key)
    if value is not None and not isinstance(value, str):
        raise CodecError(f"SenML record {index}: {key} must be a string, got {type(value).__name__}")
    return value


def _value(record: Mapping[str, object], base_value: int | float, index: int, *, binary: bool) -> Value:
    present = [key for key in _VALUE_FIELDS if key in record]
    if len(present) != 1:
        raise CodecError(f"SenML record {index} must carry exactly one of {', '.join(_VALUE_FIELDS)}, has {present}")
    key = present[0]
    raw = record[key]
    if key == "v":
        number = _number(record, "v", index)
        assert number is not None
        return number + base_value if base_value else number
    if key == "vb":
        if not isinstance(raw, bool):
            raise CodecError(f"SenML record {index}: vb must be a boolean, got {type(raw).__name__}")
        return raw
    if key == "vd":
        if binary:
            if not isinstance(raw, bytes):
                raise CodecError(f"SenML record {index}: vd must be a byte string, got {type(raw).__name__}")
            return raw
        if not isinstance(raw, str):
            raise CodecError(f"SenML record {index}: vd must be a base64url string, got {type(raw).__name__}")
        return decode_base64(raw, f"SenML record {index} vd")
    text = _string(record, key, index)
    assert text is not None
    return parse_objlnk(text) if key == "vlo" else text


def _records(records: object, *, binary: bool) -> dict[Path, Value]:
    """Resolve base fields (which carry over to later records) and keep the newest value of each path."""
    if not isinstance(records, list):
        raise CodecError(f"SenML pack must be an array of records, got {type(records).__name__}")
    base_name, base_time = "", 0.0
    base_value: int | float = 0
    newest: dict[Path, tuple[float, Value]] = {}
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise CodecError(f"SenML record {index} must be a map, got {type(record).__name__}")
        for key in record:
            # RFC 8428 §4.4: fields ending in "_" must be understood, so an unknown one rejects the pack.
            if isinstance(key, str) and key.endswith("_"):
                raise CodecError(f"SenML record {index}: unsupported must-understand field {key!r}")
        bn = _string(record, "bn", index)
        if bn is not None:
            base_name = bn
        bt = _number(record, "bt", index)
        if bt is not None:
            base_time = bt
        bv = _number(record, "bv", index)
        if bv is not None:
            base_value = bv
        name = base_name + (_string(record, "n", index) or "")
        if not name:
            raise CodecError(f"SenML record {index} has no name")
        path = _parse_name(name, index)
        value = _value(record, base_value, index, binary=binary)
        time = base_time + (_number(record, "t", index) or 0)
        if path not in newest or time >= newest[path][0]:
            newest[path] = (time, value)
    return {path: value for path, (_, value) in newest.items()}


def _reject_constant(name: str) -> float:
    raise CodecError(f"SenML JSON: {name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record = dict(pairs)
    if len(record) != len(pairs):
        raise CodecError("SenML JSON: a record repeats a field")
    return record


def decode_senml_json(payload: bytes) -> dict[Path, Value]:
    """Values by full path; types are SenML's own (v is int or float), see `coerce` for the model's."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CodecError(f"SenML JSON is not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    try:
        records = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise CodecError(f"SenML JSON is not valid JSON: {exc}") from exc
    return _records(records, binary=False)


def decode_senml_cbor(payload: bytes) -> dict[Path, Value]:
    stream = io.BytesIO(payload)
    try:
        pack = cbor2.CBORDecoder(stream).decode()
    except (cbor2.CBORDecodeError, ValueError, TypeError, RecursionError) as exc:
        raise CodecError(f"SenML CBOR is not valid CBOR: {exc}") from exc
    if stream.tell() != len(payload):
        raise CodecError(f"SenML CBOR has {len(payload) - stream.tell()} bytes after the pack")
    if isinstance(pack, list):
        named: list[object] = []
        for index, record in enumerate(pack):
            if isinstance(record, dict):
                unknown = [key for key in record if not isinstance(key, int | str) or isinstance(key, bool)]
                if unknown:
                    raise CodecError(f"SenML record {index}: map keys are integer labels or text, got {unknown[0]!r}")
                record = {_LABELS.get(key, str(key)) if isinstance(key, int) else key: v for key, v in record.items()}
            named.append(record)
        pack = named
    return _records(pack, binary=True)


def _pack(values: Mapping[Path, Value], base: Path, *, binary: bool) -> list[dict[str, object]]:
    """One record per path, sorted; the first carries bn = the requested path, the others a relative n."""
    check_path(base, min_len=0)
    records: list[dict[str, object]] = []
    prefix = format_path(base) if base else ""
    for path in sorted(values):
        check_path(path)
        if path[: len(base)] != base:
            raise CodecError(f"{format_path(path)} is outside {format_path(base)}")
        record: dict[str, object] = {}
        if path == base:
            if len(values) > 1:
                raise CodecError(f"{format_path(base)} has both a value and values below it")
            record["bn"] = prefix
        else:
            if not records and base:
                record["bn"] = prefix + "/"
            rest = path[len(base) :]
            record["n"] = ("" if base else "/") + "/".join(str(part) for part in rest)
        record.update(_field(values[path], binary=binary))
        records.append(record)
    return records


def _field(value: Value, *, binary: bool) -> dict[str, object]:
    if isinstance(value, bool):
        return {"vb": value}
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise CodecError(f"SenML cannot carry {value}")
        return {"v": value}
    if isinstance(value, str):
        return {"vs": value}
    if isinstance(value, bytes):
        return {"vd": value if binary else base64.urlsafe_b64encode(value).rstrip(b"=").decode("ascii")}
    if isinstance(value, tuple):
        object_id, instance_id = check_objlnk(value)
        return {"vlo": f"{object_id}:{instance_id}"}
    raise CodecError(f"cannot encode {type(value).__name__} in SenML")


def encode_senml_json(values: Mapping[Path, Value], base: Path = ()) -> bytes:
    """A SenML JSON pack for a write (or composite write with base ()) of full-path values."""
    return json.dumps(_pack(values, base, binary=False), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def encode_senml_cbor(values: Mapping[Path, Value], base: Path = ()) -> bytes:
    records = _pack(values, base, binary=True)
    return cbor2.dumps([{_KEYS.get(key, key): value for key, value in record.items()} for record in records])
