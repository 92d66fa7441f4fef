"""A cached device report page is the page the database writes now, after any sequence of changes to the campaign's
rows, committed or not, whichever page was asked and whenever the version's rows were folded (docs/adr/0043)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, update

from fota.adapters.storage.campaign_store import SqlCampaignDeviceRepository
from fota.adapters.storage.tables import campaign_devices, campaign_report_changes
from fota.adapters.storage.unit_of_work import SqlUnitOfWorkFactory
from fota.clock import SimulatedClock
from fota.domain.statuses import DeviceStatus
from fota.services.ports import CampaignDeviceRow
from fota.services.report_pages import ReportPages
from fota.services.reports import WrittenDeviceReport, written_campaign_devices
from tests.storage.campaign_rows import ACCOUNT, AT, insert_campaigns

DEVICES = [f"{350000000000000 + n}" for n in range(8)]
PAGE_SIZE = 3

_LETTERS = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
_reported = st.one_of(
    st.builds(lambda s: {"status": s.value}, st.sampled_from(list(DeviceStatus))),
    st.builds(
        lambda r: {"reason": r},
        st.none() | st.text(_LETTERS, max_size=12),
    ),
    st.builds(
        lambda h: {"next_attempt_at": None if h is None else AT + timedelta(hours=h)}, st.none() | st.integers(0, 9)
    ),
    st.builds(lambda h: {"updated_at": AT + timedelta(hours=h)}, st.integers(0, 9)),
    st.builds(lambda r: {"carried_reason": r}, st.none() | st.just("UpgradeFailed: timed out")),
)


_unreported = st.builds(lambda a: {"attempts": a, "step": "downloading"}, st.integers(0, 3))
_step = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(DEVICES), _reported | _unreported),
    st.tuples(st.just("undone"), st.sampled_from(DEVICES), _reported),
    st.tuples(st.just("enrol"), st.integers(8, 20), st.just({})),
    st.tuples(st.just("leave"), st.sampled_from(DEVICES), st.just({})),
    st.tuples(st.just("fold"), st.just(""), st.just({})),
)
_page = st.none() | st.sampled_from(DEVICES)


@pytest.fixture
def campaign(engine: Engine) -> Engine:
    insert_campaigns(engine, "c1")
    return engine


def _report(units: SqlUnitOfWorkFactory, after: str | None, pages: ReportPages | None) -> WrittenDeviceReport:
    report = written_campaign_devices(
        uow=units.reader(),
        clock=SimulatedClock(AT),
        account_name=ACCOUNT,
        campaign_id="c1",
        after=after,
        page_size=PAGE_SIZE,
        pages=pages,
    )
    assert isinstance(report, WrittenDeviceReport)
    return report


def _apply(engine: Engine, step: tuple[str, object, dict[str, object]]) -> None:
    kind, target, values = step
    rows = campaign_devices.c
    with engine.connect() as connection:
        transaction = connection.begin()
        if kind in ("set", "undone"):
            connection.execute(
                update(campaign_devices).where(rows.campaign_id == "c1", rows.device_id == target).values(**values)
            )
        elif kind == "enrol":
            device = f"{350000000000000 + int(str(target))}"
            repository = SqlCampaignDeviceRepository(connection)
            if not repository.get_many("c1", [device]):
                repository.insert([CampaignDeviceRow("c1", device, ACCOUNT, DeviceStatus.PENDING, None, AT)])
        elif kind == "leave":
            connection.execute(delete(campaign_devices).where(rows.device_id == target))
        else:
            SqlCampaignDeviceRepository(connection).fold_report_changes()
        if kind == "undone":
            transaction.rollback()
        else:
            transaction.commit()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(_step, _page, _page), max_size=12))
def test_a_cached_page_is_the_page_the_database_writes_now(
    campaign: Engine, steps: list[tuple[tuple[str, object, dict[str, object]], str | None, str | None]]
) -> None:
    with campaign.begin() as connection:
        connection.execute(delete(campaign_devices))
        connection.execute(delete(campaign_report_changes))
        SqlCampaignDeviceRepository(connection).insert(
            [CampaignDeviceRow("c1", d, ACCOUNT, DeviceStatus.PENDING, None, AT) for d in DEVICES]
        )
    units = SqlUnitOfWorkFactory(campaign)
    pages = ReportPages()
    for after in (None, *DEVICES):
        _report(units, after, pages)  # every page cached before the first change
    for step, read_before, read_after in steps:
        _report(units, read_before, pages)
        _apply(campaign, step)
        for after in (read_after, read_before):
            assert _report(units, after, pages) == _report(units, after, None), (step, after)
