"""The outbound URL policy on a real server: internal callback URLs are refused at registration (400) and at
delivery (logged, counted in /metrics, shown in the delivery log), redirects are not followed, and an allowed range
works. The server allows only 127.0.0.2 (plain http included), so its receiver is on this machine; nothing off it is
ever contacted: refusals happen before any connection, and the redirect's target is never followed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_callbacks import Receiver, delivery_log, wait_until
from tests.api.test_lifecycle import make_fleet
from tests.conftest import BACKENDS, RunningServer, _stop_and_cleanup, start_server

ALLOWED = "127.0.0.2"
REFUSED_URLS = [
    "https://127.0.0.1/hook",
    "http://127.0.0.1:8000/hook",
    "https://10.0.0.1/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/hook",
    "https://[fc00::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://localhost/hook",  # a name that resolves to loopback (on every machine, without any outside DNS)
    "http://hooks.tenant.example/hook",  # plain http to anything not allowed
    "ftp://127.0.0.2/hook",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    # The policy does not touch the database: one backend is enough.
    running = start_server(
        BACKENDS[0],
        Path(tmp_path_factory.mktemp("outbound")),
        env_overrides={"FOTA_CALLBACK_ALLOW": f"{ALLOWED}/32", "FOTA_CALLBACK_ALLOW_HTTP": "1"},
    )
    yield running
    _stop_and_cleanup(running)


def refused_total(server: RunningServer) -> float:
    text = httpx.get(f"{server.base_url}/metrics").text
    found = re.search(r"^fota_callback_refused_total (\S+)$", text, re.MULTILINE)
    assert found, "the refusal counter is exported"
    return float(found.group(1))


def test_internal_and_plain_http_urls_are_refused_at_registration(server: RunningServer) -> None:
    fleet = make_fleet(server)
    with fleet.api() as api:
        for url in REFUSED_URLS:
            for method in (api.post, api.put):
                r = method(f"/callbacks/{fleet.acc}", json={"url": url})
                assert r.status_code == 400, (url, r.text)
                body: dict[str, Any] = r.json()
                assert body["errorCode"] == "InvalidRequest" and body["errorMessage"], body
                assert "internal" in body["errorMessage"] or "http" in body["errorMessage"], body
        assert api.get(f"/callbacks/{fleet.acc}").json().get("url") is None


def test_an_allowed_range_is_delivered_and_a_redirect_is_not_followed(server: RunningServer) -> None:
    receiver, redirecting = Receiver(host=ALLOWED), Receiver(policy=lambda _: 307, host=ALLOWED)
    try:
        fleet = make_fleet(server)
        with fleet.api() as api:
            assert api.post(f"/callbacks/{fleet.acc}", json={"url": receiver.url}).status_code == 200
        fleet.create(start=3, end=6)
        wait_until(lambda: len(receiver.snapshot()) >= 1, "a delivery to the allowed range")

        other = make_fleet(server)
        with other.api() as api:
            assert api.post(f"/callbacks/{other.acc}", json={"url": redirecting.url}).status_code == 200
        other.create(start=3, end=6)
        wait_until(lambda: bool(delivery_log(server, other.acc)), "an attempt at the redirecting receiver")
        entry = delivery_log(server, other.acc)[-1]
        assert entry["statusCode"] == 307 and "not followed" in entry["error"], entry
        assert len(redirecting.snapshot()) == len(delivery_log(server, other.acc)), "one request per attempt"
    finally:
        receiver.close()
        redirecting.close()


def test_a_delivery_to_a_destination_refused_since_registration_is_refused_logged_and_counted(
    server: RunningServer,
) -> None:
    receiver = Receiver(host=ALLOWED)
    try:
        fleet = make_fleet(server)
        with fleet.api() as api:
            assert api.post(f"/callbacks/{fleet.acc}", json={"url": receiver.url}).status_code == 200
        # The operator narrows the allow list and restarts: the stored URL now points at a refused address.
        server.kill()
        server.env["FOTA_CALLBACK_ALLOW"] = ""
        server.restart()
        try:
            fleet.create(start=3, end=6)
            wait_until(lambda: bool(delivery_log(server, fleet.acc)), "a refused attempt in the delivery log")
            entry = delivery_log(server, fleet.acc)[-1]
            assert entry["statusCode"] is None and "refused by the outbound URL policy" in entry["error"], entry
            assert "plain http" in entry["error"], entry  # http was allowed only towards the range
            assert receiver.snapshot() == [], "nothing was sent"
            assert refused_total(server) >= 1
        finally:
            server.kill()
            server.env["FOTA_CALLBACK_ALLOW"] = f"{ALLOWED}/32"
            server.restart()
    finally:
        receiver.close()
