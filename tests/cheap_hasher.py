"""The tests' password hasher: real Argon2id at its lowest cost, in every server the tests start (in this process:
tests/in_process.py; forked: tests/forked_server.py)."""

from __future__ import annotations

from fota.adapters.passwords import Argon2Hasher


class CheapArgon2Hasher(Argon2Hasher):
    """The production hasher (adapters/passwords.py) at Argon2id's lowest cost: the same hashes and checks at a
    fraction of a millisecond instead of tens of milliseconds, which thousands of token and login requests would pay."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
