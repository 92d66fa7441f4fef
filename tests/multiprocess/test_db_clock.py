"""The database-backed simulated clock keeps `SimulatedClock`'s rules and is shared by every instance on the row."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from fota.adapters.storage.database import make_engine, migrate
from fota.adapters.storage.db_clock import DbClock
from fota.clock import MovableClock
from tests.conftest import BACKENDS, _drop_postgres_database, _postgres_database

pytestmark = [
    pytest.mark.slow,
    pytest.mark.serial,  # several processes: alone on the machine
    pytest.mark.skipif("postgresql" not in BACKENDS, reason="the shared clock serves PostgreSQL deployments"),
]

START = datetime(2026, 12, 1, 18, tzinfo=UTC)


@pytest.fixture
def engine() -> Iterator[Engine]:
    name, url = _postgres_database()
    engine = make_engine(url)
    try:
        migrate(engine)
        yield engine
    finally:
        engine.dispose()
        _drop_postgres_database(name)


def test_every_instance_reads_the_moved_time_and_a_later_start_does_not_reset_it(engine: Engine) -> None:
    first = DbClock.start(engine, START)
    assert isinstance(first, MovableClock)
    assert first.advance(90) == START + timedelta(seconds=90)
    second = DbClock.start(engine, START - timedelta(days=1))  # another process joining: keeps the stored time
    assert second.now() == START + timedelta(seconds=90)
    second.set(START + timedelta(hours=1))
    assert first.now() == START + timedelta(hours=1)
    assert first.now().utcoffset() == timedelta(0)


def test_it_never_moves_backwards(engine: Engine) -> None:
    clock = DbClock.start(engine, START)
    with pytest.raises(ValueError, match="backwards"):
        clock.set(START - timedelta(seconds=1))
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime(2026, 12, 2))
    assert clock.now() == START
