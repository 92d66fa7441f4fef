"""The in-process token cache: bounded, on the injected clock, never past a token's expiry, silent when not live."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from fota.clock import SimulatedClock
from fota.domain.accounts import Token, TokenKind
from fota.domain.errors import Unauthorized
from fota.services import auth
from fota.services.token_cache import TokenCache

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def token(kind: TokenKind = TokenKind.ACCESS, lifetime: float = 3600, revoked: bool = False) -> Token:
    return Token(kind, "0000000001-00001", "subject", T0, T0 + timedelta(seconds=lifetime), T0 if revoked else None)


def test_an_entry_lives_its_ttl_on_the_clock() -> None:
    cache = TokenCache(ttl=timedelta(seconds=60))
    cache.put("h", token(), T0)
    assert cache.get("h", T0 + timedelta(seconds=59)) == token()
    assert cache.get("h", T0 + timedelta(seconds=60)) is None
    assert len(cache) == 0


def test_an_entry_is_never_trusted_past_the_tokens_own_expiry() -> None:
    cache = TokenCache(ttl=timedelta(hours=1))
    cache.put("h", token(lifetime=10), T0)
    assert cache.get("h", T0 + timedelta(seconds=9)) is not None
    assert cache.get("h", T0 + timedelta(seconds=10)) is None


def test_invalid_tokens_are_not_cached() -> None:
    cache = TokenCache()
    cache.put("revoked", token(revoked=True), T0)
    cache.put("expired", token(lifetime=1), T0 + timedelta(seconds=5))
    assert len(cache) == 0


def test_the_least_recently_used_entry_leaves_first() -> None:
    cache = TokenCache(max_entries=2)
    cache.put("a", token(), T0)
    cache.put("b", token(), T0)
    assert cache.get("a", T0) is not None  # b is now the least recently used
    cache.put("c", token(), T0)
    assert cache.get("b", T0) is None
    assert cache.get("a", T0) is not None and cache.get("c", T0) is not None


def test_a_cache_that_does_not_hear_revocations_answers_nothing() -> None:
    live = True
    cache = TokenCache(live=lambda: live)
    cache.put("h", token(), T0)
    live = False
    assert cache.get("h", T0) is None
    live = True
    assert cache.get("h", T0) is not None


def test_revocation_notices_evict_one_or_all() -> None:
    cache = TokenCache()
    for h in ("a", "b"):
        cache.put(h, token(), T0)
    cache.revoked("a")
    assert cache.get("a", T0) is None and cache.get("b", T0) is not None
    cache.revoked(None)
    assert len(cache) == 0


@dataclass
class CountingTokens:
    stored: dict[str, Token] = field(default_factory=dict)
    reads: int = 0

    def get(self, token_hash: str) -> Token | None:
        self.reads += 1
        return self.stored.get(token_hash)

    def revoke(self, token_hash: str, *, at: datetime) -> None:
        old = self.stored[token_hash]
        self.stored[token_hash] = Token(old.kind, old.account_name, old.subject, old.issued_at, old.expires_at, at)


@dataclass
class TokensOnlyUnitOfWork:
    tokens: CountingTokens = field(default_factory=CountingTokens)

    def __enter__(self) -> TokensOnlyUnitOfWork:
        return self

    def __exit__(self, *args: object) -> None:
        return None

    def commit(self) -> None:
        return None


@pytest.fixture
def uow() -> TokensOnlyUnitOfWork:
    unit = TokensOnlyUnitOfWork()
    unit.tokens.stored[auth.token_hash("bearer")] = token(TokenKind.ACCESS)
    unit.tokens.stored[auth.token_hash("session")] = token(TokenKind.SESSION)
    return unit


def test_authorize_reads_both_tokens_once_then_serves_them_from_the_cache(uow: TokensOnlyUnitOfWork) -> None:
    clock, cache = SimulatedClock(T0), TokenCache()
    for _ in range(3):
        caller = auth.authorize(
            uow=uow,
            clock=clock,
            bearer="bearer",
            session="session",
            account_name=None,
            cache=cache,  # type: ignore[arg-type]
        )
        assert caller.account_name == "0000000001-00001"
    assert uow.tokens.reads == 2


def test_logout_is_refused_at_once_by_the_process_that_cached_the_session(uow: TokensOnlyUnitOfWork) -> None:
    clock, cache = SimulatedClock(T0), TokenCache()
    kwargs = {"uow": uow, "clock": clock, "bearer": "bearer", "session": "session", "cache": cache}
    auth.authorize(account_name=None, **kwargs)  # type: ignore[arg-type]
    auth.logout(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(Unauthorized, match="revoked"):
        auth.authorize(account_name=None, **kwargs)  # type: ignore[arg-type]


def test_a_cached_token_expires_on_the_clock(uow: TokensOnlyUnitOfWork) -> None:
    clock, cache = SimulatedClock(T0), TokenCache(ttl=timedelta(days=1))
    kwargs = {"uow": uow, "clock": clock, "bearer": "bearer", "session": "session", "cache": cache}
    auth.authorize(account_name=None, **kwargs)  # type: ignore[arg-type]
    clock.advance(3600)
    with pytest.raises(Unauthorized, match="expired"):
        auth.authorize(account_name=None, **kwargs)  # type: ignore[arg-type]
