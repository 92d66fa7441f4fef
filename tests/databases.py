"""PostgreSQL databases for the tests' servers, each cloned from a template migrated once per test process, and the
teardown work no test needs to wait for (a stopped server's exit, dropping its database), done in one background
thread that the session waits for at its end.

A server started on a clone still runs its migrations at start; they find the schema current, as on any restart.
"""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Callable

import psycopg

from fota.adapters.storage.database import make_engine, migrate


def sqlalchemy_url(admin_url: str, name: str) -> str:
    """The URL of database `name` on the admin URL's cluster, with the driver fota uses."""
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}"


def drop(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class DeferredTeardown:
    """Runs jobs in order in a background thread; `wait` returns when all are done and raises if any failed."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[Callable[[], None]] = queue.Queue()
        self._failures: list[str] = []
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    def defer(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="deferred teardown", daemon=True)
                self._worker.start()
        self._jobs.put(job)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            except Exception as error:
                self._failures.append(repr(error))
            finally:
                self._jobs.task_done()

    def wait(self) -> None:
        self._jobs.join()
        if self._failures:
            failures, self._failures = self._failures, []
            raise RuntimeError("deferred teardown failed:\n" + "\n".join(failures))


class PostgresDatabases:
    """New databases on any cluster (tests/faults/test_database_restart.py runs its own), each from that cluster's
    migrated template."""

    def __init__(self) -> None:
        self._templates: dict[str, str] = {}  # admin URL -> migrated template on that cluster
        self._lock = threading.Lock()

    def create(self, admin_url: str, *, migrated: bool = True) -> tuple[str, str]:
        """A clone of the migrated template, or (`migrated=False`) an empty database for tests of how migrations
        run. Returns its name and SQLAlchemy URL."""
        name = f"fota_test_{uuid.uuid4().hex[:12]}"
        template = f' TEMPLATE "{self._template(admin_url)}"' if migrated else ""
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"{template}')
        return name, sqlalchemy_url(admin_url, name)

    def _template(self, admin_url: str) -> str:
        with self._lock:
            if admin_url not in self._templates:
                name = f"fota_test_template_{uuid.uuid4().hex[:12]}"
                with psycopg.connect(admin_url, autocommit=True) as connection:
                    connection.execute(f'CREATE DATABASE "{name}"')
                engine = make_engine(sqlalchemy_url(admin_url, name))
                try:
                    migrate(engine)
                finally:
                    engine.dispose()
                # Cloning fails while anyone is connected to the template; closed to connections, it also keeps
                # autovacuum out.
                with psycopg.connect(admin_url, autocommit=True) as connection:
                    connection.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
                self._templates[admin_url] = name
            return self._templates[admin_url]

    def drop_template(self, admin_url: str) -> None:
        with self._lock:
            template = self._templates.pop(admin_url, None)
        if template is not None:
            drop(admin_url, template)

    def drop_templates(self) -> None:
        for admin_url in list(self._templates):
            self.drop_template(admin_url)
