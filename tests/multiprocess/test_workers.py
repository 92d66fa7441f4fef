"""`fota serve --workers 2` on PostgreSQL: two processes answer on one port, a logout reaches both at once, and the
whole stops together, from a signal to the parent or when one worker dies."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from fota.adapters.cli.main import app
from tests.conftest import BACKENDS, RunningServer, _stop_and_cleanup, start_server

pytestmark = [
    pytest.mark.slow,
    pytest.mark.serial,  # several processes: alone on the machine
    pytest.mark.skipif("postgresql" not in BACKENDS, reason="several workers need PostgreSQL"),
]

WAIT = 20.0
REQUESTS = 200
LICENSES_ROUTE = 'route="/api/fota/v3/licenses/{account}"'


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[RunningServer]:
    server = start_server("postgresql", tmp_path, "--workers", "2")
    yield server
    _stop_and_cleanup(server)


def _workers(parent: int) -> list[int]:
    """The worker processes: the parent's children that multiprocessing spawned (not its resource tracker)."""
    children = " ".join(
        Path(f"/proc/{parent}/task/{task}/children").read_text() for task in os.listdir(f"/proc/{parent}/task")
    )
    return [int(pid) for pid in children.split() if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {WAIT} s")
        time.sleep(0.05)


def _fresh(server: RunningServer, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    # A new connection each time: the kernel picks the worker per connection.
    return httpx.get(f"{server.base_url}{path}", headers=headers or {}, timeout=30)


def test_both_workers_answer_and_a_logout_reaches_both(two_workers: RunningServer) -> None:
    server = two_workers
    assert len(_workers(server.process.pid)) == 2
    account = server.new_account()
    headers = account.headers()
    for _ in range(REQUESTS):
        assert _fresh(server, f"/api/fota/v3/licenses/{account.name}", headers).status_code == 200
    # Each worker counts what it answered. A count short of the whole means the other answered the rest; two
    # different counts add up to the whole (two equal ones are both half of it).
    counts: set[float] = set()
    for _ in range(60):
        for line in _fresh(server, "/metrics").text.splitlines():
            if line.startswith("fota_http_requests_total") and LICENSES_ROUTE in line and 'status="200"' in line:
                counts.add(float(line.rsplit(" ", 1)[1]))
        if len(counts) == 2:
            break
    assert counts and max(counts) < REQUESTS, counts
    assert sum(counts) == REQUESTS if len(counts) == 2 else counts == {REQUESTS / 2}, counts

    r = httpx.post(f"{server.base_url}/api/m2m/v1/session/logout", headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    # Whichever worker each connection reaches, the ended session is refused (the other heard the logout).
    _wait_for(
        lambda: all(
            _fresh(server, f"/api/fota/v3/licenses/{account.name}", headers).status_code == 401 for _ in range(20)
        ),
        "every worker refusing the ended session",
    )


def test_the_workers_stop_with_the_parent(two_workers: RunningServer) -> None:
    workers = _workers(two_workers.process.pid)
    two_workers.process.send_signal(signal.SIGTERM)
    assert two_workers.process.wait(timeout=WAIT) == 0
    _wait_for(lambda: not any(_alive(pid) for pid in workers), "the workers' exit")


def test_a_dying_worker_takes_the_whole_down(two_workers: RunningServer) -> None:
    first, second = _workers(two_workers.process.pid)
    os.kill(second, signal.SIGKILL)
    assert two_workers.process.wait(timeout=WAIT) != 0  # for its supervisor to restart
    _wait_for(lambda: not _alive(first), "the other worker's exit")


def test_several_workers_need_postgresql(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["serve", "--workers", "2", "--database", f"sqlite:///{tmp_path}/fota.db"])
    assert result.exit_code == 2
    assert re.search(r"several workers need\s+PostgreSQL", result.output), result.output
