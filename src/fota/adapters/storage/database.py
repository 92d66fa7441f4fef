"""Creating the SQLAlchemy engine for a database URL and bringing its schema to the newest migration."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

MIGRATIONS = Path(__file__).parent / "migrations"
READ_ONLY_OPTION = "fota_read_only"
# SQLite takes one writer at a time, and its busy handler retries a waiting writer after sleeps that grow to 100 ms:
# under contention, threads waited far longer than the writer held the lock. They queue on this lock instead, which
# hands it over the moment it is released (docs/adr/0037). Other processes still meet the busy handler.
_SQLITE_WRITERS: WeakKeyDictionary[Engine, threading.RLock] = WeakKeyDictionary()


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    if parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    # Sessions in UTC: timestamps come back in the zone they are used in, with nothing to convert per value.
    return create_engine(
        url, pool_size=20, max_overflow=20, pool_pre_ping=True, connect_args={"options": "-c TimeZone=UTC"}
    )


def writer_lock(engine: Engine) -> threading.RLock | None:
    """The lock a write transaction on this engine holds in the process; None where the database queues writers
    itself (PostgreSQL)."""
    return _SQLITE_WRITERS.get(engine)


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=20)
    _SQLITE_WRITERS[engine] = threading.RLock()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy issue BEGIN itself (below), and use WAL so readers never wait for the writer.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # BEGIN IMMEDIATE takes the write lock up front: a deferred transaction that reads and then
        # writes can fail with "database is locked" without waiting, which busy_timeout cannot help.
        # Read-only units of work begin DEFERRED and never wait for writers (WAL).
        read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
        # On the driver's connection: a statement through SQLAlchemy costs more than a short read's own query.
        connection.connection.driver_connection.execute("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")

    return engine


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


# Key of the session-level advisory lock that serialises migrations (any constant: only `fota` takes it).
MIGRATION_LOCK_KEY = 0x666F7461_0001


def migrate(engine: Engine) -> None:
    """Applies every migration not yet applied; safe to call on every start.

    On PostgreSQL several processes of a deployment may start at once: an advisory lock lets one migrate while the
    others wait, then find nothing left to apply. SQLite serves one process and needs no lock.
    """
    if engine.dialect.name != "postgresql":
        command.upgrade(alembic_config(engine), "head")
        return
    with engine.connect() as guard:
        guard.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        guard.commit()
        try:
            command.upgrade(alembic_config(engine), "head")
        finally:
            guard.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
            guard.commit()


def migrations_current(engine: Engine) -> bool:
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() == head


def readiness_problem(engine: Engine) -> dict[str, str] | None:
    """None when the database answers and its schema is current; otherwise what is not ready, for `/readyz`."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current = migrations_current(engine)
    except SQLAlchemyError as error:
        return {"database": str(error.__class__.__name__)}
    return None if current else {"migrations": "behind"}
