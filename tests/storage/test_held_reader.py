"""The held reader (SqlUnitOfWorkFactory.held_reader): one connection kept between uses, each use its own read-only
transaction that sees what other connections committed before it began, and none held after it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert

from fota.adapters.storage.database import make_engine, migrate
from fota.adapters.storage.tables import accounts
from fota.adapters.storage.unit_of_work import SqlUnitOfWorkFactory

AT = datetime(2026, 12, 2, 12, tzinfo=UTC)


def _add_account(factory: SqlUnitOfWorkFactory, name: str) -> None:
    with factory.engine.begin() as connection:
        connection.execute(
            insert(accounts).values(name=name, license_count=1, licenses_used=0, created_at=AT, updated_at=AT)
        )


def test_each_use_reads_what_was_committed_before_it_on_the_same_connection(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fota.db'}")
    migrate(engine)
    factory = SqlUnitOfWorkFactory(engine)
    try:
        with factory.held_reader() as first:
            assert first.accounts.get("0000000001-00001") is None
            connection = first._connection
        _add_account(factory, "0000000001-00001")  # another connection commits while none is open here
        with factory.held_reader() as second:
            assert second.accounts.get("0000000001-00001") is not None
            assert second._connection is connection
            assert connection is not None and connection.in_transaction()
        assert not connection.in_transaction()  # no snapshot is held between uses
        with factory.held_reader() as third, pytest.raises(AssertionError, match="read-only"):
            third.commit()  # a reader never writes
    finally:
        engine.dispose()


def test_the_held_connection_serves_one_thread(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fota.db'}")
    migrate(engine)
    factory = SqlUnitOfWorkFactory(engine)
    try:
        with factory.held_reader():
            pass
        failures: list[BaseException] = []

        def elsewhere() -> None:
            try:
                with factory.held_reader():
                    pass
            except AssertionError as error:
                failures.append(error)

        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
        assert len(failures) == 1
    finally:
        engine.dispose()
