"""The CoAP refusal budget shared through PostgreSQL: refusals one LwM2M process counts and refusals another counts
add up, both then turn the address away, and a process started afterwards (a restart) knows it at its first
exchange. Two ledgers on one database stand in for two processes; the server's own use runs in the LwM2M suites.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine

from fota.adapters.lwm2m.refusals import RefusalBucket, SharedRefusals
from fota.adapters.storage.database import make_engine, migrate
from fota.adapters.storage.refusal_ledger import DEFAULT_LIMIT, SqlRefusalLedger
from tests.conftest import POSTGRES_ADMIN_URL

pytestmark = [pytest.mark.slow, pytest.mark.serial]  # several processes: alone on the machine


@pytest.fixture
def engine() -> Iterator[Engine]:
    name = f"fota_refusals_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    created = make_engine(f"{base}/{name}")
    migrate(created)
    try:
        yield created
    finally:
        created.dispose()
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def refuse(bucket: RefusalBucket, address: str, times: int) -> None:
    for _ in range(times):
        assert bucket.reserve(address)  # let in, then refused: the token is not given back


def test_refusals_add_up_across_processes_and_survive_a_restart(engine: Engine) -> None:
    flooder, honest = "192.0.2.7", "192.0.2.8"
    half = DEFAULT_LIMIT // 2 + 1  # under the budget in each process, over it together
    first, second = RefusalBucket(burst=1000), RefusalBucket(burst=1000)
    first_sync, second_sync = (
        SharedRefusals(first, SqlRefusalLedger(engine)),
        SharedRefusals(second, SqlRefusalLedger(engine)),
    )

    async def scenario() -> None:
        refuse(first, flooder, half)
        refuse(second, flooder, half)
        refuse(second, honest, 3)
        await first_sync.exchange_once()
        assert first.reserve(flooder), "one process's refusals alone are within the budget"
        await second_sync.exchange_once()
        assert not second.reserve(flooder) and not second.admits(flooder)
        assert second.reserve(honest), "other addresses are not affected"
        await first_sync.exchange_once()
        assert not first.reserve(flooder), "the other process learns at its next exchange"

        restarted = RefusalBucket()
        await SharedRefusals(restarted, SqlRefusalLedger(engine)).exchange_once()
        assert not restarted.reserve(flooder), "a restarted process knows the address at its first exchange"
        assert restarted.reserve(honest)

    asyncio.run(scenario())
