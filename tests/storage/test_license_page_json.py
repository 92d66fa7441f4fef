"""The license summary's items as the database writes them (adapters/storage/license_page_json.py) are the bytes
pydantic writes from the rows (`LicenseDeviceRead`, `presenters.rfc3339`), on both databases, page after page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, delete, insert

from fota.adapters.http.presenters import rfc3339
from fota.adapters.http.schemas import LicenseDeviceRead
from fota.adapters.storage.device_store import SqlDeviceRepository
from fota.adapters.storage.tables import accounts, device_licenses, devices
from tests.storage.campaign_rows import ACCOUNT, AT, insert_campaigns

INSTANTS = st.builds(
    lambda seconds, micro: datetime(2000, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds, microseconds=micro),
    st.integers(0, 100 * 365 * 86400),
    st.one_of(st.just(0), st.integers(0, 999_999), st.integers(999_000, 999_999)),
)
IMEI = 350_000_000_000_000


@pytest.fixture
def account(engine: Engine) -> Engine:
    insert_campaigns(engine)  # the account and a firmware
    return engine


def _licensed_device(connection: Connection, device_id: str, account: str, at: datetime) -> None:
    connection.execute(
        insert(devices).values(
            device_id=device_id,
            account_name=account,
            make="M",
            model="X",
            firmware="1",
            protocol="LWM2M",
            created_at=AT,
            updated_at=AT,
        )
    )
    connection.execute(insert(device_licenses).values(device_id=device_id, account_name=account, assigned_at=at))


def _license(engine: Engine, assigned: dict[str, datetime]) -> None:
    with engine.begin() as connection:
        connection.execute(delete(device_licenses))
        connection.execute(delete(devices))
        for device_id, at in assigned.items():
            _licensed_device(connection, device_id, ACCOUNT, at)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(assigned=st.dictionaries(st.integers(1, 10**6).map(lambda n: str(IMEI + n)), INSTANTS, max_size=10))
def test_items_are_pydantics_bytes(account: Engine, assigned: dict[str, datetime]) -> None:
    _license(account, assigned)
    with account.connect() as connection:
        page = SqlDeviceRepository(connection).licensed_items(ACCOUNT, after=None, limit=1000)
    expected = ",".join(
        LicenseDeviceRead(device_id=d, assignment_time=rfc3339(assigned[d])).model_dump_json(exclude_none=True)
        for d in sorted(assigned)
    )
    assert page.items == expected
    assert (page.count, page.last_device_id, page.has_more) == (
        len(assigned),
        max(assigned) if assigned else None,
        False,
    )


def test_pages_follow_device_ids_and_stay_in_the_account(account: Engine) -> None:
    ids = [str(IMEI + n) for n in range(1, 26)]
    _license(account, {d: AT for d in reversed(ids)})
    with account.begin() as connection:
        connection.execute(
            insert(accounts).values(name="another", license_count=1, licenses_used=1, created_at=AT, updated_at=AT)
        )
        _licensed_device(connection, str(IMEI + 99), "another", AT)
    seen: list[str] = []
    pages = []
    after = None
    with account.connect() as connection:
        repository = SqlDeviceRepository(connection)
        while True:
            page = repository.licensed_items(ACCOUNT, after=after, limit=10)
            pages.append((page.count, page.has_more))
            seen.extend(item.split('"')[3] for item in page.items.split("},{"))
            if not page.has_more:
                break
            after = page.last_device_id
    assert seen == ids
    assert pages == [(10, True), (10, True), (5, False)]
