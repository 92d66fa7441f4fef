"""On SQLite a unit of work that may write holds the process's writer lock from its start to its end, whether it
commits, fails or commits in steps; read-only units never take it; PostgreSQL has none (adapters/storage/database.py,
docs/adr/0037)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine

from fota.adapters.storage import unit_of_work
from fota.adapters.storage.database import make_engine, migrate, writer_lock
from fota.adapters.storage.unit_of_work import SqlUnitOfWorkFactory


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'fota.db'}")
    migrate(engine)
    return engine


def _free_for_another_thread(lock: threading.RLock) -> bool:
    """Whether a thread other than this one could take the lock now (without waiting)."""
    taken: list[bool] = []

    def attempt() -> None:
        got = lock.acquire(blocking=False)
        taken.append(got)
        if got:
            lock.release()

    other = threading.Thread(target=attempt)
    other.start()
    other.join()
    return taken == [True]


def test_a_writing_unit_holds_the_lock_until_it_ends_a_reading_one_never(sqlite_engine: Engine) -> None:
    lock = writer_lock(sqlite_engine)
    assert lock is not None
    units = SqlUnitOfWorkFactory(sqlite_engine)
    with units() as uow:
        assert not _free_for_another_thread(lock)
        uow.accounts.get("nobody")
        uow.commit()
        assert not _free_for_another_thread(lock)  # a unit may commit in steps: it keeps its place
        uow.accounts.get("nobody")
    assert _free_for_another_thread(lock)
    with units.reader() as reader:
        reader.accounts.get("nobody")
        assert _free_for_another_thread(lock)


def test_a_failing_unit_gives_the_lock_back(sqlite_engine: Engine) -> None:
    lock = writer_lock(sqlite_engine)
    assert lock is not None
    with pytest.raises(RuntimeError), SqlUnitOfWorkFactory(sqlite_engine)():
        raise RuntimeError("the use case failed")
    assert _free_for_another_thread(lock)


def test_postgresql_queues_its_writers_itself(engine: Engine) -> None:
    assert (writer_lock(engine) is None) is (engine.dialect.name == "postgresql")


def test_a_unit_that_gets_no_turn_in_time_fails_instead_of_waiting_for_ever(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(unit_of_work, "WRITER_WAIT_SECONDS", 0.2)
    lock = writer_lock(sqlite_engine)
    assert lock is not None
    holding, done = threading.Event(), threading.Event()

    def hold() -> None:
        with lock:
            holding.set()
            done.wait(timeout=30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(timeout=30)
        with pytest.raises(TimeoutError), SqlUnitOfWorkFactory(sqlite_engine)():
            pass
    finally:
        done.set()
        holder.join()
    with SqlUnitOfWorkFactory(sqlite_engine)() as uow:  # the failed unit left nothing behind
        uow.accounts.get("nobody")
    assert _free_for_another_thread(lock)
