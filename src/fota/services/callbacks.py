"""The account's callback URL (v3 has one per account), its signing secret, and the delivery log."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from fota.clock import Clock
from fota.domain.errors import InvalidRequest, NotFound
from fota.services.ports import CallbackRegistration, DeliveryAttempt, UnitOfWork

MAX_LOG_PAGE = 1000


def _check_url(url: str | None) -> str:
    if not url:
        raise InvalidRequest("url is required")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2048:
        raise InvalidRequest(f"url {url!r} is not an absolute http(s) URL")
    return url


def get_callback(*, uow: UnitOfWork, account_name: str) -> str | None:
    with uow:
        return uow.callbacks.get(account_name)


def ensure_signing_secret(uow: UnitOfWork, account_name: str) -> CallbackRegistration | None:
    """The registration, given a signing secret if it has none yet (rows registered before secrets existed)."""
    registration = uow.callbacks.registration(account_name)
    if registration is None or registration.signing_secret is not None:
        return registration
    secret = secrets.token_hex(32)
    uow.callbacks.set_signing_secret(account_name, secret)
    return CallbackRegistration(registration.url, secret)


def register_callback(*, uow: UnitOfWork, clock: Clock, account_name: str, url: str | None, version: str = "v3") -> str:
    """Registers (or re-registers) the URL; the secret is kept on re-registration so receivers keep verifying.

    `version`: the API version registering it (v2 or v3); events are delivered in that version's payload shape.
    """
    checked = _check_url(url)
    with uow:
        uow.callbacks.set(account_name, checked, at=clock.now(), version=version)
        ensure_signing_secret(uow, account_name)
        uow.commit()
    return checked


def update_callback(*, uow: UnitOfWork, clock: Clock, account_name: str, url: str | None, version: str = "v3") -> str:
    checked = _check_url(url)
    with uow:
        if uow.callbacks.get(account_name) is None:
            raise NotFound(f"account {account_name} has no callback registered; POST one first")
        uow.callbacks.set(account_name, checked, at=clock.now(), version=version)
        ensure_signing_secret(uow, account_name)
        uow.commit()
    return checked


def deregister_callback(*, uow: UnitOfWork, account_name: str) -> None:
    with uow:
        if not uow.callbacks.delete(account_name):
            raise NotFound(f"account {account_name} has no callback registered")
        uow.commit()


def signing_registration(*, uow: UnitOfWork, account_name: str) -> CallbackRegistration:
    """The URL and signing secret an operator hands to the receiver; 404 when no callback is registered."""
    with uow:
        registration = ensure_signing_secret(uow, account_name)
        if registration is None:
            raise NotFound(f"account {account_name} has no callback registered")
        uow.commit()
    return registration


def delivery_log(*, uow: UnitOfWork, account_name: str, before_id: int | None, limit: int) -> list[DeliveryAttempt]:
    """The account's delivery attempts, newest first; page with the smallest id seen as `before_id`."""
    if not 1 <= limit <= MAX_LOG_PAGE:
        raise InvalidRequest(f"limit must be between 1 and {MAX_LOG_PAGE}")
    with uow:
        if uow.accounts.get(account_name) is None:
            raise NotFound(f"account {account_name} not found")
        return uow.outbox.deliveries(account_name, before_id=before_id, limit=limit)
