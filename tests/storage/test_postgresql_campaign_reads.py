"""A campaign read on PostgreSQL from the event loop (adapters/storage/postgresql_campaign_reads.py) is the
campaign SQLAlchemy's row gives; the same object while its stored row is the same, a new one after any change; reads
asked for together share one round trip and each gets its own campaign; a lost connection is made again."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine, text, update

from fota.adapters.storage import postgresql_campaign_reads
from fota.adapters.storage.campaign_store import (
    _CAMPAIGN_BY_ID,
    SqlCampaignDeviceRepository,
    _campaign,
    campaign_of,
)
from fota.adapters.storage.database import make_engine, migrate
from fota.adapters.storage.postgresql_campaign_reads import APPLICATION_NAME, LoopCampaignReads
from fota.adapters.storage.tables import campaigns
from fota.domain.campaign import Campaign
from fota.domain.statuses import DeviceStatus
from fota.services.ports import CampaignDeviceRow, ReportVersion
from tests.api.test_callbacks import wait_until
from tests.conftest import BACKENDS, _drop_postgres_database, _postgres_database
from tests.storage.campaign_rows import ACCOUNT, AT, insert_campaigns

pytestmark = pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL not selected")


@pytest.fixture
def engine() -> Iterator[Engine]:
    name, url = _postgres_database()
    made = make_engine(url)
    try:
        migrate(made)
        insert_campaigns(made, "c1", "c2", "c3")
        with made.begin() as connection:
            connection.execute(
                update(campaigns)
                .where(campaigns.c.id == "c1")
                .values(
                    windows=[{"startTime": 2, "endTime": 6}],
                    next_transition_at=AT.replace(microsecond=5),
                    status_reason='a "quoted", (parenthesised) reason',
                    device_count=7,
                )
            )
        yield made
    finally:
        made.dispose()
        _drop_postgres_database(name)


def _through_sqlalchemy(engine: Engine, campaign_id: str) -> Campaign:
    with engine.connect() as connection:
        return _campaign(connection.execute(_CAMPAIGN_BY_ID, {"id": campaign_id, "account": ACCOUNT}).one())


def _read(reads: LoopCampaignReads, *wanted: tuple[str, str]) -> list[Campaign | None]:
    """The campaigns asked for all at once, in one event loop (which is then gone)."""

    async def together() -> list[Campaign | None]:
        return list(await asyncio.gather(*(reads.campaign(account, campaign_id) for account, campaign_id in wanted)))

    return asyncio.run(together())


def _backends(engine: Engine) -> set[int]:
    """The server processes of the reads' connections (each named by its application_name)."""
    with engine.connect() as connection:
        query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = :name"
        return {row[0] for row in connection.execute(text(query), {"name": APPLICATION_NAME})}


def test_each_read_is_sqlalchemys_campaign_of_its_own_account(engine: Engine) -> None:
    reads = LoopCampaignReads(engine, campaign_of)
    wanted = [(ACCOUNT, "c1"), (ACCOUNT, "c2"), (ACCOUNT, "c1"), ("another-account", "c3"), (ACCOUNT, "c4")]
    first, second, again, elsewhere, unknown = _read(reads, *wanted)
    assert first == _through_sqlalchemy(engine, "c1")
    assert second == _through_sqlalchemy(engine, "c2")
    assert again is first
    assert elsewhere is None and unknown is None


def test_the_same_stored_row_gives_the_same_object_and_a_changed_one_a_new_one(engine: Engine) -> None:
    reads = LoopCampaignReads(engine, campaign_of)
    [first] = _read(reads, (ACCOUNT, "c1"))
    [again] = _read(reads, (ACCOUNT, "c1"))
    assert first is not None and again is first
    with engine.begin() as connection:
        # Only the maintained count changes: the key is the whole row, not its updated_at.
        connection.execute(update(campaigns).where(campaigns.c.id == "c1").values(device_count=8))
    [changed] = _read(reads, (ACCOUNT, "c1"))
    assert changed is not first and changed == _through_sqlalchemy(engine, "c1")
    with engine.begin() as connection:
        connection.execute(update(campaigns).where(campaigns.c.id == "c1").values(status_reason="another"))
    [renamed] = _read(reads, (ACCOUNT, "c1"))
    assert renamed is not None and renamed.status_reason == "another"


