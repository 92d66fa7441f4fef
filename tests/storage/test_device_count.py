"""A campaign's device count (its report's totalDevice) is kept by every insert and backfilled by its migration."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, select, update

from fota.adapters.storage.bulk import insert_rows
from fota.adapters.storage.campaign_store import SqlCampaignDeviceRepository
from fota.adapters.storage.database import alembic_config, migrate
from fota.adapters.storage.tables import campaign_devices, campaigns
from fota.domain.statuses import DeviceStatus
from fota.services.ports import CampaignDeviceRow
from tests.storage.campaign_rows import ACCOUNT, AT, insert_campaigns


def _row(campaign_id: str, n: int) -> CampaignDeviceRow:
    return CampaignDeviceRow(campaign_id, f"{350000000000000 + n}", ACCOUNT, DeviceStatus.PENDING, None, AT)


def test_every_insert_adds_to_its_own_campaigns_count(engine: Engine) -> None:
    insert_campaigns(engine, "c1", "c2", "c3")
    with engine.begin() as connection:
        repository = SqlCampaignDeviceRepository(connection)
        repository.insert([_row("c1", n) for n in range(5)] + [_row("c2", n) for n in range(3)])
        repository.insert([_row("c1", n) for n in range(5, 7)])
        repository.insert([])
    with engine.connect() as connection:
        repository = SqlCampaignDeviceRepository(connection)
        assert [repository.count(c) for c in ("c1", "c2", "c3", "missing")] == [7, 3, 0, 0]


def test_a_rolled_back_insert_counts_nothing(engine: Engine) -> None:
    insert_campaigns(engine, "c1")
    connection = engine.connect()
    with connection.begin():
        SqlCampaignDeviceRepository(connection).insert([_row("c1", n) for n in range(4)])
    transaction = connection.begin()
    SqlCampaignDeviceRepository(connection).insert([_row("c1", n) for n in range(4, 9)])
    transaction.rollback()
    assert SqlCampaignDeviceRepository(connection).count("c1") == 4
    connection.close()


def test_the_migration_counts_the_rows_already_there(engine: Engine) -> None:
    insert_campaigns(engine, "c1", "c2")
    with engine.begin() as connection:
        rows = [_row("c1", n) for n in range(6)] + [_row("c2", 0)]
        insert_rows(
            connection,
            campaign_devices,
            (
                {
                    "campaign_id": r.campaign_id,
                    "device_id": r.device_id,
                    "account_name": r.account_name,
                    "status": r.status.value,
                    "active": True,
                    "updated_at": AT,
                }
                for r in rows
            ),
        )
        connection.execute(update(campaigns).values(device_count=0))
    command.downgrade(alembic_config(engine), "0012")
    migrate(engine)
    with engine.connect() as connection:
        counts = {r.id: r.device_count for r in connection.execute(select(campaigns.c.id, campaigns.c.device_count))}
    assert counts == {"c1": 6, "c2": 1}
