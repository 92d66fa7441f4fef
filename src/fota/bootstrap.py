"""Wires adapters to services: settings in, a container of ready parts out. Nothing runs at import time."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from fota.adapters.callbacks.http_sender import HttpCallbackSender
from fota.adapters.passwords import Argon2Hasher
from fota.adapters.storage.database import make_engine, migrate
from fota.adapters.storage.unit_of_work import SqlUnitOfWork, SqlUnitOfWorkFactory
from fota.clock import Clock, SimulatedClock, SystemClock
from fota.domain.upgrade import UpgradePolicy
from fota.services.ports import PasswordHasher

DEFAULT_DATABASE_URL = "sqlite:///fota.db"


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

    @classmethod
    def from_environment(cls, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": os.environ.get("FOTA_DATABASE_URL", DEFAULT_DATABASE_URL),
            "admin_token": os.environ.get("FOTA_ADMIN_TOKEN", ""),
            "public_coap_url": os.environ.get("FOTA_PUBLIC_COAP_URL", ""),
            "public_http_url": os.environ.get("FOTA_PUBLIC_HTTP_URL", ""),
        }
        if os.environ.get("FOTA_CALLBACK_MAX_ATTEMPTS"):
            values["callback_max_attempts"] = int(os.environ["FOTA_CALLBACK_MAX_ATTEMPTS"])
        values.update({k: v for k, v in overrides.items() if v is not None or k == "coap_port"})
        return cls(**values)  # type: ignore[arg-type]


@dataclass
class Container:
    settings: Settings
    engine: Engine
    clock: Clock
    hasher: PasswordHasher
    admin_token: str
    uow_factory: SqlUnitOfWorkFactory = field(init=False)
    policy: UpgradePolicy = field(default_factory=UpgradePolicy)
    callback_sender: HttpCallbackSender = field(init=False)

    def __post_init__(self) -> None:
        self.uow_factory = SqlUnitOfWorkFactory(self.engine)
        self.callback_sender = HttpCallbackSender()

    def uow(self) -> SqlUnitOfWork:
        return self.uow_factory()

    def reader(self) -> SqlUnitOfWork:
        """A unit of work for use cases that only read (never blocks on SQLite's writer)."""
        return self.uow_factory.reader()

    @property
    def simulated_clock(self) -> SimulatedClock | None:
        return self.clock if isinstance(self.clock, SimulatedClock) else None


def build(settings: Settings, *, clock: Clock | None = None) -> Container:
    """Connects to the database, applies migrations and returns the wired container."""
    url = settings.database_url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    migrate(engine)
    chosen_clock = clock or (SimulatedClock() if settings.simulated_clock else SystemClock())
    return Container(
        settings=settings,
        engine=engine,
        clock=chosen_clock,
        hasher=Argon2Hasher(),
        admin_token=settings.admin_token or secrets.token_urlsafe(24),
    )
