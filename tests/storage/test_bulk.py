"""Bulk statements store and find exactly what SQLAlchemy's own statements do, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select

from fota.adapters.storage.bulk import insert_keyed, insert_rows, key_chunks, member_of
from fota.adapters.storage.tables import accounts, campaign_devices, campaigns, firmware, history, outbox

ACCOUNT = "0000000001-00001"
# Whole seconds on purpose: SQLite stores timestamps as text, and a format that dropped ".000000" would sort and
# compare differently from the rows SQLAlchemy writes.
AT = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)


def _history_row(i: int, at: datetime) -> dict[str, Any]:
    return {
        "account_name": ACCOUNT,
        "campaign_id": None if i % 3 else "c1",
        "device_id": f"{350000000000000 + i}",
        "status": "UpgradePending",
        "reason": f"reason {i} with 'quotes', tabs\tand \\ backslashes",
        "at": at,
    }


def test_inserted_rows_read_back_as_sqlalchemy_writes_them(engine: Engine) -> None:
    times = [AT, AT + timedelta(microseconds=1), AT + timedelta(hours=1, microseconds=250_000)]
    bulk_rows = [_history_row(i, times[i % 3]) for i in range(30)]
    with engine.begin() as connection:
        assert insert_rows(connection, history, bulk_rows) == 30
        connection.execute(insert(history), [_history_row(i, times[i % 3]) for i in range(30, 60)])
        assert insert_rows(connection, history, []) == 0

    with engine.connect() as connection:
        stored = connection.execute(select(history).order_by(history.c.id)).all()
        # Both writers' timestamps compare equal in SQL, whatever the storage format.
        at_first = connection.execute(select(history.c.device_id).where(history.c.at == AT)).scalars().all()
    read = [{k: getattr(r, k) for k in bulk_rows[0]} for r in stored]
    assert read[:30] == bulk_rows
    assert read[30:] == [_history_row(i, times[i % 3]) for i in range(30, 60)]
    assert sorted(at_first) == sorted(f"{350000000000000 + i}" for i in range(60) if i % 3 == 0)


def test_booleans_nulls_and_json_payloads(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(accounts).values(name=ACCOUNT, license_count=1, licenses_used=0, created_at=AT, updated_at=AT)
        )
        connection.execute(
            insert(firmware).values(
                name="fw", make="M", model="X", firmware_from="1", firmware_to="2", protocol="LWM2M", launch_date=AT
            )
        )
        connection.execute(
            insert(campaigns).values(
                id="c1",
                account_name=ACCOUNT,
                firmware_name="fw",
                firmware_from="1",
                firmware_to="2",
                protocol="LWM2M",
                make="M",
                model="X",
                start_date=AT.date(),
                end_date=AT.date(),
                time_zone="UTC",
                windows=[],
                auto_assign_license=True,
                auto_add_devices=False,
                status="CampaignQueued",
                created_at=AT,
                updated_at=AT,
            )
        )
        insert_rows(
            connection,
            campaign_devices,
            (
                {
                    "campaign_id": "c1",
                    "device_id": f"{350000000000000 + i}",
                    "account_name": ACCOUNT,
                    "status": "UpgradePending",
                    "reason": "r",
                    "active": bool(i % 2),
                    "updated_at": AT,
                    "next_attempt_at": None if i % 2 else AT,
                }
                for i in range(4)
            ),
        )
        payload = {"eventId": "e1", "nested": {"list": [1, 2.5, None, "x\ty"]}, "unicode": "Ünïcode"}
        insert_rows(
            connection,
            outbox,
            [
                {
                    "event_id": "e1",
                    "account_name": ACCOUNT,
                    "kind": "DeviceStatusChanged",
                    "payload": payload,
                    "created_at": AT,
                    "next_attempt_at": AT,
                    "attempts": 0,
                }
            ],
        )
    with engine.connect() as connection:
        active = connection.execute(
            select(campaign_devices.c.device_id).where(campaign_devices.c.active.is_(True))
        ).scalars()
        assert sorted(active) == ["350000000000001", "350000000000003"]
        waiting = connection.execute(
            select(campaign_devices.c.device_id).where(campaign_devices.c.next_attempt_at == AT)
        ).scalars()
        assert sorted(waiting) == ["350000000000000", "350000000000002"]
        assert connection.execute(select(outbox.c.payload)).scalar_one() == payload


def test_member_of_finds_exactly_the_listed_keys_past_any_parameter_limit(engine: Engine) -> None:
    rows = [_history_row(i, AT) for i in range(70_000)]
    with engine.begin() as connection:
        insert_rows(connection, history, rows)
    # Every other device, plus keys that match nothing and one with a quote in it.
    wanted = [f"{350000000000000 + i}" for i in range(0, 70_000, 2)] + ["nope", "it's", ""]
    with engine.connect() as connection:
        found: list[str] = []
        for chunk in key_chunks(wanted, 20_000):
            found += connection.execute(
                select(history.c.device_id).where(member_of(connection, history.c.device_id, chunk))
            ).scalars()
        assert len(found) == 35_000
        assert set(found) == set(wanted[:-3])
        assert (
            connection.execute(select(history.c.id).where(member_of(connection, history.c.device_id, []))).all() == []
        )


def test_keyed_inserts_store_the_bytes_row_inserts_store(engine: Engine) -> None:
    """`insert_keyed` binds its shared values through the column types as `insert_rows` does: the same text on
    SQLite (timestamps are compared as text there), the same values on PostgreSQL, and the keys in their order."""
    at = AT + timedelta(microseconds=250_000)
    keys = [f"{350000000000000 + i}" for i in range(5)] + ["it's"]
    shared = {"account_name": ACCOUNT, "campaign_id": None, "status": "LicenseAssigned", "reason": "a\tb", "at": at}
    with engine.begin() as connection:
        insert_keyed(connection, history, "device_id", keys, shared)
        insert_rows(connection, history, [{**shared, "device_id": key} for key in keys])
        insert_keyed(connection, history, "device_id", [], shared)
    with engine.connect() as connection:
        raw = connection.exec_driver_sql(
            "SELECT device_id, account_name, campaign_id, status, reason, at FROM history ORDER BY id"
        ).all()
        assert connection.execute(select(history.c.at).distinct()).scalars().all() == [at]
    assert [tuple(r) for r in raw[: len(keys)]] == [tuple(r) for r in raw[len(keys) :]]
    assert [r[0] for r in raw[: len(keys)]] == keys
