"""A built `fota` process: the database connected and migrated, the clock chosen, and the service context that the
edges take, wired from the concrete adapters. Nothing runs until a role is started (runtime/roles.py)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from fota.adapters.callbacks.http_sender import HttpCallbackSender
from fota.adapters.callbacks.resolver import system_resolver
from fota.adapters.passwords import Argon2Hasher
from fota.adapters.psk_cipher import cipher_from_secret
from fota.adapters.publisher_signatures import CryptographyVerifier
from fota.adapters.storage.database import make_engine, migrate
from fota.adapters.storage.db_clock import DbClock
from fota.adapters.storage.refusal_ledger import SqlRefusalLedger
from fota.adapters.storage.throttle_store import SqlThrottle
from fota.adapters.storage.unit_of_work import SqlUnitOfWorkFactory
from fota.clock import Clock, SimulatedClock, SystemClock
from fota.domain.outbound import AllowList
from fota.runtime.settings import Settings
from fota.services.context import ServiceContext
from fota.services.outbound import OutboundPolicy
from fota.services.throttle import FailureThrottle, MemoryThrottle
from fota.services.token_cache import TokenCache


@dataclass(frozen=True)
class Process:
    settings: Settings
    engine: Engine
    services: ServiceContext
    admin_token: str  # FOTA_ADMIN_TOKEN, or one made up for this run
    callback_sender: HttpCallbackSender  # `services.sender`, which keeps connections to close at shutdown


def build(settings: Settings, *, clock: Clock | None = None) -> Process:
    """Connects to the database, applies migrations and wires the process's parts."""
    url = settings.database_url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    migrate(engine)
    chosen_clock = clock or _clock(settings)
    units = SqlUnitOfWorkFactory(engine)
    # Shared through the database where several processes may serve the API; SQLite deployments are one process.
    is_postgresql = engine.dialect.name == "postgresql"
    throttle: FailureThrottle
    if is_postgresql:
        # Its own pool: a login charges the throttle while its unit of work holds a connection of the main pool,
        # and waiting on the same pool for a second one could exhaust it under a burst of logins.
        throttle = SqlThrottle(make_engine(engine.url.render_as_string(hide_password=False)))
    else:
        throttle = MemoryThrottle()
    sender = HttpCallbackSender()
    # Parsed here so a typo in FOTA_CALLBACK_ALLOW stops start-up instead of silently allowing nothing.
    allow = AllowList.parse(settings.callback_allow, http=settings.callback_allow_http)
    services = ServiceContext(
        uow=units,
        reader=units.reader,
        # A PostgreSQL read is a network round trip: it never runs on the event loop.
        loop_reader=None if is_postgresql else units.held_reader,
        exclusive=units.exclusive,
        clock=chosen_clock,
        hasher=Argon2Hasher(),
        verifier=CryptographyVerifier(),
        sender=sender,
        outbound=OutboundPolicy(allow=allow, resolver=system_resolver),
        throttle=throttle,
        # On PostgreSQL trusted only while the process hears revocations: runtime/roles.py gives it the
        # notification listener's state.
        tokens=TokenCache(),
        cipher=cipher_from_secret(settings.secret_key),
        refusal_ledger=SqlRefusalLedger(engine) if is_postgresql else None,
        require_signed_firmware=settings.require_signed_firmware,
    )
    return Process(
        settings=settings,
        engine=engine,
        services=services,
        admin_token=settings.admin_token or secrets.token_urlsafe(24),
        callback_sender=sender,
    )


def _clock(settings: Settings) -> Clock:
    if not settings.simulated_clock:
        return SystemClock()
    if settings.shared_clock:
        # Its own engine: see db_clock.py for why the clock does not borrow from the main pool.
        return DbClock.start(make_engine(settings.database_url))
    return SimulatedClock()
