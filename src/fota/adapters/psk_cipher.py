"""AES-256-GCM encryption of device pre-shared keys, keyed from FOTA_SECRET_KEY (services.ports.KeyCipher).

DTLS-PSK needs the key itself on the server, so it cannot be hashed like a password; it is encrypted instead.
The AES key is derived from the operator's secret with HKDF-SHA256, so any long random string works as
FOTA_SECRET_KEY. The device id is authenticated data: a ciphertext copied to another device's row fails to
decrypt instead of handing that device someone else's key. Stored form: version byte, 12-byte nonce, ciphertext.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = b"\x01"
_NONCE_BYTES = 12
MIN_SECRET_LENGTH = 16


class CipherError(ValueError):
    """A stored secret could not be decrypted (another FOTA_SECRET_KEY, or a damaged or moved row)."""


class PskCipher:
    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"FOTA_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"fota device psk v1").derive(
            secret.encode("utf-8")
        )
        self._aead = AESGCM(key)

    def encrypt(self, plaintext: bytes, *, context: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, context)

    def decrypt(self, ciphertext: bytes, *, context: bytes) -> bytes:
        if ciphertext[:1] != _VERSION or len(ciphertext) < 1 + _NONCE_BYTES + 16:
            raise CipherError("unknown ciphertext format")
        nonce, body = ciphertext[1 : 1 + _NONCE_BYTES], ciphertext[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, context)
        except InvalidTag:
            raise CipherError("the secret does not decrypt with this FOTA_SECRET_KEY") from None


def cipher_from_secret(secret: str) -> PskCipher | None:
    """The cipher for a configured secret, or None when none is configured or it is too short to be a secret
    (PSKs then cannot be stored or read, and the callers say so)."""
    if len(secret) < MIN_SECRET_LENGTH:
        return None
    return PskCipher(secret)
