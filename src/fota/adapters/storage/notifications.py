"""PostgreSQL LISTEN/NOTIFY: a transaction that enqueues work says so, and every process's loops wake at its commit.

Notifications only shorten the wait: the loops still poll at their interval, so a notification lost to a dropped
connection delays work by at most one interval and loses nothing. SQLite runs in one process and does without.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

import psycopg
from sqlalchemy import Connection, Engine

log = logging.getLogger(__name__)

OUTBOX_CHANNEL = "fota_outbox"  # callback events were enqueued
ENGINE_CHANNEL = "fota_engine"  # a campaign was created or changed: the engine may have a transition to make
RECONNECT_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)


def notify(connection: Connection, channel: str) -> None:
    """Queues a notification in the connection's transaction; PostgreSQL delivers it on commit, once per channel."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"NOTIFY {channel}")


class NotificationListener:
    """Listens on its own connection in a daemon thread and calls the handler of each channel that is notified."""

    def __init__(self, engine: Engine, handlers: Mapping[str, Callable[[], None]]) -> None:
        self._conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._handlers = dict(handlers)
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
            self.listening.set()
            # A loop woken just after connecting may have missed a notification sent while this was down.
            self._dispatch(set(self._handlers))
            while not self._stopping.is_set():
                # Each notification is handled as it arrives; the timeout only bounds how long stop() waits.
                for notification in connection.notifies(timeout=1.0):
                    self._dispatch({notification.channel})

    def _dispatch(self, channels: set[str]) -> None:
        for channel in channels:
            try:
                self._handlers[channel]()
            except Exception:
                log.exception("handler for notification %s failed", channel)
