"""Logging for `fota serve`: one JSON object per line for log collectors, or plain text for people at a terminal.

Every record, ours and uvicorn's, goes through one handler with one of the two formatters below. Inside an HTTP
request the record carries that request's id: `adapters/http/observability.py` sets `REQUEST_ID` for the duration
of the request, and since a context variable follows the request into worker threads (`run_in_threadpool` copies
the context), a service logging from a thread is tagged too. Standard library only.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

LogFormat = Literal["json", "text"]

REQUEST_ID: ContextVar[str | None] = ContextVar("fota_request_id", default=None)

# What every LogRecord has; anything else on a record came from `extra=` and is worth keeping as a field.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's copy of its message with terminal colour codes: noise in a log file
}

UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def rfc3339(created: float) -> str:
    """`2025-01-31T12:00:00.123Z`: UTC, millisecond precision, as log collectors parse without configuration."""
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", "request_id"?, ...extra fields, "exception"?}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": rfc3339(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # default=str: an odd `extra` value (a datetime, a path) must never cost the log line.
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`<local time> LEVEL logger message [request_id=...]`: the format `fota serve` always had, plus the id."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request_id = REQUEST_ID.get()
        if request_id is None:
            return text
        # After the first line, so a traceback below it stays intact.
        first, newline, rest = text.partition("\n")
        return f"{first} [request_id={request_id}]{newline}{rest}"


def default_format(stream: TextIO) -> LogFormat:
    """Text for a person watching a terminal; JSON for everything else (files, pipes, containers, journald)."""
    try:
        return "text" if stream.isatty() else "json"
    except (AttributeError, ValueError):  # a replaced or closed stream
        return "json"


def configure(*, level: str, log_format: LogFormat | None = None, stream: TextIO | None = None) -> LogFormat:
    """Routes every logger, uvicorn's included, to one handler on `stream` (stderr); returns the format chosen.

    Call `uvicorn.run(..., log_config=None)` afterwards, or uvicorn installs its own handlers over these.
    """
    stream = stream if stream is not None else sys.stderr
    chosen: LogFormat = log_format or default_format(stream)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in UVICORN_LOGGERS:
        # uvicorn's loggers propagate to the root handler instead of printing in a format of their own.
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    return chosen
