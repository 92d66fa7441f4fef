"""The tests' password hasher: real Argon2id at its lowest cost, in every server the tests start (in this process:
tests/in_process.py; forked: tests/forked_server.py)."""

from __future__ import annotations

from argon2 import PasswordHasher as Argon2
from argon2.exceptions import InvalidHashError, VerificationError


class CheapArgon2Hasher:
    """Argon2id at its lowest cost: the same hashes and checks as the production hasher (adapters/passwords.py),
    at a fraction of a millisecond instead of 70 ms, which thousands of token and login requests would pay."""

    def __init__(self) -> None:
        self._argon2 = Argon2(time_cost=1, memory_cost=8, parallelism=1)

    def hash(self, secret: str) -> str:
        return self._argon2.hash(secret)

    def verify(self, hashed: str, secret: str) -> bool:
        try:
            return self._argon2.verify(hashed, secret)
        except (VerificationError, InvalidHashError):
            return False
