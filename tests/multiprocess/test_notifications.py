"""PostgreSQL notifications wake the loops: only at commit, again after the listener's connection is cut, and in a
real server whose loops would otherwise sleep for an hour."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine

from fota.adapters.storage.database import make_engine, migrate
from fota.adapters.storage.notifications import ENGINE_CHANNEL, OUTBOX_CHANNEL, NotificationListener, notify
from fota.adapters.storage.outbox_store import SqlOutboxRepository
from fota.services.ports import OutboxEvent
from tests.conftest import BACKENDS, POSTGRES_ADMIN_URL, _drop_postgres_database, _postgres_database, start_server
from tests.lwm2m.harness import callback_receiver

pytestmark = [
    pytest.mark.slow,
    pytest.mark.serial,  # several processes: alone on the machine
    pytest.mark.skipif("postgresql" not in BACKENDS, reason="notifications are PostgreSQL's"),
]

AT = datetime(2026, 12, 1, 10, tzinfo=UTC)
WAIT = 30.0  # generous for a loaded machine; the loops under test would otherwise wait an hour


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


def _event() -> OutboxEvent:
    event_id = str(uuid.uuid4())
    return OutboxEvent(event_id, "0000000001-00001", "CampaignStatusChanged", {"eventId": event_id}, AT)


def test_a_commit_that_enqueues_callbacks_wakes_the_listener_and_a_rollback_does_not(engine: Engine) -> None:
    woken = {OUTBOX_CHANNEL: threading.Event(), ENGINE_CHANNEL: threading.Event()}
    listener = NotificationListener(engine, {channel: event.set for channel, event in woken.items()})
    listener.start()
    try:
        assert listener.listening.wait(WAIT)
        for event in woken.values():  # the listener wakes everyone once on connecting
            assert event.wait(WAIT)
            event.clear()

        with engine.connect() as connection:
            SqlOutboxRepository(connection).add([_event()])
            connection.rollback()
        with engine.begin() as connection:
            SqlOutboxRepository(connection).add([])  # nothing enqueued: nothing to say
        # A marker on the other channel, committed after both: notifications arrive in commit order, so once the
        # marker is handled, anything the two above had sent would have been handled already.
        with engine.begin() as connection:
            notify(connection, ENGINE_CHANNEL)
        assert woken[ENGINE_CHANNEL].wait(WAIT)
        assert not woken[OUTBOX_CHANNEL].is_set()

        with engine.begin() as connection:
            SqlOutboxRepository(connection).add([_event(), _event()])
        assert woken[OUTBOX_CHANNEL].wait(WAIT)
    finally:
        listener.stop()


def test_the_listener_comes_back_after_its_connection_is_cut(engine: Engine) -> None:
    woken = threading.Event()
    listener = NotificationListener(engine, {OUTBOX_CHANNEL: woken.set})
    listener.start()
    try:
        assert listener.listening.wait(WAIT) and woken.wait(WAIT)
        database = engine.url.database
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            cut = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND query LIKE 'LISTEN%%'",
                (database,),
            ).fetchall()
        assert cut, "the listener's backend was found and terminated"
        woken.clear()
        # On reconnecting it wakes its handlers at once (a notification sent while it was away is lost).
        assert woken.wait(WAIT)
        assert listener.listening.wait(WAIT)
        woken.clear()
        with engine.begin() as connection:
            SqlOutboxRepository(connection).add([_event()])
        assert woken.wait(WAIT)
    finally:
        listener.stop()


def test_a_server_whose_loops_poll_hourly_delivers_a_new_campaigns_callback_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FOTA_ENGINE_INTERVAL", "3600")
    monkeypatch.setenv("FOTA_CALLBACK_INTERVAL", "3600")
    server = start_server("postgresql", tmp_path)
    try:
        account = server.new_account(license_count=1)
        firmware = server.new_firmware(make="SimCo", model="SIM-1", firmware_from="1.0.0", firmware_to="2.0.0")
        with callback_receiver() as receiver, account.client() as client:
            assert client.post(f"/callbacks/{account.name}", json={"url": receiver.url}).status_code == 200
            today = server.now().date()
            r = client.post(
                f"/campaigns/firmware/{account.name}",
                json={
                    "firmwareName": firmware["firmwareName"],
                    "firmwareFrom": "1.0.0",
                    "firmwareTo": "2.0.0",
                    "protocol": "LWM2M",
                    "startDate": (today + timedelta(days=1)).isoformat(),
                    "endDate": (today + timedelta(days=2)).isoformat(),
                    "deviceList": [],
                    "autoAssignLicenseFlag": True,
                    "autoAddDevicesFlag": True,
                },
            )
            assert r.status_code == 200, r.text
            campaign_id = r.json()["id"]
            # Creation records CampaignQueued (an outbox event: wakes the sender) and the new campaign wakes the
            # engine, which schedules it (another event). Both arrive without any loop's hourly poll.
            deadline = threading.Event()
            for _ in range(int(WAIT / 0.2)):
                statuses = {e["status"] for e in receiver.events if e["campaignId"] == campaign_id}
                if {"CampaignQueued", "CampaignPreScheduled"} <= statuses:
                    break
                deadline.wait(0.2)
            assert {"CampaignQueued", "CampaignPreScheduled"} <= statuses, statuses
    finally:
        server.stop()
