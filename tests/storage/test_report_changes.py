"""The device report's version (migration 0021, docs/adr/0043): every committed change to what a campaign's report
shows moves it, nothing else does, and folding PostgreSQL's rows keeps every sum."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Connection, Engine, delete, func, select, update

from fota.adapters.storage.campaign_store import SqlCampaignDeviceRepository
from fota.adapters.storage.tables import campaign_devices, campaign_report_changes
from fota.domain.statuses import DeviceStatus
from fota.services.ports import CampaignDeviceRow, ReportVersion
from tests.storage.campaign_rows import ACCOUNT, AT, insert_campaigns

DEVICE = "350000000000000"


def _row(campaign_id: str, n: int) -> CampaignDeviceRow:
    return CampaignDeviceRow(campaign_id, f"{350000000000000 + n}", ACCOUNT, DeviceStatus.PENDING, None, AT)


def _version(engine: Engine, campaign_id: str = "c1") -> ReportVersion:
    with engine.connect() as connection:
        return SqlCampaignDeviceRepository(connection).report_version(campaign_id)


def _enrolled(engine: Engine, *campaign_ids: str, devices: int = 3) -> None:
    insert_campaigns(engine, *campaign_ids)
    with engine.begin() as connection:
        SqlCampaignDeviceRepository(connection).insert(
            [_row(campaign_id, n) for campaign_id in campaign_ids for n in range(devices)]
        )


def _set(connection: Connection, campaign_id: str = "c1", device_id: str = DEVICE, **values: object) -> None:
    connection.execute(
        update(campaign_devices)
        .where(campaign_devices.c.campaign_id == campaign_id, campaign_devices.c.device_id == device_id)
        .values(**values)
    )


def test_an_insert_moves_the_version_and_its_device_count(engine: Engine) -> None:
    insert_campaigns(engine, "c1")
    empty = _version(engine)
    with engine.begin() as connection:
        SqlCampaignDeviceRepository(connection).insert([_row("c1", n) for n in range(3)])
    after = _version(engine)
    assert after.devices == 3 and empty.devices == 0
    assert after.changes > empty.changes


def test_every_reported_column_moves_the_version(engine: Engine) -> None:
    _enrolled(engine, "c1")
    later = AT + timedelta(hours=1)
    changes = [
        {"status": DeviceStatus.IN_PROGRESS.value},
        {"reason": "downloading"},
        {"updated_at": later},
        {"recent_attempt_at": later},
        {"next_attempt_at": later},
        {"carried_reason": "UpgradeFailed: timed out"},
        {"reason": None},
    ]
    for values in changes:
        before = _version(engine)
        with engine.begin() as connection:
            _set(connection, **values)
        assert _version(engine).changes > before.changes, values


def test_columns_the_report_does_not_show_leave_the_version(engine: Engine) -> None:
    _enrolled(engine, "c1")
    before = _version(engine)
    with engine.begin() as connection:
        _set(connection, step="downloading", step_deadline=AT, attempts=2, owner="engine-1", delivery="pull")
        _set(connection, status=DeviceStatus.PENDING.value)  # the value it had
    assert _version(engine) == before


def test_a_delete_moves_the_version(engine: Engine) -> None:
    _enrolled(engine, "c1")
    before = _version(engine)
    with engine.begin() as connection:
        connection.execute(delete(campaign_devices).where(campaign_devices.c.device_id == DEVICE))
    assert _version(engine).changes > before.changes


def test_each_campaign_has_its_own_version(engine: Engine) -> None:
    _enrolled(engine, "c1", "c2")
    before = {c: _version(engine, c) for c in ("c1", "c2")}
    with engine.begin() as connection:
        _set(connection, "c2", reason="retrying")
    assert _version(engine, "c1") == before["c1"]
    assert _version(engine, "c2").changes > before["c2"].changes
    assert _version(engine, "missing") == ReportVersion(changes=0, devices=0)


def test_a_rolled_back_change_leaves_the_version(engine: Engine) -> None:
    _enrolled(engine, "c1")
    before = _version(engine)
    with engine.connect() as connection:
        transaction = connection.begin()
        _set(connection, status=DeviceStatus.SUCCESS.value)
        SqlCampaignDeviceRepository(connection).insert([_row("c1", 9)])
        transaction.rollback()
    assert _version(engine) == before


def test_a_change_after_a_rolled_back_savepoint_is_still_counted(engine: Engine) -> None:
    # PostgreSQL's trigger remembers which campaigns a transaction counted; a savepoint rolled back takes both the
    # row and the memory with it, so the change made after it must be counted afresh.
    _enrolled(engine, "c1")
    before = _version(engine)
    with engine.begin() as connection:
        savepoint = connection.begin_nested()
        _set(connection, reason="undone")
        savepoint.rollback()
        _set(connection, device_id="350000000000001", reason="kept")
    assert _version(engine).changes > before.changes


def test_a_transaction_adds_one_row_per_campaign_on_postgresql(engine: Engine) -> None:
    _enrolled(engine, "c1", devices=50)
    with engine.connect() as connection:
        rows_before = connection.execute(select(func.count()).select_from(campaign_report_changes)).scalar_one()
    with engine.begin() as connection:
        connection.execute(update(campaign_devices).values(reason="every row"))
        for n in range(5):
            _set(connection, device_id=f"{350000000000000 + n}", reason=f"row {n}")
    with engine.connect() as connection:
        rows = connection.execute(select(func.count()).select_from(campaign_report_changes)).scalar_one()
    assert rows - rows_before == (1 if engine.dialect.name == "postgresql" else 0)


def test_folding_keeps_every_sum(engine: Engine) -> None:
    _enrolled(engine, "c1", "c2")
    for n in range(4):
        with engine.begin() as connection:
            _set(connection, "c1", reason=f"step {n}")
            if n % 2:
                _set(connection, "c2", reason=f"step {n}")
    before = {c: _version(engine, c) for c in ("c1", "c2", "missing")}
    with engine.begin() as connection:
        folded = SqlCampaignDeviceRepository(connection).fold_report_changes()
    with engine.connect() as connection:
        rows = connection.execute(
            select(campaign_report_changes.c.campaign_id, func.count()).group_by(campaign_report_changes.c.campaign_id)
        ).all()
    assert {c: _version(engine, c) for c in ("c1", "c2", "missing")} == before
    assert sorted(rows) == [("c1", 1), ("c2", 1)]
    # PostgreSQL: the enrolment and four changes of c1, the enrolment and two changes of c2, each now one row.
    assert folded == (8 - 2 if engine.dialect.name == "postgresql" else 0)
