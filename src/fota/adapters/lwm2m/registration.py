"""Parsing the LwM2M registration interface's query (RFC 6690 payload aside): endpoint, lifetime, version, binding."""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_LIFETIME = 86400
MAX_ENDPOINT_LENGTH = 128
IMEI_ENDPOINT = re.compile(r"(?:urn:imei:)?([0-9]{15})")


class RegistrationError(ValueError):
    """The registration request is malformed (4.00)."""


@dataclass(frozen=True)
class RegistrationQuery:
    endpoint: str | None
    lifetime: int | None
    lwm2m_version: str | None
    binding: str | None
    queue_mode: bool


def parse_query(parts: tuple[str, ...]) -> RegistrationQuery:
    values: dict[str, str] = {}
    flags: set[str] = set()
    for part in parts:
        key, sep, value = part.partition("=")
        if sep:
            values[key] = value
        else:
            flags.add(key)
    endpoint = values.get("ep")
    if endpoint is not None and not 0 < len(endpoint) <= MAX_ENDPOINT_LENGTH:
        raise RegistrationError("endpoint name must be 1-128 characters")
    lifetime: int | None = None
    if "lt" in values:
        try:
            lifetime = int(values["lt"])
        except ValueError:
            raise RegistrationError(f"lifetime {values['lt']!r} is not an integer") from None
        if not 1 <= lifetime <= 10 * 365 * 86400:
            raise RegistrationError("lifetime out of range")
    binding = values.get("b")
    if binding is not None and not re.fullmatch(r"[UTSNQ]{1,4}", binding):
        raise RegistrationError(f"unknown binding {binding!r}")
    return RegistrationQuery(
        endpoint=endpoint,
        lifetime=lifetime,
        lwm2m_version=values.get("lwm2m"),
        binding=binding,
        queue_mode="Q" in flags or (binding is not None and "Q" in binding),
    )


def device_id_of(endpoint: str) -> str | None:
    """`urn:imei:<IMEI>` or a bare IMEI name a device; anything else names nothing we provision."""
    match = IMEI_ENDPOINT.fullmatch(endpoint)
    return match.group(1) if match else None
