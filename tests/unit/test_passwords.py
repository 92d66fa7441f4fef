"""The production hasher: OWASP's Argon2id parameters, and checks that refuse a wrong secret or a broken hash. The
servers the tests start hash at the lowest cost instead (tests/cheap_hasher.py)."""

from __future__ import annotations

from fota.adapters.passwords import Argon2Hasher
from tests.cheap_hasher import CheapArgon2Hasher


def test_hashes_carry_owasp_parameters_and_verify_only_the_secret() -> None:
    hasher = Argon2Hasher()
    hashed = hasher.hash("correct horse")
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert hasher.verify(hashed, "correct horse")
    assert not hasher.verify(hashed, "correct horsE")
    assert hasher.hash("correct horse") != hashed  # salted


def test_a_broken_hash_is_a_refusal_not_an_error() -> None:
    assert not Argon2Hasher().verify("not-a-hash", "correct horse")
    assert not Argon2Hasher().verify("$argon2id$v=19$m=19456,t=2,p=1$broken", "correct horse")


def test_the_tests_cheap_hashes_are_the_same_scheme() -> None:
    """What a test server stored stays verifiable by the production hasher: only the cost differs."""
    hashed = CheapArgon2Hasher().hash("s3cret")
    assert hashed.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert Argon2Hasher().verify(hashed, "s3cret")
    assert not Argon2Hasher().verify(hashed, "s3cret!")
