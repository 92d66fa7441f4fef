"""Callback delivery building blocks: retry schedule, signature, the documented verification recipe, the sender."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from fota.adapters.callbacks.http_sender import HttpCallbackSender
from fota.adapters.callbacks.resolver import system_resolver
from fota.domain.outbound import AllowList
from fota.services.events import event_payload
from fota.services.outbound import OutboundPolicy
from fota.services.outbox import encode, retry_delay, sign, signed_headers
from fota.services.ports import HistoryEntry

DOCS = Path(__file__).parents[2] / "docs" / "callbacks.md"


def documented_verify() -> Callable[..., bool]:
    """The `verify` function of docs/callbacks.md, executed as written."""
    block = re.search(r"```python\n(.*?)```", DOCS.read_text(), re.S)
    assert block, "docs/callbacks.md has no python example"
    namespace: dict[str, Any] = {}
    exec(block.group(1), namespace)
    verify: Callable[..., bool] = namespace["verify"]
    return verify


def test_retry_delays_double_from_five_seconds_up_to_an_hour() -> None:
    nominal = [retry_delay(n, rand=lambda: 0.0).total_seconds() for n in range(1, 13)]
    assert nominal == [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
    assert retry_delay(1000, rand=lambda: 0.0) == timedelta(hours=1)


def test_jitter_only_shortens_by_at_most_a_fifth() -> None:
    for n in (1, 4, 11, 20):
        nominal = retry_delay(n, rand=lambda: 0.0)
        assert retry_delay(n, rand=lambda: 1.0) == nominal * 0.8
        assert nominal * 0.8 <= retry_delay(n) <= nominal


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    secret, body = "ab" * 32, b'{"eventId":"e1"}'
    expected = hmac.new(secret.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign(secret, 1700000000, body) == f"sha256={expected}"
    assert sign(secret, 1700000001, body) != sign(secret, 1700000000, body)
    assert sign("cd" * 32, 1700000000, body) != sign(secret, 1700000000, body)


def test_documented_recipe_accepts_our_headers_and_refuses_tampering() -> None:
    verify = documented_verify()
    secret, body = "0f" * 32, encode({"eventId": "e1", "status": "CampaignQueued"})
    now = int(datetime.now(UTC).timestamp())
    headers = signed_headers("e1", secret, now, body)
    assert headers["Content-Type"] == "application/json" and headers["X-Fota-Event-Id"] == "e1"
    assert verify(secret, headers, body)
    assert not verify(secret, headers, body + b" ")
    assert not verify("1e" * 32, headers, body)
    stale = signed_headers("e1", secret, now - 3600, body)
    assert not verify(secret, stale, body)
    assert verify(secret, stale, body, max_age=None)


@pytest.mark.parametrize(
    ("device_id", "event_type"), [(None, "CampaignStatusChanged"), ("351234567890128", "DeviceStatusChanged")]
)
def test_event_payload(device_id: str | None, event_type: str) -> None:
    at = datetime(2026, 12, 1, 18, 0, 0, 123456, tzinfo=UTC)
    entry = HistoryEntry("0000123456-00001", "c1", device_id, "CampaignCancelled", "why", at)
    payload = event_payload("e1", entry)
    expected: dict[str, Any] = {
        "eventId": "e1",
        "eventType": event_type,
        "accountName": "0000123456-00001",
        "campaignId": "c1",
        "status": "CampaignCancelled",
        "reason": "why",
        "time": "2026-12-01T18:00:00.123Z",
    }
    if device_id:
        expected["deviceId"] = device_id
    assert payload == expected
    assert json.loads(encode(payload)) == expected


class _Handler(BaseHTTPRequestHandler):
    """Answers by path: /ok 204, /fail 500 with a long body, /redirect 302, /slow drips its answer for 3 s."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/slow":
            time.sleep(3)
        status = {"/ok": 204, "/fail": 500, "/redirect": 302}.get(self.path, 200)
        body = b"" if status == 204 else b"x" * 100_000
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "/ok")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the sender stops reading after 1 KiB
            self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def local_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


LOCAL = OutboundPolicy(allow=AllowList.parse("127.0.0.0/8", http=True), resolver=system_resolver)


def test_http_sender_outcomes(local_server: str) -> None:
    sender = HttpCallbackSender(total_timeout=1.0)
    try:
        headers = {"Content-Type": "application/json"}
        assert sender.send(LOCAL.target(f"{local_server}/ok"), b"{}", headers) == (204, None)
        status, error = sender.send(LOCAL.target(f"{local_server}/fail"), b"{}", headers)
        assert status == 500 and error is not None and error.startswith("HTTP 500: xxx") and len(error) < 300
        status, error = sender.send(LOCAL.target(f"{local_server}/redirect"), b"{}", headers)
        assert status == 302 and error is not None and "not followed" in error, "redirects are not followed"
        started = time.monotonic()
        assert sender.send(LOCAL.target(f"{local_server}/slow"), b"{}", headers) == (None, "no answer within 1 s")
        assert time.monotonic() - started < 2.5
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed = s.getsockname()[1]
        status, error = sender.send(LOCAL.target(f"http://127.0.0.1:{closed}/"), b"{}", headers)
        assert status is None and error and "Connect" in error
    finally:
        sender.close()
