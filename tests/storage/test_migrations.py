"""Migrations build exactly the schema the code declares, on SQLite and PostgreSQL, and can be walked back and
forth; `readyz`'s "migrations current" check agrees."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from fota.adapters.storage.database import alembic_config, make_engine, migrate, migrations_current
from fota.adapters.storage.tables import metadata
from tests.conftest import BACKENDS, POSTGRES_ADMIN_URL


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        created = make_engine(f"sqlite:///{tmp_path / 'schema.db'}")
        yield created
        created.dispose()
        return
    name = f"fota_schema_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    created = make_engine(f"{base}/{name}")
    try:
        yield created
    finally:
        created.dispose()
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migrations_match_the_declared_tables(engine: Engine) -> None:
    assert not migrations_current(engine)
    migrate(engine)
    assert migrations_current(engine)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []


def test_migrations_walk_down_and_up_again(engine: Engine) -> None:
    migrate(engine)
    config = alembic_config(engine)
    command.downgrade(config, "base")
    assert not migrations_current(engine)
    migrate(engine)  # and migrating twice is harmless
    migrate(engine)
    assert migrations_current(engine)
