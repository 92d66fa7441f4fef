"""Callbacks end to end (issue 3 item 5): a real receiver on 127.0.0.1 gets signed events from the server.

Events go through the outbox and the delivery loop of the app in this process; retries follow the simulated clock,
which the tests move. A test knows that nothing more will arrive once the account's outbox has settled.
Signatures are checked with the recipe of docs/callbacks.md, executed as written.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import func, select

from fota.adapters.storage.database import make_engine
from fota.adapters.storage.tables import outbox
from tests.api.test_lifecycle import Fleet, make_fleet, midnight, parse_time
from tests.fota_server import FotaServer
from tests.unit.test_callback_delivery import documented_verify

verify = documented_verify()


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


class Receiver:
    """An HTTP server in a thread that records every POST and answers with `policy(times this event was seen)`."""

    def __init__(self, policy: Callable[[int], int] = lambda _: 200, host: str = "127.0.0.1") -> None:
        self.host = host
        self.received: list[Received] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                item = Received(dict(self.headers.items()), body)
                with receiver.lock:
                    receiver.received.append(item)
                    seen = sum(
                        1
                        for r in receiver.received
                        if r.headers.get("X-Fota-Event-Id") == item.headers.get("X-Fota-Event-Id")
                    )
                status = policy(seen)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.server.server_address[1]}/hooks/fota"

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def by_event(self) -> dict[str, list[Received]]:
        grouped: dict[str, list[Received]] = defaultdict(list)
        for r in self.snapshot():
            grouped[r.event["eventId"]].append(r)
        return grouped

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def register(fleet: Fleet, url: str) -> str:
    """Registers the callback through the v3 API; returns the signing secret from the admin API."""
    with fleet.api() as api:
        r = api.post(f"/callbacks/{fleet.acc}", json={"url": url})
    assert r.status_code == 200, r.text
    r = fleet.server.admin.get(f"/accounts/{fleet.acc}/callback")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["url"] == url
    secret = body["signingSecret"]
    assert isinstance(secret, str) and len(secret) == 64 and int(secret, 16) >= 0
    return str(secret)


def delivery_log(server: FotaServer, account: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    before: int | None = None
    while True:
        params: dict[str, Any] = {"limit": 7}
        if before is not None:
            params["beforeId"] = before
        r = server.admin.get(f"/accounts/{account}/callback-deliveries", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert page["accountName"] == account
        entries += page["deliveryList"]
        before = page.get("nextBeforeId")
        if before is None:
            return entries


def attempts_per_event(server: FotaServer, account: str) -> Counter[str]:
    return Counter(e["eventId"] for e in delivery_log(server, account))


def each_attempted(server: FotaServer, account: str, events: int, times: int) -> Callable[[], bool]:
    """A condition: the delivery log shows `events` events, each attempted at least `times` times."""

    def check() -> bool:
        counts = attempts_per_event(server, account)
        return len(counts) == events and min(counts.values()) >= times

    return check


def wait_until_outbox_settled(server: FotaServer, *accounts: str) -> None:
    """Waits until no callback event of these accounts is due or in flight: each one was delivered or given up, and
    its delivery is logged, so no request is left to reach a receiver (events are enqueued with the change itself)."""
    engine = make_engine(server.database_url)

    def settled() -> bool:
        with engine.connect() as connection:
            unfinished = connection.execute(
                select(func.count())
                .select_from(outbox)
                .where(
                    outbox.c.account_name.in_(accounts),
                    outbox.c.delivered_at.is_(None),
                    outbox.c.given_up_at.is_(None),
                )
            ).scalar_one()
        return unfinished == 0

    try:
        wait_until(settled, f"the outbox of {', '.join(accounts)} to settle")
    finally:
        engine.dispose()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/unreachable"


def test_campaign_lifecycle_events_are_delivered_signed(
    private_in_process_server: FotaServer, receiver: Receiver
) -> None:
    server = private_in_process_server
    fleet = make_fleet(server)
    silent = make_fleet(server)  # an account without a callback: no events for it
    secret = register(fleet, receiver.url)
    r = server.admin.get(f"/accounts/{silent.acc}/callback")
    assert r.status_code == 404, r.text

    cid = fleet.create(start=3, end=6)["id"]
    silent_cid = silent.create(start=3, end=6)["id"]
    server.set_clock(midnight(fleet.day(3)) - timedelta(hours=23))
    assert fleet.status(cid) == "CampaignScheduled" and silent.status(silent_cid) == "CampaignScheduled"
    r = fleet.delete(cid)
    assert r.status_code == 200, r.text
    assert silent.delete(silent_cid).status_code == 200

    campaign_expected = {"CampaignQueued", "CampaignPreScheduled", "CampaignScheduled", "CampaignCancelled"}
    device_expected = {(d, s) for d in fleet.devices for s in ("UpgradePending", "CampaignCancelled")}
    total = len(campaign_expected) + len(device_expected)
    wait_until(lambda: len(receiver.by_event()) >= total, f"{total} events")
    wait_until_outbox_settled(server, fleet.acc, silent.acc)  # anything extra has arrived by now

    received = receiver.snapshot()
    assert len(received) == total, [r.event for r in received]
    campaign_events, device_events = set(), set()
    for item in received:
        event, headers = item.event, item.headers
        assert verify(secret, headers, item.body, max_age=None), headers
        assert not verify("00" * 32, headers, item.body, max_age=None)
        assert headers["Content-Type"] == "application/json"
        assert headers["X-Fota-Event-Id"] == event["eventId"]
        # The attempt's time on the server's clock: after the change, not after the end of the test.
        attempted = int(headers["X-Fota-Timestamp"])
        assert parse_time(event["time"]).timestamp() - 1 <= attempted <= server.now().timestamp() + 1, headers
        assert event["accountName"] == fleet.acc and event["campaignId"] == cid, event
        assert isinstance(event["reason"], (str, type(None)))
        if event["eventType"] == "CampaignStatusChanged":
            assert "deviceId" not in event
            campaign_events.add(event["status"])
        else:
            assert event["eventType"] == "DeviceStatusChanged", event
            device_events.add((event["deviceId"], event["status"]))
    assert campaign_events == campaign_expected
    assert device_events == device_expected

    log = delivery_log(server, fleet.acc)
    assert len(log) == total
    assert {e["eventId"] for e in log} == {r.event["eventId"] for r in received}
    for entry in log:
        assert entry["url"] == receiver.url and entry["attempt"] == 1 and entry["statusCode"] == 200, entry
        assert entry["error"] is None and entry["durationMs"] >= 0
        parse_time(entry["attemptedAt"])
    ids = [e["id"] for e in log]
    assert ids == sorted(ids, reverse=True), "the delivery log is newest first"
    assert delivery_log(server, silent.acc) == []


def test_failed_deliveries_are_retried_with_the_same_event_id(private_in_process_server: FotaServer) -> None:
    server = private_in_process_server
    receiver = Receiver(policy=lambda seen: 500 if seen <= 2 else 200)
    try:
        fleet = make_fleet(server)
        secret = register(fleet, receiver.url)
        fleet.create(start=5, end=8, devices=fleet.devices[:1])  # CampaignQueued and one UpgradePending

        wait_until(each_attempted(server, fleet.acc, 2, 1), "first attempts")
        server.advance(5)
        wait_until(each_attempted(server, fleet.acc, 2, 2), "second attempts")
        server.advance(10)
        wait_until(each_attempted(server, fleet.acc, 2, 3), "third attempts")
        server.advance(3600)
        wait_until_outbox_settled(server, fleet.acc)

        grouped = receiver.by_event()
        assert len(grouped) == 2
        for event_id, items in grouped.items():
            assert len(items) == 3, f"{event_id}: {len(items)} deliveries"
            assert {i.headers["X-Fota-Event-Id"] for i in items} == {event_id}
            assert len({i.body for i in items}) == 1, "every attempt sends the same event"
            assert all(verify(secret, i.headers, i.body, max_age=None) for i in items)

        log = delivery_log(server, fleet.acc)
        assert len(log) == 6
        for event_id in grouped:
            mine = sorted((e for e in log if e["eventId"] == event_id), key=lambda e: e["attempt"])
            assert [(e["attempt"], e["statusCode"]) for e in mine] == [(1, 500), (2, 500), (3, 200)], mine
            assert mine[0]["error"] and mine[1]["error"] and mine[2]["error"] is None, mine
            times = [parse_time(e["attemptedAt"]) for e in mine]
            assert times[1] - times[0] >= timedelta(seconds=4) and times[2] - times[1] >= timedelta(seconds=8)
    finally:
        receiver.close()


def test_unreachable_url_backs_off_and_gives_up(private_in_process_server: FotaServer) -> None:
    server = private_in_process_server
    url = closed_port_url()
    fleet = make_fleet(server)
    register(fleet, url)
    # A second account whose callback is deleted after its first failure: its events are given up, not retried.
    failing = Receiver(policy=lambda _: 503)
    try:
        dropped = make_fleet(server)
        register(dropped, failing.url)
        fleet.create(start=5, end=8, devices=fleet.devices[:1])  # two events
        dropped.create(start=5, end=8, devices=dropped.devices[:1])
        wait_until(lambda: len(attempts_per_event(server, dropped.acc)) == 2, "the dropped account's attempts")
        with dropped.api() as api:
            assert api.delete(f"/callbacks/{dropped.acc}").status_code == 200

        limit = 12
        for attempt in range(1, limit + 1):
            wait_until(each_attempted(server, fleet.acc, 2, attempt), f"attempt {attempt}")
            if attempt < limit:
                server.advance(min(5 * 2 ** (attempt - 1), 3600))
        server.advance(4 * 3600)
        wait_until_outbox_settled(server, fleet.acc, dropped.acc)

        log = delivery_log(server, fleet.acc)
        assert len(log) == 2 * limit, "given up after the limit"
        for event_id in {e["eventId"] for e in log}:
            mine = sorted((e for e in log if e["eventId"] == event_id), key=lambda e: e["attempt"])
            assert [e["attempt"] for e in mine] == list(range(1, limit + 1))
            assert all(e["statusCode"] is None and e["error"] and e["url"] == url for e in mine), mine
            times = [parse_time(e["attemptedAt"]) for e in mine]
            gaps = [(b - a).total_seconds() for a, b in pairwise(times)]
            assert gaps == sorted(gaps), f"delays grow: {gaps}"
            assert gaps[0] >= 4 and gaps[-1] >= 0.8 * 3600 and max(gaps) <= 3600, gaps

        assert sum(attempts_per_event(server, dropped.acc).values()) == 2
        assert len(failing.snapshot()) == 2
    finally:
        failing.close()