def test_the_report_version_read_beside_the_campaign_is_the_stores(engine: Engine) -> None:
    reads = LoopCampaignReads(engine, campaign_of)

    def both() -> tuple[ReportVersion, ReportVersion]:
        found = asyncio.run(reads.campaign_and_report(ACCOUNT, "c2"))
        assert found is not None and found[0] == _through_sqlalchemy(engine, "c2")
        with engine.connect() as connection:
            return found[1], SqlCampaignDeviceRepository(connection).report_version("c2")

    before, stored = both()
    assert before == stored == ReportVersion(changes=0, devices=0)
    with engine.begin() as connection:
        SqlCampaignDeviceRepository(connection).insert(
            [CampaignDeviceRow("c2", "350000000000000", ACCOUNT, DeviceStatus.PENDING, None, AT)]
        )
    after, stored = both()
    assert after == stored and after.devices == 1 and after.changes > before.changes
    assert asyncio.run(reads.campaign_and_report("another-account", "c2")) is None


class CountedReads(LoopCampaignReads):
    """Records the ids each round trip asked for."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine, campaign_of)
        self.trips: list[list[str]] = []

    async def _read(self, campaign_ids: list[str]) -> dict[tuple[str, str], tuple[str, ReportVersion]]:
        self.trips.append(sorted(campaign_ids))
        return await super()._read(campaign_ids)


def test_reads_asked_for_together_share_one_round_trip(engine: Engine) -> None:
    reads = CountedReads(engine)
    wanted = [(ACCOUNT, f"c{1 + n % 3}") for n in range(30)]
    results = _read(reads, *wanted)
    assert [campaign.id if campaign else None for campaign in results] == [campaign_id for _, campaign_id in wanted]
    # Asked for before the first read was sent, the thirty wait for the same one.
    assert reads.trips == [["c1", "c2", "c3"]]

    async def one_after_another() -> None:
        await reads.campaign(ACCOUNT, "c1")
        await reads.campaign(ACCOUNT, "c1")

    asyncio.run(one_after_another())
    # A request asked for after a read was sent is answered by a later one: it sees what was written before it.
    assert reads.trips[1:] == [["c1"], ["c1"]]


def test_a_lost_connection_fails_the_reads_on_it_and_the_next_read_makes_a_new_one(engine: Engine) -> None:
    reads = LoopCampaignReads(engine, campaign_of)

    async def scenario() -> None:
        assert await reads.campaign(ACCOUNT, "c1") is not None
        [pid] = _backends(engine)
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(psycopg.OperationalError):
            await reads.campaign(ACCOUNT, "c1")
        campaign = await reads.campaign(ACCOUNT, "c2")
        assert campaign is not None and campaign.id == "c2"
        assert _backends(engine) not in (set(), {pid})
        await reads.close()

    asyncio.run(scenario())
    wait_until(lambda: _backends(engine) == set(), "the closed connection's server process gone", timeout=30)


def test_an_id_no_row_can_have_is_none_and_fails_no_other_read(engine: Engine) -> None:
    reads = CountedReads(engine)
    found, nul, too_long = _read(reads, (ACCOUNT, "c1"), (ACCOUNT, "c\x00"), (ACCOUNT, "c" * 37))
    assert found is not None and found.id == "c1"
    assert nul is None and too_long is None
    assert reads.trips == [["c1"]]


def test_a_read_that_does_not_answer_in_time_fails_and_the_next_one_reconnects(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgresql_campaign_reads, "READ_TIMEOUT_SECONDS", 0.5)
    reads = LoopCampaignReads(engine, campaign_of)

    async def scenario() -> None:
        assert await reads.campaign(ACCOUNT, "c1") is not None
        [first] = _backends(engine)
        with engine.connect() as blocker:
            # Holds every read of the table until the transaction ends, as a connection that stopped answering.
            blocker.execute(text("LOCK TABLE campaigns IN ACCESS EXCLUSIVE MODE"))
            with pytest.raises(TimeoutError):
                await reads.campaign(ACCOUNT, "c1")
            blocker.rollback()
        campaign = await reads.campaign(ACCOUNT, "c1")
        assert campaign is not None
        assert first not in _backends(engine)
        await reads.close()

    asyncio.run(scenario())
