"""Wires adapters to services: settings in, a container of ready parts out. Nothing runs at import time."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from fota.adapters.passwords import Argon2Hasher
from fota.adapters.storage.database import make_engine, migrate
from fota.adapters.storage.unit_of_work import SqlUnitOfWork, SqlUnitOfWorkFactory
from fota.clock import Clock, SimulatedClock, SystemClock
from fota.services.ports import PasswordHasher

DEFAULT_DATABASE_URL = "sqlite:///fota.db"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    admin_token: str = ""
    simulated_clock: bool = False
    engine_interval_seconds: float = 1.0

    @classmethod
    def from_environment(cls, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": os.environ.get("FOTA_DATABASE_URL", DEFAULT_DATABASE_URL),
            "admin_token": os.environ.get("FOTA_ADMIN_TOKEN", ""),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


@dataclass
class Container:
    settings: Settings
    engine: Engine
    clock: Clock
    hasher: PasswordHasher
    admin_token: str
    uow_factory: SqlUnitOfWorkFactory = field(init=False)

    def __post_init__(self) -> None:
        self.uow_factory = SqlUnitOfWorkFactory(self.engine)

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
