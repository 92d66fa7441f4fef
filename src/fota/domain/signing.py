"""Publisher keys and image signatures: the algorithms fota trusts, what a key id may look like, and the rule that
decides whether a campaign may use an image (docs/adr/0016-signed-firmware.md). Verification itself is a port."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from fota.domain.campaign import Firmware
from fota.domain.errors import InvalidRequest

_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
MAX_PUBLIC_KEY_CHARS = 4096
MAX_SIGNATURE_CHARS = 512  # base64 of a DER ECDSA P-256 signature (at most 72 bytes) or an Ed25519 one (64), padded


class SignatureAlgorithm(StrEnum):
    ED25519 = "ed25519"
    ECDSA_P256 = "ecdsa-p256"  # ECDSA over NIST P-256 with SHA-256


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    algorithm: SignatureAlgorithm
    public_key_pem: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def check_key_id(key_id: str) -> str:
    if not _KEY_ID.fullmatch(key_id):
        raise InvalidRequest(
            "keyId must be 1-128 characters of letters, digits and . _ : -, starting with a letter or digit"
        )
    return key_id


def campaign_signing_refusal(firmware: Firmware, keys: dict[str, SigningKey]) -> str | None:
    """Why a campaign that requires signed firmware cannot use this firmware's image, or None when it can."""
    if firmware.image_sha256 is None:
        return f"firmware {firmware.name!r} has no image yet"
    if firmware.image_signature is None or firmware.image_key_id is None:
        return f"the image of firmware {firmware.name!r} is not signed by a trusted publisher key"
    key = keys.get(firmware.image_key_id)
    if key is None or not key.active:
        return f"the image of firmware {firmware.name!r} was signed with key {firmware.image_key_id!r}, now revoked"
    return None
