"""Plain CBOR (60, LwM2M 1.1 §7.4.6): one resource (instance) value as a single CBOR data item."""

from __future__ import annotations

import io
from datetime import datetime

import cbor2

from fota.adapters.lwm2m.codec.errors import CodecError
from fota.adapters.lwm2m.codec.model import Path, Value, check_objlnk, format_path


def decode_cbor(payload: bytes, path: Path) -> Value:
    """The value as CBOR types it (Time may come as a tag-1 epoch, Objlnk as text "66:0"); see `coerce`."""
    stream = io.BytesIO(payload)
    try:
        item = cbor2.CBORDecoder(stream).decode()
    except (cbor2.CBORDecodeError, ValueError, TypeError, RecursionError) as exc:
        raise CodecError(f"{format_path(path)}: not valid CBOR: {exc}") from exc
    if stream.tell() != len(payload):
        raise CodecError(f"{format_path(path)}: {len(payload) - stream.tell()} bytes after the CBOR item")
    if isinstance(item, datetime):
        return int(item.timestamp())
    if isinstance(item, bool | int | float | str | bytes):
        return item
    raise CodecError(f"{format_path(path)}: a CBOR {type(item).__name__} is not a resource value")


def encode_cbor(value: Value) -> bytes:
    if isinstance(value, tuple):
        object_id, instance_id = check_objlnk(value)
        return cbor2.dumps(f"{object_id}:{instance_id}")
    if not isinstance(value, bool | int | float | str | bytes):
        raise CodecError(f"cannot encode {type(value).__name__} in CBOR")
    return cbor2.dumps(value)
