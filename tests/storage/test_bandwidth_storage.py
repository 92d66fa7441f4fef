"""The bandwidth counter's conditional upsert (`campaign_bandwidth`): racing reservations from many connections never
pass one hour's budget together, each hour and campaign has its own counter, and the engine's sweep prunes counters
older than a day."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from fota.adapters.storage.unit_of_work import SqlUnitOfWorkFactory
from fota.clock import SimulatedClock
from fota.domain.upgrade import UpgradePolicy
from fota.services.engine import run_due_work

HOUR = datetime(2026, 12, 1, 10, tzinfo=UTC)


def reserve(factory: SqlUnitOfWorkFactory, wanted: int, *, hour: datetime = HOUR, campaign: str = "c-1") -> bool:
    with factory() as uow:
        granted = uow.bandwidth.reserve(campaign, hour, wanted, bytes_per_hour=10_000)
        uow.commit()
    return granted


def test_racing_reservations_never_pass_the_budget(engine: Engine) -> None:
    factory = SqlUnitOfWorkFactory(engine)
    results: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        for _ in range(5):
            granted = reserve(factory, 700)
            with lock:
                results.append(granted)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 10_000 // 700
    with factory() as uow:
        assert uow.bandwidth.reserved("c-1", HOUR) == (10_000 // 700) * 700
    # What is left fits exactly; one byte more does not.
    assert not reserve(factory, 10_000 - 14 * 700 + 1)
    assert reserve(factory, 10_000 - 14 * 700)


def test_hours_and_campaigns_count_apart_and_old_hours_are_pruned(engine: Engine) -> None:
    factory = SqlUnitOfWorkFactory(engine)
    assert reserve(factory, 10_000)
    assert not reserve(factory, 1)
    assert reserve(factory, 10_000, hour=HOUR + timedelta(hours=1))
    assert reserve(factory, 10_000, campaign="c-2")
    assert reserve(factory, 1, hour=HOUR - timedelta(days=1, hours=1))
    with factory() as uow:
        uow.bandwidth.give_back("c-2", HOUR, 4000)
        assert uow.bandwidth.reserved("c-2", HOUR) == 6000
        assert uow.bandwidth.prune(HOUR - timedelta(days=1)) == 1
        uow.commit()
    with factory() as uow:
        assert uow.bandwidth.reserved("c-1", HOUR - timedelta(days=1, hours=1)) == 0
        assert uow.bandwidth.reserved("c-1", HOUR) == 10_000


def test_the_engine_sweep_prunes_counters_a_day_old(engine: Engine) -> None:
    factory = SqlUnitOfWorkFactory(engine)
    assert reserve(factory, 10, hour=HOUR - timedelta(days=1, hours=1))
    assert reserve(factory, 20, hour=HOUR - timedelta(days=1))
    clock = SimulatedClock(HOUR + timedelta(minutes=30))
    report = run_due_work(uow_factory=factory, clock=clock, policy=UpgradePolicy())
    assert report.purged >= 1
    with factory() as uow:
        assert uow.bandwidth.reserved("c-1", HOUR - timedelta(days=1, hours=1)) == 0
        assert uow.bandwidth.reserved("c-1", HOUR - timedelta(days=1)) == 20
