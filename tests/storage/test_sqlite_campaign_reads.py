"""A campaign read on SQLite through the driver is the campaign SQLAlchemy's row gives, and the same object while
its stored row is the same; any change to the row makes a new one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from fota.adapters.storage.campaign_store import _CAMPAIGN_BY_ID, SqlCampaignRepository, _campaign
from fota.adapters.storage.database import make_engine, migrate
from fota.adapters.storage.tables import campaigns
from tests.storage.campaign_rows import ACCOUNT, AT, insert_campaigns


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'fota.db'}")
    migrate(engine)
    insert_campaigns(engine, "c1", "c2")
    with engine.begin() as connection:
        connection.execute(
            update(campaigns)
            .where(campaigns.c.id == "c1")
            .values(
                windows=[{"startTime": 2, "endTime": 6}, {"startTime": 20, "endTime": 23}],
                install_windows=[{"startTime": 1, "endTime": 3}],
                download_after=AT.date(),
                install_after=AT.date() + timedelta(days=1),
                next_transition_at=AT + timedelta(hours=3, microseconds=5),
                status_reason="because",
                bandwidth_bytes_per_hour=10**12,
                device_count=7,
            )
        )
    yield engine
    engine.dispose()


def _through_sqlalchemy(engine: Engine, campaign_id: str) -> object:
    with engine.connect() as connection:
        return _campaign(connection.execute(_CAMPAIGN_BY_ID, {"id": campaign_id, "account": ACCOUNT}).one())


def test_the_drivers_read_is_sqlalchemys_campaign(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as connection:
        repository = SqlCampaignRepository(connection)
        for campaign_id in ("c1", "c2"):
            assert repository.get(ACCOUNT, campaign_id) == _through_sqlalchemy(sqlite_engine, campaign_id)
        assert repository.get(ACCOUNT, "c3") is None
        assert repository.get("another-account", "c1") is None


def test_the_same_stored_row_gives_the_same_object_and_a_changed_one_a_new_one(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as connection:
        first = SqlCampaignRepository(connection).get(ACCOUNT, "c1")
        again = SqlCampaignRepository(connection).get(ACCOUNT, "c1")
        connection.rollback()
    assert first is not None and again is first
    with sqlite_engine.begin() as connection:
        # Only the maintained count changes: the key is the whole row, not its updated_at.
        connection.execute(update(campaigns).where(campaigns.c.id == "c1").values(device_count=8))
    with sqlite_engine.connect() as connection:
        changed = SqlCampaignRepository(connection).get(ACCOUNT, "c1")
    assert changed is not first
    assert changed == _through_sqlalchemy(sqlite_engine, "c1")
