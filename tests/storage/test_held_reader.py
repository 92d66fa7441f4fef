"""The held reader (SqlUnitOfWorkFactory.held_reader): one connection kept between uses, each use its own read-only
transaction that sees what other connections committed before it began, and none held after it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
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


@pytest.fixture
def factory(tmp_path: Path) -> Iterator[SqlUnitOfWorkFactory]:
    engine = make_engine(f"sqlite:///{tmp_path / 'fota.db'}")
    migrate(engine)
    yield SqlUnitOfWorkFactory(engine)
    engine.dispose()


def test_each_use_reads_what_was_committed_before_it_on_the_same_connection(factory: SqlUnitOfWorkFactory) -> None:
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


def test_the_held_connection_serves_one_thread(factory: SqlUnitOfWorkFactory) -> None:
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


def test_a_held_connection_that_fails_is_replaced_by_a_new_one(factory: SqlUnitOfWorkFactory) -> None:
    with pytest.raises(Exception), factory.held_reader() as broken:  # noqa: B017 - the driver's own error
        assert broken._connection is not None
        first = broken._connection
        first.connection.dbapi_connection.close()  # as a lost database file would leave it
    with factory.held_reader() as fresh:
        assert fresh._connection is not first
        assert fresh.accounts.get("0000000001-00001") is None
