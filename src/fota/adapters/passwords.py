"""Password and client-secret hashing with Argon2id (argon2-cffi)."""

from __future__ import annotations

from argon2 import PasswordHasher as Argon2
from argon2.exceptions import InvalidHashError, VerificationError


class Argon2Hasher:
    def __init__(self) -> None:
        self._argon2 = Argon2()

    def hash(self, secret: str) -> str:
        return self._argon2.hash(secret)

    def verify(self, hashed: str, secret: str) -> bool:
        try:
            return self._argon2.verify(hashed, secret)
        except (VerificationError, InvalidHashError):
            return False
