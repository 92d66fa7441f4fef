"""Fixtures for the tests that run several `fota serve` processes on one PostgreSQL database."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningServer, _free_port, _launch, _postgres_database, _retire


@pytest.fixture
def two_api_processes(tmp_path: Path) -> Iterator[tuple[RunningServer, RunningServer]]:
    name, database_url = _postgres_database()
    admin_token = secrets.token_urlsafe(24)
    env = {**os.environ, "FOTA_ADMIN_TOKEN": admin_token, "FOTA_DATABASE_URL": database_url}
    servers: list[RunningServer] = []
    try:
        for index in range(2):
            port = _free_port()
            args = [sys.executable, "-m", "fota", "serve", "--role", "api", "--simulated-clock"]
            args += ["--host", "127.0.0.1", "--port", str(port), "--log-format", "text"]
            log_path = tmp_path / f"api-{index}.log"
            process = _launch(args, env, log_path, tmp_path)
            assert process is not None, "port race lost"
            servers.append(
                RunningServer(f"http://127.0.0.1:{port}", admin_token, "postgresql", database_url, process, log_path)
            )
        yield servers[0], servers[1]
    finally:
        _retire(servers, name)
