"""The account's callback URL, its signing secret, and the delivery log.

An account has one callback. v3 registers it by URL; v1 registers it as the named service `Fota`, with a username
and password echoed in every message. The version it was last registered through decides the events' shape.
"""

from __future__ import annotations

import secrets
from dataclasses import replace

from fota.clock import Clock
from fota.domain.errors import InvalidRequest, NotFound
from fota.services.outbound import OutboundPolicy
from fota.services.ports import CallbackRegistration, DeliveryAttempt, UnitOfWork

MAX_LOG_PAGE = 1000


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
    return replace(registration, signing_secret=secret)


def register_callback(
    *,
    uow: UnitOfWork,
    clock: Clock,
    outbound: OutboundPolicy,
    account_name: str,
    url: str | None,
    api_version: str = "v3",
) -> str:
    """Registers (or re-registers) the URL; the secret is kept on re-registration so receivers keep verifying.

    The outbound policy refuses internal destinations here (400) and again before every delivery. `api_version`: the
    API version registering it (v2 or v3); events are delivered in that version's payload shape.
    """
    checked = outbound.check_registration(url)
    with uow:
        uow.callbacks.set(account_name, checked, at=clock.now(), api_version=api_version)
        ensure_signing_secret(uow, account_name)
        uow.commit()
    return checked


def update_callback(
    *,
    uow: UnitOfWork,
    clock: Clock,
    outbound: OutboundPolicy,
    account_name: str,
    url: str | None,
    api_version: str = "v3",
) -> str:
    checked = outbound.check_registration(url)
    with uow:
        if uow.callbacks.get(account_name) is None:
            raise NotFound(f"account {account_name} has no callback registered; POST one first")
        uow.callbacks.set(account_name, checked, at=clock.now(), api_version=api_version)
        ensure_signing_secret(uow, account_name)
        uow.commit()
    return checked


FOTA_SERVICE = "Fota"


def _check_service(name: str | None) -> str:
    if name != FOTA_SERVICE:
        raise InvalidRequest(f"callback service {name!r} is not supported: the only service is {FOTA_SERVICE!r}")
    return name


def register_service(
    *,
    uow: UnitOfWork,
    clock: Clock,
    outbound: OutboundPolicy,
    account_name: str,
    name: str | None,
    url: str | None,
    username: str | None,
    password: str | None,
) -> CallbackRegistration:
    """v1's registration: the account's callback becomes the `Fota` service, sent v1-shaped events; the outbound
    policy refuses internal destinations as it does for v3."""
    _check_service(name)
    checked = outbound.check_registration(url)
    with uow:
        uow.callbacks.set(account_name, checked, at=clock.now(), api_version="v1", username=username, password=password)
        registration = ensure_signing_secret(uow, account_name)
        uow.commit()
    assert registration is not None
    return registration


def registered_services(*, uow: UnitOfWork, account_name: str) -> list[CallbackRegistration]:
    """v1's list of named services: the account's callback, whichever version registered it, or none."""
    with uow:
        registration = uow.callbacks.registration(account_name)
    return [registration] if registration is not None else []


def deregister_service(*, uow: UnitOfWork, account_name: str, name: str) -> None:
    _check_service(name)
    deregister_callback(uow=uow, account_name=account_name)


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
