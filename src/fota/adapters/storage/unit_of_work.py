"""The SQLAlchemy unit of work: one connection and one transaction, with every repository bound to it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Generic, Self, TypeVar, cast

from sqlalchemy import Connection, Engine, text

from fota.adapters.storage.account_store import (
    SqlAccountRepository,
    SqlCallbackRepository,
    SqlCredentialRepository,
    SqlLicenseCancelListRepository,
    SqlTokenRepository,
)
from fota.adapters.storage.activity_store import SqlDeviceActivityRepository
from fota.adapters.storage.bandwidth_store import SqlBandwidthRepository
from fota.adapters.storage.bootstrap_store import SqlBootstrapRepository
from fota.adapters.storage.campaign_store import SqlCampaignDeviceRepository, SqlCampaignRepository
from fota.adapters.storage.database import READ_ONLY_OPTION, writer_lock
from fota.adapters.storage.device_store import (
    SqlDeviceRepository,
    SqlFirmwareReportRequestRepository,
    SqlFirmwareRepository,
)
from fota.adapters.storage.history_store import SqlHistoryRepository
from fota.adapters.storage.insight_store import SqlInsightRepository
from fota.adapters.storage.outbox_store import SqlOutboxRepository
from fota.adapters.storage.rollout_store import SqlAuditRepository, SqlRolloutRepository
from fota.adapters.storage.security_store import SqlDeviceSecurityRepository
from fota.adapters.storage.signing_store import SqlSigningKeyRepository
from fota.adapters.storage.upgrade_store import (
    SqlDownloadRepository,
    SqlRegistrationRepository,
    SqlUpgradeRepository,
)

R = TypeVar("R")
WRITER_WAIT_SECONDS = 30


class _Repository(Generic[R]):
    """A repository of the unit of work, made on first use within each `with uow:`: a read that touches one table
    does not build the other twenty-two."""

    def __init__(self, kind: Callable[[Connection], R]) -> None:
        self.kind = kind
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, uow: SqlUnitOfWork, owner: type | None = None) -> R:
        made = uow._repositories.get(self.name)
        if made is None:
            assert uow._connection is not None, "a repository used outside of `with uow:`"
            made = uow._repositories[self.name] = self.kind(uow._connection)
        return cast(R, made)


class SqlUnitOfWork:
    """`read_only` units never write: on SQLite they begin DEFERRED instead of taking the write lock."""

    accounts = _Repository(SqlAccountRepository)
    credentials = _Repository(SqlCredentialRepository)
    tokens = _Repository(SqlTokenRepository)
    devices = _Repository(SqlDeviceRepository)
    firmware = _Repository(SqlFirmwareRepository)
    campaigns = _Repository(SqlCampaignRepository)
    campaign_devices = _Repository(SqlCampaignDeviceRepository)
    history = _Repository(SqlHistoryRepository)
    callbacks = _Repository(SqlCallbackRepository)
    outbox = _Repository(SqlOutboxRepository)
    cancel_list = _Repository(SqlLicenseCancelListRepository)
    firmware_reports = _Repository(SqlFirmwareReportRequestRepository)
    upgrades = _Repository(SqlUpgradeRepository)
    registrations = _Repository(SqlRegistrationRepository)
    downloads = _Repository(SqlDownloadRepository)
    bandwidth = _Repository(SqlBandwidthRepository)
    insight = _Repository(SqlInsightRepository)
    device_security = _Repository(SqlDeviceSecurityRepository)
    bootstrap = _Repository(SqlBootstrapRepository)
    signing_keys = _Repository(SqlSigningKeyRepository)
    activity = _Repository(SqlDeviceActivityRepository)
    rollouts = _Repository(SqlRolloutRepository)
    audit = _Repository(SqlAuditRepository)

    def __init__(self, engine: Engine, *, read_only: bool = False) -> None:
        self._engine = engine
        self._read_only = read_only
        self._writer = None if read_only else writer_lock(engine)
        self._holds_writer = False
        self._connection: Connection | None = None
        self._repositories: dict[str, object] = {}

    def __enter__(self) -> Self:
        connection = self._open()
        try:
            self._take_writer()
            connection.begin()
        except BaseException:
            self._give_writer()
            self._release(connection, failed=True)
            raise
        self._connection = connection
        self._repositories = {}
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        connection = self._connection
        self._connection = None
        self._repositories = {}
        if connection is None:
            return
        failed = True
        try:
            if connection.in_transaction():
                connection.rollback()  # anything not committed explicitly is undone
            failed = False
        finally:
            self._give_writer()
            self._release(connection, failed=failed)

    def _take_writer(self) -> None:
        if self._writer is not None:
            # As long as SQLite's own busy timeout (database.py): a wait that long is an error, not a queue.
            if not self._writer.acquire(timeout=WRITER_WAIT_SECONDS):
                raise TimeoutError(f"no turn to write to SQLite within {WRITER_WAIT_SECONDS} s")
            self._holds_writer = True

    def _give_writer(self) -> None:
        if self._holds_writer:
            assert self._writer is not None
            self._holds_writer = False
            self._writer.release()

    def _open(self) -> Connection:
        connection = self._engine.connect()
        if self._read_only:
            connection = connection.execution_options(**{READ_ONLY_OPTION: True})
        return connection

    def _release(self, connection: Connection, *, failed: bool) -> None:
        connection.close()

    def commit(self) -> None:
        assert self._connection is not None, "commit outside of `with uow:`"
        assert not self._read_only, "a read-only unit of work cannot commit"
        self._connection.commit()
        # The unit stays usable after commit: its next statement, if any, begins a fresh transaction (SQLAlchemy's
        # autobegin). The process's writer lock is kept until the unit ends, for a unit that commits in steps.


class _HeldConnection:
    """One read-only connection kept open between units of work, for the one thread that uses it."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None
        self._thread: int | None = None

    def take(self) -> Connection:
        thread = threading.get_ident()
        if self._thread is None:
            self._thread = thread
        assert thread == self._thread, "a held reader is used by one thread only"
        if self._connection is None:
            self._connection = self._engine.connect().execution_options(**{READ_ONLY_OPTION: True})
        return self._connection

    def discard(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


class HeldReaderUnitOfWork(SqlUnitOfWork):
    """A read-only unit of work on a connection that stays open between uses: for reads on the event loop's own
    thread (SQLite), where checking a connection out of the pool and back in cost more than a one-row read. Each use
    is still its own transaction (`BEGIN DEFERRED` ... rollback), so it reads one snapshot and holds none after."""

    def __init__(self, engine: Engine, held: _HeldConnection) -> None:
        super().__init__(engine, read_only=True)
        self._held = held

    def _open(self) -> Connection:
        return self._held.take()

    def _release(self, connection: Connection, *, failed: bool) -> None:
        if failed:
            self._held.discard()  # a connection in an unknown state is not kept


class SqlUnitOfWorkFactory:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._held = _HeldConnection(engine)

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)

    def reader(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, read_only=True)

    def held_reader(self) -> SqlUnitOfWork:
        """`reader` on the one connection this factory keeps for a single thread (see HeldReaderUnitOfWork)."""
        return HeldReaderUnitOfWork(self.engine, self._held)

    @contextmanager
    def exclusive(self, key: str) -> Iterator[bool]:
        """`services.ports.Exclusive`: a transaction-scoped advisory lock held on a connection of its own.

        The section's own units of work commit on other connections while this guard transaction stays open, so
        the lock spans all of them and ends with the guard (or with the process: a killed process's connection
        closes and PostgreSQL releases its lock). Never waits: whoever does not get it skips the section.
        """
        if self.engine.dialect.name != "postgresql":
            yield True  # SQLite serves a single process (`fota serve` refuses roles on it)
            return
        with self.engine.connect() as guard, guard.begin():
            got = guard.execute(
                text("SELECT pg_try_advisory_xact_lock(:space, hashtext(:key))"),
                {"space": ADVISORY_LOCK_SPACE, "key": key},
            ).scalar_one()
            yield bool(got)


# First half of every two-part advisory lock key `fota` takes ("fota" in ASCII), so it never meets another
# application's locks on a shared database.
ADVISORY_LOCK_SPACE = 0x666F7461
