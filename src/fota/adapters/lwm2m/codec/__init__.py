"""LwM2M payload codecs: TLV, SenML JSON/CBOR, plain text, opaque, CBOR and the registration link format; and CoAP
messages as bytes for the paths that skip aiocoap (datagrams.py).

Pure functions over bytes, standard library and cbor2 only; every malformed input raises CodecError.
"""

from __future__ import annotations

from fota.adapters.lwm2m.codec.cbor import decode_cbor, encode_cbor
from fota.adapters.lwm2m.codec.errors import CodecError
from fota.adapters.lwm2m.codec.formats import ContentFormat
from fota.adapters.lwm2m.codec.link_format import (
    Link,
    RegistrationLinks,
    parse_link_format,
    supported_objects,
)
from fota.adapters.lwm2m.codec.lwm2m_json import decode_lwm2m_json
from fota.adapters.lwm2m.codec.model import (
    DEFAULT_MODEL,
    Model,
    ObjectModel,
    Path,
    ResourceModel,
    ResourceType,
    Value,
    check_path,
    coerce,
    format_path,
)
from fota.adapters.lwm2m.codec.senml import (
    decode_senml_cbor,
    decode_senml_json,
    encode_senml_cbor,
    encode_senml_json,
)
from fota.adapters.lwm2m.codec.text import decode_text, encode_opaque, encode_text
from fota.adapters.lwm2m.codec.tlv import decode_tlv, encode_tlv, typed

__all__ = [
    "DEFAULT_MODEL",
    "CodecError",
    "ContentFormat",
    "Link",
    "Model",
    "ObjectModel",
    "Path",
    "RegistrationLinks",
    "ResourceModel",
    "ResourceType",
    "Value",
    "decode_content",
    "decode_tlv",
    "encode_cbor",
    "encode_opaque",
    "encode_senml_cbor",
    "encode_senml_json",
    "encode_text",
    "encode_tlv",
    "format_path",
    "parse_link_format",
    "supported_objects",
    "typed",
]


def _under(values: dict[Path, Value], base: Path, model: Model, what: str) -> dict[Path, Value]:
    for path in values:
        if path[: len(base)] != base:
            raise CodecError(f"{what} payload has {format_path(path)}, outside the requested {format_path(base)}")
    return {path: coerce(path, value, model) for path, value in values.items()}


def decode_content(payload: bytes, content_format: int, base: Path, model: Model = DEFAULT_MODEL) -> dict[Path, Value]:
    """Values by full path from a Read/Observe response on `base`, typed with the object model.

    Single-value formats (text, opaque, CBOR) need `base` to be a resource or resource instance path.
    """
    check_path(base)
    if content_format == ContentFormat.TLV:
        return {path: typed(path, raw, model) for path, raw in decode_tlv(payload, base).items()}
    if content_format == ContentFormat.SENML_JSON:
        return _under(decode_senml_json(payload), base, model, "SenML JSON")
    if content_format == ContentFormat.SENML_CBOR:
        return _under(decode_senml_cbor(payload), base, model, "SenML CBOR")
    if content_format == ContentFormat.LWM2M_JSON:
        return _under(decode_lwm2m_json(payload), base, model, "LwM2M JSON")
    if content_format in (ContentFormat.TEXT, ContentFormat.OPAQUE, ContentFormat.CBOR):
        check_path(base, min_len=3)
        if content_format == ContentFormat.TEXT:
            return {base: decode_text(payload, base, model)}
        if content_format == ContentFormat.OPAQUE:
            return {base: bytes(payload)}
        return {base: coerce(base, decode_cbor(payload, base), model)}
    raise CodecError(f"content format {content_format} is not one this server decodes")
