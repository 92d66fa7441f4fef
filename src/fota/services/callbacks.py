"""The account's callback URL (v3 has one per account)."""

from __future__ import annotations

from urllib.parse import urlsplit

from fota.clock import Clock
from fota.domain.errors import InvalidRequest, NotFound
from fota.services.ports import UnitOfWork


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


def register_callback(*, uow: UnitOfWork, clock: Clock, account_name: str, url: str | None) -> str:
    checked = _check_url(url)
    with uow:
        uow.callbacks.set(account_name, checked, at=clock.now())
        uow.commit()
    return checked


def update_callback(*, uow: UnitOfWork, clock: Clock, account_name: str, url: str | None) -> str:
    checked = _check_url(url)
    with uow:
        if uow.callbacks.get(account_name) is None:
            raise NotFound(f"account {account_name} has no callback registered; POST one first")
        uow.callbacks.set(account_name, checked, at=clock.now())
        uow.commit()
    return checked


def deregister_callback(*, uow: UnitOfWork, account_name: str) -> None:
    with uow:
        if not uow.callbacks.delete(account_name):
            raise NotFound(f"account {account_name} has no callback registered")
        uow.commit()
