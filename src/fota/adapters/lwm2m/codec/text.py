"""Plain text (0) and opaque (42) single-resource values (LwM2M 1.1 §7.4.1, §7.4.2 and Appendix C).

Text: integers and floats in decimal, booleans "0"/"1", Objlnk "1:2", Opaque in base64, Time as Unix seconds.
"""

from __future__ import annotations

import base64
import math
import re
from decimal import Decimal

from fota.adapters.lwm2m.codec.errors import CodecError
from fota.adapters.lwm2m.codec.model import (
    Model,
    Path,
    ResourceType,
    Value,
    check_objlnk,
    check_path,
    decode_base64,
    format_path,
    parse_objlnk,
    resource_model,
)

_INTEGER = re.compile(r"[+-]?[0-9]+")
# Decimal notation; an exponent is accepted on input because some clients print floats with %g.
_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def decode_text(payload: bytes, path: Path, model: Model) -> Value:
    """The value of one resource (instance) sent as text/plain; resources the model does not know stay str."""
    check_path(path, min_len=3)
    where = format_path(path)
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CodecError(f"{where}: text is not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    resource = resource_model(model, path)
    kind = ResourceType.STRING if resource is None else resource.type
    if kind in (ResourceType.INTEGER, ResourceType.TIME, ResourceType.UNSIGNED_INTEGER):
        if not _INTEGER.fullmatch(text) or (kind is ResourceType.UNSIGNED_INTEGER and text.startswith("-")):
            expected = "an unsigned integer" if kind is ResourceType.UNSIGNED_INTEGER else "an integer"
            raise CodecError(f"{where}: {text[:40]!r} is not {expected}")
        return int(text)
    if kind is ResourceType.FLOAT:
        if not _FLOAT.fullmatch(text):
            raise CodecError(f"{where}: {text[:40]!r} is not a decimal number")
        return float(text)
    if kind is ResourceType.BOOLEAN:
        if text not in ("0", "1"):
            raise CodecError(f"{where}: a boolean is '0' or '1', got {text[:40]!r}")
        return text == "1"
    if kind is ResourceType.OBJLNK:
        return parse_objlnk(text)
    if kind is ResourceType.OPAQUE:
        return decode_base64(text, where)
    return text


def encode_text(value: Value) -> bytes:
    """text/plain for a write of one resource (instance)."""
    if isinstance(value, bool):  # before int: bool is an int
        return b"1" if value else b"0"
    if isinstance(value, int):
        return str(value).encode("ascii")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CodecError(f"float {value} has no plain-text form")
        # Shortest round-tripping digits, written out without an exponent for clients that parse plain decimals.
        text = format(Decimal(repr(value)), "f")
        return text.encode("ascii")
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return base64.b64encode(value)
    if isinstance(value, tuple):
        object_id, instance_id = check_objlnk(value)
        return f"{object_id}:{instance_id}".encode("ascii")
    raise CodecError(f"cannot encode {type(value).__name__} as plain text")


def encode_opaque(value: bytes) -> bytes:
    """application/octet-stream: the bytes themselves (a firmware Package write, for one)."""
    if not isinstance(value, bytes | bytearray | memoryview):
        raise CodecError(f"opaque content is bytes, got {type(value).__name__}")
    return bytes(value)
