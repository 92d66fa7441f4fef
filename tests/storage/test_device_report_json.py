"""The report items the database writes are the bytes pydantic writes for the same rows, on both backends."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete

from fota.adapters.http.presenters import device_status
from fota.adapters.storage.campaign_store import SqlCampaignDeviceRepository
from fota.adapters.storage.tables import campaign_devices
from fota.domain.statuses import DeviceStatus
from fota.services.ports import CampaignDeviceRow
from fota.services.reports import CampaignDeviceReport
from tests.storage.campaign_rows import ACCOUNT, AT, insert_campaigns

# PostgreSQL's text holds no NUL; surrogates are not text at all.
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
INSTANTS = st.builds(
    lambda seconds, micro: datetime(2000, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds, microseconds=micro),
    st.integers(0, 100 * 365 * 86400),
    st.one_of(st.just(0), st.integers(0, 999_999)),
)


@st.composite
def device_rows(draw: st.DrawFn) -> list[CampaignDeviceRow]:
    ids = draw(st.lists(st.integers(1, 10**6), min_size=0, max_size=12, unique=True))
    return [
        CampaignDeviceRow(
            "c1",
            f"{350000000000000 + n}",
            ACCOUNT,
            draw(st.sampled_from(DeviceStatus)),
            draw(st.none() | TEXT),
            draw(INSTANTS),
            recent_attempt_at=draw(st.none() | INSTANTS),
            next_attempt_at=draw(st.none() | INSTANTS),
            carried_reason=draw(st.none() | TEXT),
        )
        for n in ids
    ]


def _pydantic_items(rows: list[CampaignDeviceRow], next_opening: datetime | None) -> str:
    """The row path's items: the rows as the repository reads them, through the presenter and pydantic."""
    report = CampaignDeviceReport(len(rows), rows, False, next_opening)
    return ",".join(
        device_status(r, next_attempt=report.next_attempt(r)).model_dump_json(exclude_none=True) for r in rows
    )


@pytest.fixture
def campaign(engine: Engine) -> Engine:
    insert_campaigns(engine, "c1")
    return engine


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=device_rows(), next_opening=st.none() | INSTANTS)
def test_items_are_the_presenters_bytes(
    campaign: Engine, rows: list[CampaignDeviceRow], next_opening: datetime | None
) -> None:
    with campaign.begin() as connection:
        connection.execute(delete(campaign_devices))
        SqlCampaignDeviceRepository(connection).insert(rows)
        SqlCampaignDeviceRepository(connection).update(rows)  # the attempts' instants are an update's
    with campaign.connect() as connection:
        repository = SqlCampaignDeviceRepository(connection)
        page = repository.report_items("c1", after=None, limit=1000, next_opening=next_opening)
        stored = repository.page("c1", after=None, limit=1000)
    assert [(r.status, r.reason, r.next_attempt_at) for r in stored] == [
        (r.status, r.reason, r.next_attempt_at) for r in sorted(rows, key=lambda r: r.device_id)
    ]
    assert page.items == _pydantic_items(stored, next_opening)
    assert page.count == len(rows)
    assert page.last_device_id == (max(r.device_id for r in rows) if rows else None)
    assert page.has_more is False


def test_pages_follow_device_ids_whatever_the_insert_order(campaign: Engine) -> None:
    ids = [f"{350000000000000 + n}" for n in range(1, 2501)]
    shuffled = random.Random(7).sample(ids, len(ids))
    with campaign.begin() as connection:
        repository = SqlCampaignDeviceRepository(connection)
        for chunk in range(0, len(shuffled), 500):
            repository.insert(
                CampaignDeviceRow("c1", d, ACCOUNT, DeviceStatus.PENDING, None, AT)
                for d in shuffled[chunk : chunk + 500]
            )
    seen: list[str] = []
    pages = []
    after = None
    with campaign.connect() as connection:
        repository = SqlCampaignDeviceRepository(connection)
        while True:
            page = repository.report_items("c1", after=after, limit=1000, next_opening=None)
            pages.append((page.count, page.has_more))
            seen.extend(item.split('"')[3] for item in page.items.split("},{"))
            assert page.last_device_id == seen[-1]
            if not page.has_more:
                break
            after = page.last_device_id
        assert repository.report_items("c1", after=seen[-1], limit=1000, next_opening=None).count == 0
    assert seen == ids
    assert pages == [(1000, True), (1000, True), (500, False)]
