"""Device-side security: a device's LwM2M security mode and the rule that admits or refuses its check-ins.

A device in `psk` mode talks to the LwM2M server only over DTLS with its own pre-shared key; `nosec` devices use
plain CoAP, which the operator must allow explicitly (`--allow-nosec`). A device without a security record counts
as `nosec`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from fota.domain.errors import InvalidRequest

# The limits of tinydtls as DTLSSocket 0.2.3 builds it (measured; docs/adr/0010-dtls-psk.md): an identity longer
# than 32 bytes aborts the handshake and a key longer than 16 bytes never completes it, so such credentials could
# be stored but never used.
MAX_IDENTITY_BYTES = 32
MAX_KEY_BYTES = 16


class SecurityMode(StrEnum):
    PSK = "psk"
    NOSEC = "nosec"


@dataclass(frozen=True)
class DeviceSecurity:
    """A device's security record; the key itself never leaves the storage adapter's cipher unencrypted here."""

    device_id: str
    mode: SecurityMode
    psk_identity: str | None = None


def check_psk(identity: str, key_hex: str) -> bytes:
    """Validates a PSK identity and hex key as the DTLS stack can use them; returns the key's bytes."""
    identity_bytes = identity.encode("utf-8")
    if not 1 <= len(identity_bytes) <= MAX_IDENTITY_BYTES:
        raise InvalidRequest(f"pskIdentity must be 1-{MAX_IDENTITY_BYTES} bytes of UTF-8")
    if not identity.isprintable():
        raise InvalidRequest("pskIdentity must be printable text")
    try:
        key = bytes.fromhex(key_hex)
    except ValueError:
        raise InvalidRequest("pskKey must be hexadecimal, e.g. 000102030405060708090a0b0c0d0e0f") from None
    if not 1 <= len(key) <= MAX_KEY_BYTES:
        raise InvalidRequest(f"pskKey must be 1-{MAX_KEY_BYTES} bytes (2-{2 * MAX_KEY_BYTES} hex digits)")
    return key


def refusal(
    *,
    device_id: str,
    mode: SecurityMode,
    dtls_device_id: str | None,
    over_dtls: bool,
    allow_nosec: bool,
) -> str | None:
    """Why a check-in of `device_id` on this channel is refused, or None when it is admitted.

    `dtls_device_id` is the device whose PSK identity authenticated the DTLS session (None on plain CoAP).
    """
    if over_dtls:
        if dtls_device_id != device_id:
            # A valid key of one device must never open another device's registration.
            return "the DTLS identity belongs to another device"
        if mode is not SecurityMode.PSK:
            return "the device is not provisioned for DTLS-PSK"
        return None
    if mode is SecurityMode.PSK:
        return "the device must connect over DTLS (coaps)"
    if not allow_nosec:
        return "plain CoAP (NoSec) is not enabled on this server"
    return None
