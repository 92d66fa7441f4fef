"""Callback delivery on the fake unit of work and a recording sender: leases, retries on the simulated clock,
giving up, and a pass whose lease ran out that cannot undo the newer attempt's outcome."""

from __future__ import annotations

from datetime import timedelta

from fota.domain.outbound import AllowList
from fota.services import outbox
from fota.services.outbound import OutboundPolicy
from fota.services.ports import CallbackRegistration, OutboxEvent
from tests.unit.fakes import RecordingSender
from tests.unit.services.conftest import ACCOUNT, World

URL = "https://hooks.example.com/fota"
POLICY = OutboundPolicy(allow=AllowList.parse("", http=False), resolver=lambda host, port: ["93.184.215.14"])


def queue(world: World, count: int) -> None:
    world.store.callbacks[ACCOUNT] = CallbackRegistration(URL, "ab" * 32)
    uow = world.uow_factory()
    with uow:
        uow.outbox.add(
            OutboxEvent(f"event-{i}", ACCOUNT, "CampaignStatusChanged", {"eventId": f"event-{i}"}, world.clock.now())
            for i in range(count)
        )
        uow.commit()


def deliver(world: World, sender: RecordingSender, **options: object) -> outbox.DeliveryReport:
    return outbox.deliver_due(
        uow_factory=world.uow_factory,
        clock=world.clock,
        sender=sender,
        outbound=POLICY,
        rand=lambda: 0.0,  # no jitter: the nominal delays
        **options,  # type: ignore[arg-type]
    )


def test_due_events_are_sent_signed_once_and_marked_delivered(world: World) -> None:
    queue(world, 3)
    sender = RecordingSender()
    report = deliver(world, sender)
    assert (report.attempted, report.delivered) == (3, 3)
    assert sorted(h["X-Fota-Event-Id"] for _, _, h in sender.sent) == ["event-0", "event-1", "event-2"]
    assert all(h["X-Fota-Signature"].startswith("sha256=") for _, _, h in sender.sent)
    assert all(row.delivered_at == world.clock.now() for row in world.store.outbox.values())
    assert deliver(world, sender).attempted == 0, "delivered events are not sent again"
    assert [(a.attempt, a.status_code) for a in world.store.deliveries] == [(1, 200)] * 3


def test_a_failed_attempt_is_retried_after_its_back_off_on_the_clock(world: World) -> None:
    queue(world, 1)
    sender = RecordingSender(statuses=(500, 500, 200))
    assert deliver(world, sender).retrying == 1
    assert deliver(world, sender).attempted == 0, "not due before the back-off has passed"
    world.clock.advance(4.9)
    assert deliver(world, sender).attempted == 0
    world.clock.advance(0.1)  # 5 s after the first attempt
    assert deliver(world, sender).retrying == 1
    world.clock.advance(10)  # the second delay doubles
    assert deliver(world, sender).delivered == 1
    assert [(a.attempt, a.status_code) for a in world.store.deliveries] == [(1, 500), (2, 500), (3, 200)]


def test_after_the_last_attempt_the_event_is_given_up(world: World) -> None:
    queue(world, 1)
    sender = RecordingSender(statuses=(None,))
    for _ in range(3):
        deliver(world, sender, max_attempts=3)
        world.clock.advance(3600)
    (row,) = world.store.outbox.values()
    assert row.given_up_at is not None and row.attempts == 3 and row.last_error == "connection refused"
    assert len(sender.sent) == 3


def test_a_claimed_event_is_leased_and_a_stale_pass_cannot_undo_a_newer_outcome(world: World) -> None:
    queue(world, 1)
    lease = timedelta(seconds=60)
    uow = world.uow_factory()
    with uow:
        (stale,) = uow.outbox.claim(world.clock.now(), 10, lease_until=world.clock.now() + lease)
        uow.commit()
    assert deliver(world, RecordingSender()).attempted == 0, "leased: no other pass sends it"

    world.clock.advance(lease.total_seconds())  # the first pass never recorded its outcome
    sender = RecordingSender()
    assert deliver(world, sender).delivered == 1, "the lease ran out: the event is sent again"
    assert sender.sent[0][2]["X-Fota-Event-Id"] == stale.event_id, "with the same event id"

    uow = world.uow_factory()
    with uow:
        uow.outbox.schedule_retry(stale.id, stale.attempt, at=world.clock.now(), error="late failure")
        uow.commit()
    (row,) = world.store.outbox.values()
    assert row.delivered_at is not None and row.last_error is None, "the stale attempt's failure changed nothing"


def test_an_account_without_a_callback_any_more_is_given_up_without_sending(world: World) -> None:
    queue(world, 1)
    del world.store.callbacks[ACCOUNT]
    sender = RecordingSender()
    assert deliver(world, sender).given_up == 1
    assert sender.sent == [] and world.store.deliveries == []
