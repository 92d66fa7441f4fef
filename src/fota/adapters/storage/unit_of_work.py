"""The SQLAlchemy unit of work: one connection and one transaction, with every repository bound to it."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine

from fota.adapters.storage.account_store import (
    SqlAccountRepository,
    SqlCallbackRepository,
    SqlCredentialRepository,
    SqlLicenseCancelListRepository,
    SqlTokenRepository,
)
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
        self.insight = SqlInsightRepository(connection)
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
