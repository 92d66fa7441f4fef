"""Structured logs: the JSON formatter's lines, and request ids echoed by a real server and found in its log."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx

from fota.adapters.logging_setup import REQUEST_ID, JsonFormatter, TextFormatter
from tests.conftest import start_server


def _record(message: str, *args: object, exc_info: bool = False, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("fota.test", logging.WARNING, __file__, 1, message, args, None)
    if exc_info:
        try:
            raise ValueError("boom")
        except ValueError:
            record.exc_info = sys.exc_info()
    record.__dict__.update(extra)
    return record


def test_json_formatter_writes_one_object_per_line_with_the_request_id() -> None:
    formatter = JsonFormatter()
    token = REQUEST_ID.set("req-42")
    try:
        line = formatter.format(_record("device %s: %d blocks", "3500", 7, exc_info=True, campaign="c-1"))
    finally:
        REQUEST_ID.reset(token)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "device 3500: 7 blocks"
    assert (entry["level"], entry["logger"], entry["request_id"], entry["campaign"]) == (
        "WARNING",
        "fota.test",
        "req-42",
        "c-1",
    )
    assert entry["time"].endswith("Z")
    assert datetime.fromisoformat(entry["time"]).utcoffset() is not None
    assert "ValueError: boom" in entry["exception"]

    outside = json.loads(formatter.format(_record("no request here")))
    assert "request_id" not in outside


def test_text_formatter_appends_the_request_id() -> None:
    token = REQUEST_ID.set("abc")
    try:
        line = TextFormatter().format(_record("hello"))
    finally:
        REQUEST_ID.reset(token)
    assert line.endswith("WARNING fota.test hello [request_id=abc]")


def _log_entries(path: Path) -> list[dict[str, object]]:
    """Every line of the server's log, each of which must be a JSON object with the four fixed fields."""
    entries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
    return entries


def test_request_ids_are_echoed_and_logged(tmp_path: Path) -> None:
    # The format has nothing to do with the database: one SQLite server is enough.
    server = start_server("sqlite", tmp_path, "--log-format", "json")
    try:
        r = server.admin.get("/clock", headers={"X-Request-ID": "abc123"})
        assert r.status_code == 200 and r.headers["x-request-id"] == "abc123"
        # Anything but a short plain token is replaced, not echoed (it would end up in every log line).
        r = server.admin.get("/clock", headers={"X-Request-ID": "not a sane id; <script>"})
        generated = r.headers["x-request-id"]
        assert generated != "not a sane id; <script>" and len(generated) == 32
        assert len(httpx.get(f"{server.base_url}/healthz").headers["x-request-id"]) == 32

        def access(request_id: str) -> list[dict[str, object]]:
            found = [e for e in _log_entries(server.log_path) if e.get("request_id") == request_id]
            return [e for e in found if e["logger"] == "fota.access"]

        deadline = time.monotonic() + 10
        while not (access("abc123") and access(generated)) and time.monotonic() < deadline:
            time.sleep(0.1)  # the server writes its log line after the response is sent
        [line] = access("abc123")
        assert (line["route"], line["status"], line["level"]) == ("/admin/v1/clock", 200, "INFO")
        assert access(generated)
        # uvicorn's own lines are in the same format.
        assert any(str(e["logger"]).startswith("uvicorn") for e in _log_entries(server.log_path))
    finally:
        server.stop()
