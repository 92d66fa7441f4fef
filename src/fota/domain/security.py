"""Device-side security: a device's LwM2M security mode and the one rule that admits or refuses its requests
(registrations, check-ins and bootstraps).

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


class LwM2MServer(StrEnum):
    """The server a device asks: each keeps its own security mode for the device (its record, its bootstrap
    settings), and the same rule admits the channel."""

    MANAGEMENT = "management"
    BOOTSTRAP = "bootstrap"


NOSEC_DISABLED = "plain CoAP (NoSec) is not enabled on this server"
_NOT_PSK = {
    LwM2MServer.MANAGEMENT: "the device is not provisioned for DTLS-PSK",
    LwM2MServer.BOOTSTRAP: "the device is not provisioned for bootstrap over DTLS-PSK",
}
_NEEDS_DTLS = {
    LwM2MServer.MANAGEMENT: "the device must connect over DTLS (coaps)",
    LwM2MServer.BOOTSTRAP: "the device must bootstrap over DTLS (coaps)",
}


def channel_refusal(*, over_dtls: bool, allow_nosec: bool) -> str | None:
    """The part of `refusal` that needs no device: plain CoAP where the operator has not allowed it."""
    return NOSEC_DISABLED if not over_dtls and not allow_nosec else None


def refusal(
    *,
    device_id: str,
    mode: SecurityMode,
    dtls_device_id: str | None,
    over_dtls: bool,
    allow_nosec: bool,
    server: LwM2MServer = LwM2MServer.MANAGEMENT,
    hands_out_psk: bool = False,
) -> str | None:
    """Why a request of `device_id` to `server` on this channel is refused, or None when it is admitted.

    `mode` is the device's mode at that server; `dtls_device_id` is the device whose PSK identity authenticated the
    DTLS session (None on plain CoAP); `hands_out_psk`: the answer would carry a PSK (a bootstrap into psk mode).
    """
    if over_dtls:
        if dtls_device_id != device_id:
            # A valid key of one device must never open another device's registration.
            return "the DTLS identity belongs to another device"
        if mode is not SecurityMode.PSK:
            return _NOT_PSK[server]
        return None
    if mode is SecurityMode.PSK:
        return _NEEDS_DTLS[server]
    if not allow_nosec:
        return NOSEC_DISABLED
    if hands_out_psk:
        # A key written over plain CoAP would travel in the clear to anyone on the path.
        return "a PSK is never handed out over plain CoAP"
    return None
