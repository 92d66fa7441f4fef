"""OAuth client-credentials tokens, M2M session login/logout, and the check every FOTA call passes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from fota.clock import Clock
from fota.domain.accounts import Token, TokenKind
from fota.domain.errors import Forbidden, InvalidCredentials, InvalidRequest, Unauthorized
from fota.services.ports import PasswordHasher, UnitOfWork
from fota.services.throttle import FailureThrottle, client_keys, user_keys
from fota.services.token_cache import TokenCache

TOKEN_LIFETIME = timedelta(seconds=3600)
CONSOLE_LIFETIME = timedelta(hours=8)


def token_hash(token: str) -> str:
    # Tokens are 256 random bits, so a fast hash is enough: the store never holds a usable token.
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    value: str
    expires_in: int


@dataclass(frozen=True)
class Caller:
    """Who is calling: the account both tokens belong to and the session's user."""

    account_name: str
    username: str
    session_token_hash: str


class ClientAuthFailed(Exception):
    """Wrong client id or secret: the OAuth endpoint answers `invalid_client`."""


def issue_access_token(
    *,
    uow: UnitOfWork,
    clock: Clock,
    hasher: PasswordHasher,
    client_id: str,
    client_secret: str,
    throttle: FailureThrottle | None = None,
    address: str | None = None,
) -> IssuedToken:
    """A Bearer token for a client's id and secret; with a throttle, repeated failures lock the client and the
    address out (TooManyAttempts) for a while."""
    now = clock.now()
    charge = throttle.charge(client_keys(client_id, address), now) if throttle is not None else None
    with uow:
        client = uow.credentials.client(client_id)
        if client is None or not hasher.verify(client[1], client_secret):
            raise ClientAuthFailed("client authentication failed")  # the charge stays: a counted failure
        if throttle is not None and charge is not None:
            throttle.refund(charge)
        value = secrets.token_urlsafe(32)
        uow.tokens.add(
            token_hash(value),
            Token(TokenKind.ACCESS, client[0], client_id, now, now + TOKEN_LIFETIME, None),
        )
        uow.commit()
    return IssuedToken(value, int(TOKEN_LIFETIME.total_seconds()))


def _valid_token(uow: UnitOfWork, value: str | None, kind: TokenKind, clock: Clock, what: str) -> Token:
    if not value:
        raise Unauthorized(f"missing {what}")
    return _checked(uow.tokens.get(token_hash(value)), kind, clock.now(), what)


def _checked(token: Token | None, kind: TokenKind, now: datetime, what: str) -> Token:
    if token is None or token.kind is not kind:
        raise Unauthorized(f"invalid {what}")
    if token.revoked_at is not None:
        raise Unauthorized(f"{what} has been revoked")
    if not token.valid_at(now):
        raise Unauthorized(f"{what} has expired")
    return token


def _cached_tokens(
    uow: UnitOfWork, cache: TokenCache | None, now: datetime, wanted: list[tuple[str | None, TokenKind, str]]
) -> list[Token]:
    """Each (value, kind, what) checked like `_valid_token`, in order; from the cache where it can, else in one read."""
    hashes, found = _from_cache(cache, now, [value for value, _, _ in wanted])
    if any(token is None and h for token, h in zip(found, hashes, strict=True)):
        with uow:
            found = [token or (uow.tokens.get(h) if h else None) for token, h in zip(found, hashes, strict=True)]
    checked: list[Token] = []
    for (value, kind, what), h, token in zip(wanted, hashes, found, strict=True):
        if not value or h is None:
            raise Unauthorized(f"missing {what}")
        checked.append(_checked(token, kind, now, what))
        if cache is not None:
            cache.put(h, checked[-1], now)
    return checked


def _from_cache(
    cache: TokenCache | None, now: datetime, values: list[str | None]
) -> tuple[list[str | None], list[Token | None]]:
    """Each token value's hash, and its validated token where the cache holds it."""
    hashes = [token_hash(value) if value else None for value in values]
    return hashes, [cache.get(h, now) if cache is not None and h else None for h in hashes]


def login(
    *,
    uow: UnitOfWork,
    clock: Clock,
    hasher: PasswordHasher,
    bearer: str | None,
    username: str,
    password: str,
    throttle: FailureThrottle | None = None,
    address: str | None = None,
) -> IssuedToken:
    """A session token for a user of the Bearer token's account; with a throttle, repeated wrong passwords lock the
    username and the address out (TooManyAttempts) for a while."""
    now = clock.now()
    with uow:
        access = _valid_token(uow, bearer, TokenKind.ACCESS, clock, "Bearer token")
        if not username or not password:
            raise InvalidRequest("username and password are required")
        _check_password(uow, hasher, throttle, access.account_name, username, password, address, now)
        value = secrets.token_urlsafe(32)
        uow.tokens.add(
            token_hash(value),
            Token(TokenKind.SESSION, access.account_name, username, now, now + TOKEN_LIFETIME, None),
        )
        uow.commit()
    return IssuedToken(value, int(TOKEN_LIFETIME.total_seconds()))


