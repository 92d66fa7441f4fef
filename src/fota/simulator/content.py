"""Content negotiation of a simulated client: which LwM2M data formats it reads and writes, per LwM2M version.

A thin layer over fota's codecs; LwM2M 1.0 clients speak TLV, text and opaque, 1.1 clients add SenML JSON and CBOR.
"""

from __future__ import annotations

from collections.abc import Mapping

from fota.adapters.lwm2m.codec import (
    CodecError,
    ContentFormat,
    Path,
    Value,
    decode_content,
    encode_senml_cbor,
    encode_senml_json,
    encode_text,
    encode_tlv,
)

__all__ = ["CodecError", "ContentFormat", "NotAcceptable", "Path", "UnsupportedFormat", "Value"]

_FORMATS_1_0 = frozenset({ContentFormat.TLV, ContentFormat.TEXT, ContentFormat.OPAQUE})
_FORMATS_1_1 = _FORMATS_1_0 | {ContentFormat.SENML_JSON, ContentFormat.SENML_CBOR}


class NotAcceptable(Exception):
    """The Accept option names a format this client cannot produce for the target (CoAP 4.06)."""


class UnsupportedFormat(Exception):
    """A write carries a Content-Format this client does not parse (CoAP 4.15)."""


def formats(lwm2m_version: str) -> frozenset[ContentFormat]:
    return _FORMATS_1_0 if lwm2m_version == "1.0" else _FORMATS_1_1


def encode_read(
    values: Mapping[Path, Value], base: Path, accept: int | None, lwm2m_version: str
) -> tuple[bytes, ContentFormat]:
    """Encode a Read of `base`; without Accept the answer is TLV, the one format every LwM2M version shares."""
    wanted = ContentFormat.TLV if accept is None else _known(accept)
    if wanted is None or wanted not in formats(lwm2m_version):
        raise NotAcceptable(f"content format {accept} is not supported by an LwM2M {lwm2m_version} client")
    if wanted is ContentFormat.TLV:
        return encode_tlv(values, base), wanted
    if wanted is ContentFormat.SENML_JSON:
        return encode_senml_json(values, base), wanted
    if wanted is ContentFormat.SENML_CBOR:
        return encode_senml_cbor(values, base), wanted
    # text/plain and opaque carry exactly one value: a single resource (or resource instance).
    single = values.get(base)
    if len(base) < 3 or single is None or len(values) != 1:
        raise NotAcceptable(f"{ContentFormat(wanted).name} needs a single resource")
    if wanted is ContentFormat.OPAQUE:
        if not isinstance(single, bytes):
            raise NotAcceptable("opaque content is only for opaque resources")
        return single, wanted
    return encode_text(single), wanted


def decode_write(payload: bytes, content_format: int | None, base: Path, lwm2m_version: str) -> dict[Path, Value]:
    """Decode the payload of a Write on `base` into full-path values; text is the default for a bare resource."""
    fmt = (ContentFormat.TEXT if len(base) >= 3 else None) if content_format is None else _known(content_format)
    if fmt is None or fmt not in formats(lwm2m_version):
        raise UnsupportedFormat(f"content format {content_format} is not accepted by an LwM2M {lwm2m_version} client")
    if len(base) < 3 and fmt in (ContentFormat.TEXT, ContentFormat.OPAQUE):
        raise UnsupportedFormat(f"{ContentFormat(fmt).name} writes target a single resource")
    return decode_content(payload, fmt, base)


def _known(number: int) -> ContentFormat | None:
    try:
        return ContentFormat(number)
    except ValueError:
        return None
