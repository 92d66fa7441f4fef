"""CoAP Content-Format numbers of the LwM2M data formats (IANA CoRE parameters registry)."""

from __future__ import annotations

from enum import IntEnum


class ContentFormat(IntEnum):
    TEXT = 0
    LINK_FORMAT = 40
    OPAQUE = 42
    CBOR = 60
    SENML_JSON = 110
    SENML_CBOR = 112
    TLV = 11542
    LWM2M_JSON = 11543  # the LwM2M 1.0 "application/vnd.oma.lwm2m+json", superseded by SenML JSON in 1.1
