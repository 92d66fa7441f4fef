"""Publisher signature verification: Ed25519 and ECDSA P-256 (DER and r||s) over an image's SHA-256 digest, with
the recipes docs/adr/0016-signed-firmware.md gives; wrong keys, digests, signatures and key types fail."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, utils

from fota.adapters.publisher_signatures import CryptographyVerifier
from fota.domain.errors import InvalidRequest
from fota.domain.signing import SignatureAlgorithm, SigningKey, check_key_id

IMAGE = b"FOTA-SIM-FIRMWARE version=2.0.0\n" + bytes(range(256)) * 40
DIGEST = hashlib.sha256(IMAGE).digest()
verifier = CryptographyVerifier()


def pem(private: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    public = private.public_key()
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def key(private: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> SigningKey:
    text = pem(private)
    return SigningKey("k1", verifier.algorithm_of(text), text, datetime.now(UTC))


def test_ed25519_signs_the_digest() -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    signing_key = key(private)
    assert signing_key.algorithm is SignatureAlgorithm.ED25519
    assert verifier.verify(signing_key, private.sign(DIGEST), DIGEST)
    assert not verifier.verify(signing_key, private.sign(IMAGE), DIGEST), "the digest is signed, not the image"
    assert not verifier.verify(signing_key, private.sign(DIGEST), hashlib.sha256(IMAGE + b"x").digest())
    assert not verifier.verify(key(ed25519.Ed25519PrivateKey.generate()), private.sign(DIGEST), DIGEST)
    assert not verifier.verify(signing_key, b"\x00" * 64, DIGEST)
    assert not verifier.verify(signing_key, b"short", DIGEST)


def test_ecdsa_p256_is_ecdsa_sha256_over_the_image_in_der_or_raw() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    signing_key = key(private)
    assert signing_key.algorithm is SignatureAlgorithm.ECDSA_P256
    # What `openssl dgst -sha256 -sign key.pem image` makes: ECDSA-SHA256 over the whole image, DER encoded.
    der = private.sign(IMAGE, ec.ECDSA(hashes.SHA256()))
    assert verifier.verify(signing_key, der, DIGEST)
    r, s = utils.decode_dss_signature(der)
    assert verifier.verify(signing_key, r.to_bytes(32, "big") + s.to_bytes(32, "big"), DIGEST)
    assert not verifier.verify(signing_key, der, hashlib.sha256(b"another image").digest())
    other = key(ec.generate_private_key(ec.SECP256R1()))
    assert not verifier.verify(other, der, DIGEST)
    assert not verifier.verify(signing_key, b"\x30\x06garbage", DIGEST)


@pytest.mark.parametrize(
    "text",
    [
        pem(ec.generate_private_key(ec.SECP384R1())),
        pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n",
        "",
    ],
    ids=["p384", "rsa", "garbage", "empty"],
)
def test_other_keys_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="publicKey"):
        verifier.algorithm_of(text)


@pytest.mark.parametrize("key_id", ["", "-starts-with-dash", "has space", "x" * 129, "slash/no", "ümlaut"])
def test_key_ids_are_plain_names(key_id: str) -> None:
    with pytest.raises(InvalidRequest, match="keyId"):
        check_key_id(key_id)
    assert check_key_id("publisher-2026.01:a_b") == "publisher-2026.01:a_b"
