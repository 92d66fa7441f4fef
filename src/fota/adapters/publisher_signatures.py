"""The signature verifier port over `cryptography`: Ed25519 and ECDSA P-256 publisher keys, verifying detached
signatures over an image's SHA-256 digest (docs/adr/0016-signed-firmware.md has the exact signing recipes)."""

from __future__ import annotations

from collections.abc import Callable

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, utils

from fota.domain.signing import SignatureAlgorithm, SigningKey

_RAW_P256_SIGNATURE = 64  # r || s, 32 bytes each, as some signers (PKCS#11, WebCrypto) give it instead of DER


def _load(public_key_pem: str) -> ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(public_key_pem.encode())
    except (ValueError, UnsupportedAlgorithm, TypeError) as error:
        raise ValueError(f"publicKey is not a PEM public key: {error}") from None
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise ValueError("publicKey must be an Ed25519 or an ECDSA P-256 (secp256r1) key")


class CryptographyVerifier:
    def algorithm_of(self, public_key_pem: str) -> SignatureAlgorithm:
        key = _load(public_key_pem)
        return (
            SignatureAlgorithm.ED25519 if isinstance(key, ed25519.Ed25519PublicKey) else SignatureAlgorithm.ECDSA_P256
        )

    def verify(self, key: SigningKey, signature: bytes, digest: bytes) -> bool:
        public = _load(key.public_key_pem)
        if isinstance(public, ed25519.Ed25519PublicKey):
            # Ed25519 signs the 32 digest bytes themselves (PureEdDSA over the digest).
            return _checks(lambda: public.verify(signature, digest))
        # Prehashed: the same signature as ECDSA-SHA256 over the whole image (`openssl dgst -sha256 -sign`).
        algorithm = ec.ECDSA(utils.Prehashed(hashes.SHA256()))
        if _checks(lambda: public.verify(signature, digest, algorithm)):
            return True
        if len(signature) != _RAW_P256_SIGNATURE:
            return False
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        return _checks(lambda: public.verify(utils.encode_dss_signature(r, s), digest, algorithm))


def _checks(verify: Callable[[], None]) -> bool:
    try:
        verify()
    except (InvalidSignature, ValueError):
        return False
    return True
