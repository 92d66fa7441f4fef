"""The SQLAlchemy unit of work: one connection and one transaction, with every repository bound to it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Self

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
from fota.adapters.storage.campaign_store import (
    SqlCampaignDeviceRepository,
    SqlCampaignRepository,
    SqlHistoryRepository,
)
from fota.adapters.storage.database import READ_ONLY_OPTION
from fota.adapters.storage.device_store import (
    SqlDeviceRepository,
    SqlFirmwareReportRequestRepository,
    SqlFirmwareRepository,
)
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


class SqlUnitOfWork:
    """`read_only` units never write: on SQLite they begin DEFERRED instead of taking the write lock."""

    def __init__(self, engine: Engine, *, read_only: bool = False) -> None:
        self._engine = engine
        self._read_only = read_only
        self._connection: Connection | None = None

    def __enter__(self) -> Self:
        connection = self._engine.connect()
        if self._read_only:
            connection = connection.execution_options(**{READ_ONLY_OPTION: True})
        connection.begin()
        self._connection = connection
        self.accounts = SqlAccountRepository(connection)
        self.credentials = SqlCredentialRepository(connection)
        self.tokens = SqlTokenRepository(connection)
        self.devices = SqlDeviceRepository(connection)
        self.firmware = SqlFirmwareRepository(connection)
        self.campaigns = SqlCampaignRepository(connection)
        self.campaign_devices = SqlCampaignDeviceRepository(connection)
        self.history = SqlHistoryRepository(connection)
        self.callbacks = SqlCallbackRepository(connection)
        self.outbox = SqlOutboxRepository(connection)
        self.cancel_list = SqlLicenseCancelListRepository(connection)
        self.firmware_reports = SqlFirmwareReportRequestRepository(connection)
        self.upgrades = SqlUpgradeRepository(connection)
        self.registrations = SqlRegistrationRepository(connection)
        self.downloads = SqlDownloadRepository(connection)
        self.bandwidth = SqlBandwidthRepository(connection)
        self.insight = SqlInsightRepository(connection)
        self.device_security = SqlDeviceSecurityRepository(connection)
        self.bootstrap = SqlBootstrapRepository(connection)
        self.signing_keys = SqlSigningKeyRepository(connection)
        self.activity = SqlDeviceActivityRepository(connection)
        self.rollouts = SqlRolloutRepository(connection)
        self.audit = SqlAuditRepository(connection)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        connection = self._connection
        self._connection = None
        if connection is None:
            return
        try:
            if connection.in_transaction():
                connection.rollback()  # anything not committed explicitly is undone
        finally:
            connection.close()

    def commit(self) -> None:
        assert self._connection is not None, "commit outside of `with uow:`"
        assert not self._read_only, "a read-only unit of work cannot commit"
        self._connection.commit()
        # Keep the unit usable for reads after commit, in a fresh transaction.
        self._connection.begin()


class SqlUnitOfWorkFactory:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)

    def reader(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, read_only=True)

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
