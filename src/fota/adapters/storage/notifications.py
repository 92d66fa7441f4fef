"""PostgreSQL LISTEN/NOTIFY: a transaction that enqueues work says so, and every process's loops wake at its commit.

Notifications only shorten the wait: the loops still poll at their interval, so a notification lost to a dropped
connection delays work by at most one interval and loses nothing. SQLite runs in one process and does without.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

import psycopg
from sqlalchemy import Connection, Engine, text

log = logging.getLogger(__name__)

OUTBOX_CHANNEL = "fota_outbox"  # callback events were enqueued
ENGINE_CHANNEL = "fota_engine"  # a campaign was created or changed: the engine may have a transition to make
TOKENS_CHANNEL = "fota_tokens"  # a token was revoked (payload: its hash; empty: any number of them)
RECONNECT_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)


STOP_POLL_SECONDS = 0.2


def notify(connection: Connection, channel: str, payload: str = "") -> None:
    """Queues a notification in the connection's transaction; PostgreSQL delivers it on commit, once per channel and
    payload."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": channel, "payload": payload})


class NotificationListener:
    """Listens on its own connection in a daemon thread and calls the handler of each channel that is notified.

    `handlers` are woken without arguments; `payload_handlers` get each notification's payload, or None after the
    listener (re)connects, when notifications may have been missed.
    """

    def __init__(
        self,
        engine: Engine,
        handlers: Mapping[str, Callable[[], None]],
        payload_handlers: Mapping[str, Callable[[str | None], None]] | None = None,
    ) -> None:
        self._conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._handlers: dict[str, Callable[[str | None], None]] = {
            channel: _ignoring_payload(handler) for channel, handler in handlers.items()
        }
        self._handlers.update(payload_handlers or {})
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fota-notifications", daemon=True)
        self.listening = threading.Event()  # set while LISTEN is in effect (for tests and readiness)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                self._listen()
                failures = 0
            except psycopg.Error as error:
                self.listening.clear()
                delay = RECONNECT_SECONDS[min(failures, len(RECONNECT_SECONDS) - 1)]
                failures += 1
                log.warning("notification listener lost its connection (%s); retrying in %.0f s", error, delay)
                self._stopping.wait(delay)

    def _listen(self) -> None:
        with psycopg.connect(self._conninfo, autocommit=True) as connection:
            for channel in self._handlers:
                connection.execute(f"LISTEN {channel}")
            # Anything may have been missed while this was down: every handler hears so before `listening` is set.
            for channel in self._handlers:
                self._dispatch(channel, None)
            self.listening.set()
            log.info("listening for notifications on %s", ", ".join(sorted(self._handlers)))
            try:
                while not self._stopping.is_set():
                    # Each notification is handled as it arrives; the timeout only bounds how long stop() waits, and
                    # every PostgreSQL process's shutdown waits for it.
                    for notification in connection.notifies(timeout=STOP_POLL_SECONDS):
                        self._dispatch(notification.channel, notification.payload)
            finally:
                self.listening.clear()

    def _dispatch(self, channel: str, payload: str | None) -> None:
        try:
            self._handlers[channel](payload)
        except Exception:
            log.exception("handler for notification %s failed", channel)


def _ignoring_payload(handler: Callable[[], None]) -> Callable[[str | None], None]:
    def wake(_payload: str | None) -> None:
        handler()

    return wake
