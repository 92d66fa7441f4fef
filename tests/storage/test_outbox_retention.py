"""Finished callback events and their delivery log are forgotten after the retention period, and nothing else is."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select

from fota.adapters.storage.tables import callback_deliveries, outbox
from fota.adapters.storage.unit_of_work import SqlUnitOfWorkFactory
from fota.clock import SimulatedClock
from fota.domain.upgrade import UpgradePolicy
from fota.services import outbox as outbox_service
from fota.services.engine import run_due_work
from fota.services.ports import DeliveryAttempt, OutboxEvent

ACCOUNT = "0000000001-00001"
NOW = datetime(2026, 12, 20, 12, tzinfo=UTC)
KEEP = timedelta(days=7)


def _enqueue(uow_factory: SqlUnitOfWorkFactory, label: str, count: int) -> list[str]:
    ids = [f"{label}-{uuid.uuid4()}"[:36] for _ in range(count)]
    uow = uow_factory()
    with uow:
        created = NOW - timedelta(days=30)
        uow.outbox.add(OutboxEvent(i, ACCOUNT, "DeviceStatusChanged", {"eventId": i}, created) for i in ids)
        uow.commit()
    return ids


def _finish(uow_factory: SqlUnitOfWorkFactory, ids: list[str], *, at: datetime, delivered: bool) -> None:
    uow = uow_factory()
    with uow:
        claimed = uow.outbox.claim(at, 10_000, lease_until=at + timedelta(minutes=1))
        mine = [c for c in claimed if c.event_id in ids]
        uow.outbox.log_attempts(
            [DeliveryAttempt(c.event_id, ACCOUNT, "http://receiver", c.attempt, at, 200, None, 3) for c in mine]
        )
        for c in mine:
            if delivered:
                uow.outbox.mark_delivered(c.id, at=at)
            else:
                uow.outbox.give_up(c.id, c.attempt, at=at, error="gone")
        uow.commit()
    # Whatever else was claimed here is due again, as if its lease had run out.
    assert {c.event_id for c in mine} == set(ids)


def _left(engine: Engine) -> tuple[set[str], int]:
    with engine.connect() as connection:
        events = set(connection.execute(select(outbox.c.event_id)).scalars())
        log = connection.execute(select(func.count()).select_from(callback_deliveries)).scalar_one()
    return events, int(log)


def test_only_events_finished_before_the_retention_period_go_with_their_log(engine: Engine) -> None:
    uow_factory = SqlUnitOfWorkFactory(engine)
    old_delivered = _enqueue(uow_factory, "old-delivered", 5)
    _finish(uow_factory, old_delivered, at=NOW - KEEP - timedelta(hours=1), delivered=True)
    old_given_up = _enqueue(uow_factory, "old-given-up", 3)
    _finish(uow_factory, old_given_up, at=NOW - KEEP - timedelta(hours=1), delivered=False)
    recent = _enqueue(uow_factory, "recent", 4)
    _finish(uow_factory, recent, at=NOW - KEEP + timedelta(hours=1), delivered=True)
    pending = _enqueue(uow_factory, "pending", 2)  # created long ago, never delivered: kept whatever its age

    clock = SimulatedClock(NOW)
    assert outbox_service.prune(uow_factory=uow_factory, clock=clock, keep=KEEP, batch=6) == 6
    assert outbox_service.prune(uow_factory=uow_factory, clock=clock, keep=KEEP, batch=6) == 2
    assert outbox_service.prune(uow_factory=uow_factory, clock=clock, keep=KEEP, batch=6) == 0
    events, log = _left(engine)
    assert events == {*recent, *pending}
    assert log == len(recent), "the delivery log of the kept events stays"


def test_the_engine_sweep_prunes_at_its_configured_retention(engine: Engine) -> None:
    uow_factory = SqlUnitOfWorkFactory(engine)
    done = _enqueue(uow_factory, "done", 3)
    _finish(uow_factory, done, at=NOW - timedelta(days=2), delivered=True)
    clock = SimulatedClock(NOW)

    report = run_due_work(uow_factory=uow_factory, clock=clock, policy=UpgradePolicy())
    assert report.purged == 0 and _left(engine)[0] == set(done), "two days old: inside the default seven"
    report = run_due_work(
        uow_factory=uow_factory, clock=clock, policy=UpgradePolicy(), callback_retention=timedelta(days=1)
    )
    assert report.purged == 3 and _left(engine) == (set(), 0)
