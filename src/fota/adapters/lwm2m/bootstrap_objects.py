"""What a bootstrap writes: the LwM2M Security (/0) and Server (/1) object instances of a management account, their
encoding (TLV, SenML JSON or SenML CBOR) and the reading of a Bootstrap-Discover answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fota.adapters.lwm2m.codec import (
    CodecError,
    ContentFormat,
    Path,
    Value,
    encode_senml_cbor,
    encode_senml_json,
    encode_tlv,
)
from fota.domain.bootstrap import ManagementAccount
from fota.domain.security import SecurityMode

SECURITY, SERVER = 0, 1
# Security Mode (/0/x/2) values of the modes fota serves.
SECURITY_MODE_PSK = 0
SECURITY_MODE_NOSEC = 3
# The formats a bootstrap write may use, in the order tried when the client refuses one with 4.15. TLV first: every
# LwM2M 1.0 client must take it and most 1.1 clients still do.
WRITE_FORMATS = (ContentFormat.TLV, ContentFormat.SENML_CBOR, ContentFormat.SENML_JSON)


def security_instance(
    instance: int, *, server_uri: str, mode: SecurityMode, identity: bytes, key: bytes, short_server_id: int
) -> dict[Path, Value]:
    """A management-server account's Security instance: never a Bootstrap-Server, PSK or NoSec."""
    return {
        (SECURITY, instance, 0): server_uri,
        (SECURITY, instance, 1): False,
        (SECURITY, instance, 2): SECURITY_MODE_PSK if mode is SecurityMode.PSK else SECURITY_MODE_NOSEC,
        (SECURITY, instance, 3): identity,
        (SECURITY, instance, 4): b"",
        (SECURITY, instance, 5): key,
        (SECURITY, instance, 10): short_server_id,
    }


def server_instance(instance: int, account: ManagementAccount, *, lwm2m_version: str) -> dict[Path, Value]:
    """The Server instance; the communication retry resources (17-20) exist only in the 1.1 Server object."""
    binding = account.binding
    if lwm2m_version != "1.0":
        # LwM2M 1.1 dropped Q from the binding: a 1.1 client announces queue mode at registration instead.
        binding = binding.replace("Q", "") or "U"
    values: dict[Path, Value] = {
        (SERVER, instance, 0): account.short_server_id,
        (SERVER, instance, 1): account.lifetime,
        (SERVER, instance, 5): account.disable_timeout,
        (SERVER, instance, 6): False,
        (SERVER, instance, 7): binding,
    }
    if lwm2m_version != "1.0":
        values.update(
            {
                (SERVER, instance, 17): account.retry_count,
                (SERVER, instance, 18): account.retry_timer,
                (SERVER, instance, 19): account.sequence_delay,
                (SERVER, instance, 20): account.sequence_retry_count,
            }
        )
    return values


def encode_instance(values: dict[Path, Value], base: Path, content_format: ContentFormat) -> bytes:
    if content_format is ContentFormat.TLV:
        return encode_tlv(values, base)
    if content_format is ContentFormat.SENML_CBOR:
        return encode_senml_cbor(values, base)
    if content_format is ContentFormat.SENML_JSON:
        return encode_senml_json(values, base)
    raise CodecError(f"content format {content_format} is not one a bootstrap writes")


def write_formats(preferred: int | None) -> tuple[ContentFormat, ...]:
    """The formats to try, the client's preferred one (the `pct` of its 1.1 Bootstrap-Request) first."""
    first = [f for f in WRITE_FORMATS if f == preferred]
    return (*first, *(f for f in WRITE_FORMATS if f != preferred))


@dataclass(frozen=True)
class ClientObjects:
    """A Bootstrap-Discover answer: the client's LwM2M version (when it says) and its object instances."""

    lwm2m_version: str | None = None
    instances: dict[int, set[int]] = field(default_factory=dict)

    def free_instance(self, object_id: int) -> int:
        """The lowest instance id the object does not use (after the Deletes: the bootstrap account's)."""
        taken = self.instances.get(object_id, set())
        return next(i for i in range(len(taken) + 1) if i not in taken)


_LINK = re.compile(r"<(/[^>]*)>")
_VERSION = re.compile(r'lwm2m="?([0-9.]+)"?')


def parse_discover(text: str) -> ClientObjects:
    """Reads `lwm2m="1.0",</0/0>,</1>` (1.0) or `</>;lwm2m=1.1,</0/0>;ssid=101,</3/0>` (1.1) leniently:
    only the version and the object instance paths matter here, and clients differ in the details."""
    version = _VERSION.search(text)
    instances: dict[int, set[int]] = {}
    for match in _LINK.finditer(text):
        parts = [p for p in match.group(1).split("/") if p]
        if not all(p.isdigit() for p in parts):
            continue
        ids = [int(p) for p in parts]
        if ids:
            instances.setdefault(ids[0], set())
        if len(ids) >= 2:
            instances[ids[0]].add(ids[1])
    return ClientObjects(version.group(1) if version else None, instances)
