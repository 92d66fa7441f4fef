"""The LwM2M 1.0 JSON format (11543, §6.4.4), decode only: {"bn": ..., "e": [{"n", "v" | "sv" | "bv" | "ov"}]}."""

from __future__ import annotations

import json

from fota.adapters.lwm2m.codec.errors import CodecError
from fota.adapters.lwm2m.codec.model import MAX_ID, Path, Value, parse_objlnk

_VALUE_FIELDS = ("v", "sv", "bv", "ov")


def _path(name: str, index: int) -> Path:
    parts = name.strip("/").split("/")
    if not all(part.isascii() and part.isdigit() and int(part) <= MAX_ID for part in parts) or len(parts) > 4:
        raise CodecError(f"LwM2M JSON entry {index}: {name!r} is not an LwM2M path")
    return tuple(int(part) for part in parts)


def decode_lwm2m_json(payload: bytes) -> dict[Path, Value]:
    """Values by full path; Opaque arrives base64 in "sv" and is left to `coerce`. Time stamps are ignored."""
    try:
        document = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CodecError(f"LwM2M JSON is not valid UTF-8 JSON: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("e"), list):
        raise CodecError('LwM2M JSON must be an object with an "e" array')
    base = document.get("bn", "")
    if not isinstance(base, str):
        raise CodecError("LwM2M JSON: bn must be a string")
    out: dict[Path, Value] = {}
    for index, entry in enumerate(document["e"]):
        if not isinstance(entry, dict):
            raise CodecError(f"LwM2M JSON entry {index} must be an object")
        name = entry.get("n", "")
        present = [key for key in _VALUE_FIELDS if key in entry]
        if not isinstance(name, str) or len(present) != 1:
            raise CodecError(f"LwM2M JSON entry {index} needs a string n and exactly one of {_VALUE_FIELDS}")
        raw = entry[present[0]]
        value: Value
        number = isinstance(raw, int | float) and not isinstance(raw, bool)
        if (present[0], number) == ("v", True) or (present[0], type(raw)) in (("bv", bool), ("sv", str)):
            value = raw
        elif present[0] == "ov" and isinstance(raw, str):
            value = parse_objlnk(raw)
        else:
            raise CodecError(f"LwM2M JSON entry {index}: {present[0]} has the wrong type {type(raw).__name__}")
        out[_path(base + name, index)] = value
    return out
