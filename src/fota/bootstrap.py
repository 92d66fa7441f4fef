"""Wires adapters to services: settings in, a container of ready parts out. Nothing runs at import time."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from sqlalchemy import Engine

from fota.adapters.callbacks.http_sender import HttpCallbackSender
from fota.adapters.callbacks.resolver import system_resolver
from fota.adapters.passwords import Argon2Hasher
from fota.adapters.publisher_signatures import CryptographyVerifier
from fota.adapters.storage.database import make_engine, migrate
from fota.adapters.storage.db_clock import DbClock
from fota.adapters.storage.refusal_ledger import SqlRefusalLedger
from fota.adapters.storage.throttle_store import SqlThrottle
from fota.adapters.storage.unit_of_work import SqlUnitOfWork, SqlUnitOfWorkFactory
from fota.clock import Clock, MovableClock, SimulatedClock, SystemClock
from fota.domain.outbound import AllowList
from fota.domain.upgrade import UpgradePolicy
from fota.services.outbound import OutboundPolicy
from fota.services.ports import PasswordHasher, RefusalLedger, SignatureVerifier
from fota.services.throttle import FailureThrottle, MemoryThrottle
from fota.services.token_cache import TokenCache

DEFAULT_DATABASE_URL = "sqlite:///fota.db"


class Role(StrEnum):
    """What a `fota serve` process does (docs/adr/0009-multi-process-coordination.md)."""

    API = "api"  # the HTTP API, console, docs and HTTP firmware downloads
    ENGINE = "engine"  # the campaign engine's tick and the callback outbox
    LWM2M = "lwm2m"  # the CoAP server: registrations, device sessions, CoAP downloads


ALL_ROLES = frozenset(Role)


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    admin_token: str = ""
    simulated_clock: bool = False
    engine_interval_seconds: float = 1.0
    coap_host: str = "0.0.0.0"  # noqa: S104 - devices reach the LwM2M server from the network
    coap_port: int | None = 5683  # None: no LwM2M server in this process
    public_coap_url: str = ""  # how devices reach our CoAP endpoint; derived from host and port when empty
    public_http_url: str = ""  # how devices reach our HTTP endpoint
    max_downloads: int = 200
    callback_interval_seconds: float = 1.0
    callback_max_attempts: int = 12
    callback_retention_days: float = 7.0  # delivered and given-up callback events, with their delivery log
    roles: frozenset[Role] = ALL_ROLES
    # Keep a simulated clock in the database so that several processes share it (adapters/storage/db_clock.py).
    shared_clock: bool = False
    # Device-side security (docs/adr/0010-dtls-psk.md). coaps_port None: the CoAP port + 1 (5684 beside 5683); 0: off.
    coaps_port: int | None = None
    public_coaps_url: str = ""  # how DTLS devices reach our coaps endpoint; derived from the CoAP URL when empty
    allow_nosec: bool = False  # accept plain-CoAP (NoSec) devices; off unless the operator enables it
    secret_key: str = ""  # encrypts stored PSKs; without it the admin API refuses to store one
    # LwM2M bootstrap server (docs/adr/0013-lwm2m-bootstrap.md): its CoAP port, 0 for none (`fota serve` defaults to
    # 5693); its coaps port, None for the bootstrap port + 1, 0 for none.
    bootstrap_port: int = 0
    bootstrap_coaps_port: int | None = None
    # Outbound URL policy (docs/callbacks.md): ranges and hosts callbacks may reach although internal, and whether
    # plain http is accepted towards those (never towards anything else).
    callback_allow: str = ""
    callback_allow_http: bool = False
    # Every firmware image must carry a verified publisher signature (ADR 16); accounts can require it one by one.
    require_signed_firmware: bool = False

    @classmethod
    def from_environment(cls, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": os.environ.get("FOTA_DATABASE_URL", DEFAULT_DATABASE_URL),
            "admin_token": os.environ.get("FOTA_ADMIN_TOKEN", ""),
            "public_coap_url": os.environ.get("FOTA_PUBLIC_COAP_URL", ""),
            "public_http_url": os.environ.get("FOTA_PUBLIC_HTTP_URL", ""),
            "public_coaps_url": os.environ.get("FOTA_PUBLIC_COAPS_URL", ""),
            "allow_nosec": _flag("FOTA_ALLOW_NOSEC"),
            "secret_key": os.environ.get("FOTA_SECRET_KEY", ""),
            "callback_allow": os.environ.get("FOTA_CALLBACK_ALLOW", ""),
            "callback_allow_http": _flag("FOTA_CALLBACK_ALLOW_HTTP"),
            "require_signed_firmware": _flag("FOTA_REQUIRE_SIGNED_FIRMWARE"),
        }
        if os.environ.get("FOTA_CALLBACK_MAX_ATTEMPTS"):
            values["callback_max_attempts"] = int(os.environ["FOTA_CALLBACK_MAX_ATTEMPTS"])
        # Poll intervals of the engine and callback loops; on PostgreSQL notifications wake them sooner.
        if os.environ.get("FOTA_CALLBACK_RETENTION_DAYS"):
            values["callback_retention_days"] = float(os.environ["FOTA_CALLBACK_RETENTION_DAYS"])
        if os.environ.get("FOTA_ENGINE_INTERVAL"):
            values["engine_interval_seconds"] = float(os.environ["FOTA_ENGINE_INTERVAL"])
        if os.environ.get("FOTA_CALLBACK_INTERVAL"):
            values["callback_interval_seconds"] = float(os.environ["FOTA_CALLBACK_INTERVAL"])
        values.update({k: v for k, v in overrides.items() if v is not None or k == "coap_port"})
        return cls(**values)  # type: ignore[arg-type]


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass
class Container:
    settings: Settings
    engine: Engine
    clock: Clock
    hasher: PasswordHasher
    admin_token: str
    uow_factory: SqlUnitOfWorkFactory = field(init=False)
    policy: UpgradePolicy = field(default_factory=UpgradePolicy)
    verifier: SignatureVerifier = field(default_factory=CryptographyVerifier)
    callback_sender: HttpCallbackSender = field(init=False)
    outbound: OutboundPolicy = field(init=False)
    throttle: FailureThrottle = field(init=False)
    refusal_ledger: RefusalLedger | None = field(init=False)  # the CoAP refusal budget's, shared on PostgreSQL
    # Validated API and console tokens (services/token_cache.py); on PostgreSQL trusted only while the process hears
    # revocations, which runtime wiring arranges by giving it the notification listener's state.
    tokens: TokenCache = field(default_factory=TokenCache)

    def __post_init__(self) -> None:
        self.uow_factory = SqlUnitOfWorkFactory(self.engine)
        # Shared through the database where several processes may serve the API; SQLite deployments are one process.
        is_postgresql = self.engine.dialect.name == "postgresql"
        # Its own pool: a login charges the throttle while its unit of work holds a connection of the main pool,
        # and waiting on the same pool for a second one could exhaust it under a burst of logins.
        url = self.engine.url.render_as_string(hide_password=False)
        self.throttle = SqlThrottle(make_engine(url)) if is_postgresql else MemoryThrottle()
        self.refusal_ledger = SqlRefusalLedger(self.engine) if is_postgresql else None
        self.callback_sender = HttpCallbackSender()
        # Parsed here so a typo in FOTA_CALLBACK_ALLOW stops start-up instead of silently allowing nothing.
        allow = AllowList.parse(self.settings.callback_allow, http=self.settings.callback_allow_http)
        self.outbound = OutboundPolicy(allow=allow, resolver=system_resolver)

    def uow(self) -> SqlUnitOfWork:
        return self.uow_factory()

    def reader(self) -> SqlUnitOfWork:
        """A unit of work for use cases that only read (never blocks on SQLite's writer)."""
        return self.uow_factory.reader()

    @property
    def simulated_clock(self) -> MovableClock | None:
        return self.clock if isinstance(self.clock, MovableClock) else None


def build(settings: Settings, *, clock: Clock | None = None) -> Container:
    """Connects to the database, applies migrations and returns the wired container."""
    url = settings.database_url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    migrate(engine)
    chosen_clock = clock or _clock(settings)
    return Container(
        settings=settings,
        engine=engine,
        clock=chosen_clock,
        hasher=Argon2Hasher(),
        admin_token=settings.admin_token or secrets.token_urlsafe(24),
    )


def _clock(settings: Settings) -> Clock:
    if not settings.simulated_clock:
        return SystemClock()
    if settings.shared_clock:
        # Its own engine: see db_clock.py for why the clock does not borrow from the main pool.
        return DbClock.start(make_engine(settings.database_url))
    return SimulatedClock()
