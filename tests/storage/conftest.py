"""A migrated database of each selected backend, for storage tests that drive SQL directly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from fota.adapters.storage.database import make_engine, migrate
from tests.conftest import BACKENDS, _drop_postgres_database, _postgres_database


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        made = make_engine(f"sqlite:///{tmp_path / 'fota.db'}")
        migrate(made)
        yield made
        made.dispose()
        return
    name, url = _postgres_database()
    made = make_engine(url)
    try:
        migrate(made)
        yield made
    finally:
        made.dispose()
        _drop_postgres_database(name)
