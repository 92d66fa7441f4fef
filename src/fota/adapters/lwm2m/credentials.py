"""The DTLS server's PSK lookup: identity -> (key, claim), from the database through a small in-memory cache.

tinydtls asks for a key synchronously inside the handshake, on the event loop, so a lookup must never wait long:
a hit answers from memory; a miss (or an entry older than `ttl`) costs one short indexed read of
`device_security` by identity. Entries expire so that a changed key or mode takes effect within `ttl` seconds
without any cross-process signal; unknown identities are remembered briefly too, so a flood of handshakes with
made-up identities costs at most one read per identity per `negative_ttl`. Registration itself re-checks the
device's mode in the database, so a device switched away from psk cannot register even while its key is cached.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from fota.adapters.lwm2m.dtls import PskClaim
from fota.adapters.psk_cipher import CipherError
from fota.services import device_security
from fota.services.ports import KeyCipher, UnitOfWork

log = logging.getLogger(__name__)


# How an identity is looked up: the management keys (device_security) by default, the bootstrap keys for the
# bootstrap server (services.device_bootstrap.find_bootstrap_psk).
Find = Callable[..., device_security.PskEntry | None]


class PskCredentials:
    """`find_dtls_psk` for aiocoap's tinydtls server transport (dtls.PskLookup)."""

    def __init__(
        self,
        reader: Callable[[], UnitOfWork],
        cipher: KeyCipher,
        *,
        ttl: float = 30.0,
        negative_ttl: float = 5.0,
        max_entries: int = 100_000,
        monotonic: Callable[[], float] = time.monotonic,
        find: Find = device_security.find_psk,
    ) -> None:
        self._find = find
        self._reader = reader
        self._cipher = cipher
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        self._max_entries = max_entries
        self._monotonic = monotonic
        # identity -> (expires at, (key, claim) or None for "no such identity")
        self._cache: OrderedDict[bytes, tuple[float, tuple[bytes, PskClaim] | None]] = OrderedDict()
        self.reads = 0  # database reads so far (tests and metrics look at it)

    def find_dtls_psk(self, identity: bytes) -> tuple[bytes, PskClaim]:
        now = self._monotonic()
        cached = self._cache.get(identity)
        if cached is None or cached[0] <= now:
            found = self._load(identity)
            self._remember(identity, now, found)
        else:
            found = cached[1]
        if found is None:
            raise KeyError(identity)
        return found

    def forget(self, identity: bytes) -> None:
        self._cache.pop(identity, None)

    def _load(self, identity: bytes) -> tuple[bytes, PskClaim] | None:
        try:
            text = identity.decode("utf-8")
        except UnicodeDecodeError:
            return None  # identities are provisioned as UTF-8 text; anything else names nobody
        self.reads += 1
        try:
            entry = self._find(uow=self._reader(), cipher=self._cipher, identity=text)
        except CipherError as error:
            log.error("PSK of identity %r is unreadable (was FOTA_SECRET_KEY changed?): %s", text, error)
            return None
        if entry is None:
            return None
        return entry.key, PskClaim(entry.device_id, identity)

    def _remember(self, identity: bytes, now: float, found: tuple[bytes, PskClaim] | None) -> None:
        ttl = self._ttl if found is not None else self._negative_ttl
        self._cache[identity] = (now + ttl, found)
        self._cache.move_to_end(identity)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)
