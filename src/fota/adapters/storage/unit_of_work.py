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
from fota.adapters.storage.device_store import (
    SqlDeviceRepository,
    SqlFirmwareReportRequestRepository,
    SqlFirmwareRepository,
)


class SqlUnitOfWork:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None

    def __enter__(self) -> Self:
        connection = self._engine.connect()
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
        self.cancel_list = SqlLicenseCancelListRepository(connection)
        self.firmware_reports = SqlFirmwareReportRequestRepository(connection)
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
        self._connection.commit()
        # Keep the unit usable for reads after commit, in a fresh transaction.
        self._connection.begin()


class SqlUnitOfWorkFactory:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)