def _check_password(
    uow: UnitOfWork,
    hasher: PasswordHasher,
    throttle: FailureThrottle | None,
    account_name: str,
    username: str,
    password: str,
    address: str | None,
    now: datetime,
) -> None:
    """InvalidCredentials unless the user's password matches, charged to the throttle as session login and console
    sign-in alike: a guesser gains nothing by switching between them."""
    keys = user_keys(f"{account_name}/{username}", address)
    charge = throttle.charge(keys, now) if throttle is not None else None
    stored = uow.credentials.user_password_hash(account_name, username) if account_name and username else None
    if stored is None or not password or not hasher.verify(stored, password):
        raise InvalidCredentials("invalid username or password for this account")
    if throttle is not None and charge is not None:
        throttle.refund(charge)


def authorize(
    *,
    uow: UnitOfWork,
    clock: Clock,
    bearer: str | None,
    session: str | None,
    account_name: str | None,
    cache: TokenCache | None = None,
) -> Caller:
    """Both tokens valid (else 401) and of the account in the path (else 403); with a cache, usually no read."""
    access, sess = _cached_tokens(
        uow,
        cache,
        clock.now(),
        [(bearer, TokenKind.ACCESS, "Bearer token"), (session, TokenKind.SESSION, "VZ-M2M-Token")],
    )
    return _caller(access, sess, session, account_name)


def cached_caller(
    *, clock: Clock, bearer: str | None, session: str | None, account_name: str | None, cache: TokenCache
) -> Caller | None:
    """`authorize` answered from the cache alone: the caller when both tokens are cached, else None (read them)."""
    _, (access, sess) = _from_cache(cache, clock.now(), [bearer, session])
    if access is None or sess is None or access.kind is not TokenKind.ACCESS or sess.kind is not TokenKind.SESSION:
        return None
    return _caller(access, sess, session, account_name)


def _caller(access: Token, sess: Token, session: str | None, account_name: str | None) -> Caller:
    if access.account_name != sess.account_name:
        raise Unauthorized("the Bearer token and the VZ-M2M-Token belong to different accounts")
    if account_name is not None and access.account_name != account_name:
        raise Forbidden(f"these credentials are not valid for account {account_name}")
    assert session is not None
    return Caller(access.account_name, sess.subject, token_hash(session))


def logout(
    *, uow: UnitOfWork, clock: Clock, bearer: str | None, session: str | None, cache: TokenCache | None = None
) -> None:
    caller = authorize(uow=uow, clock=clock, bearer=bearer, session=session, account_name=None)
    with uow:
        uow.tokens.revoke(caller.session_token_hash, at=clock.now())
        uow.commit()
    if cache is not None:
        cache.evict(caller.session_token_hash)


def reset_password(*, uow: UnitOfWork, clock: Clock, hasher: PasswordHasher, caller: Caller, old_password: str) -> str:
    with uow:
        stored = uow.credentials.user_password_hash(caller.account_name, caller.username)
        if stored is None or not hasher.verify(stored, old_password):
            raise InvalidCredentials("oldPassword is not the current password")
        new_password = secrets.token_urlsafe(12)
        uow.credentials.set_user_password(
            caller.account_name, caller.username, hasher.hash(new_password), at=clock.now()
        )
        uow.commit()
    return new_password


@dataclass(frozen=True)
class ConsoleSession:
    """A signed-in console user; `csrf_token` is derived from the cookie's secret, so it needs no storage."""

    account_name: str
    username: str
    token: str
    csrf_token: str
    expires_at: datetime


def csrf_token_for(session_token: str) -> str:
    # Keyed on the secret session token: a page can embed it, but another site can neither read nor forge it.
    return hmac.new(session_token.encode(), b"fota-console-csrf", hashlib.sha256).hexdigest()


def console_sign_in(
    *,
    uow: UnitOfWork,
    clock: Clock,
    hasher: PasswordHasher,
    account_name: str,
    username: str,
    password: str,
    throttle: FailureThrottle | None = None,
    address: str | None = None,
) -> ConsoleSession:
    """The same users, password check and throttle as session login; a `console` token lives 8 hours on the clock."""
    now = clock.now()
    with uow:
        try:
            _check_password(uow, hasher, throttle, account_name, username, password, address, now)
        except InvalidCredentials:
            raise InvalidCredentials("invalid account, username or password") from None
        value = secrets.token_urlsafe(32)
        expires_at = now + CONSOLE_LIFETIME
        uow.tokens.add(token_hash(value), Token(TokenKind.CONSOLE, account_name, username, now, expires_at, None))
        uow.commit()
    return ConsoleSession(account_name, username, value, csrf_token_for(value), expires_at)


def console_session(
    *, uow: UnitOfWork, clock: Clock, token: str | None, cache: TokenCache | None = None
) -> ConsoleSession:
    """The signed-in user of a console cookie; 401 when missing, unknown, revoked or expired."""
    (found,) = _cached_tokens(uow, cache, clock.now(), [(token, TokenKind.CONSOLE, "console session")])
    assert token is not None
    return ConsoleSession(found.account_name, found.subject, token, csrf_token_for(token), found.expires_at)


def console_sign_out(*, uow: UnitOfWork, clock: Clock, token: str, cache: TokenCache | None = None) -> None:
    with uow:
        uow.tokens.revoke(token_hash(token), at=clock.now())
        uow.commit()
    if cache is not None:
        cache.evict(token_hash(token))
