"""The brute-force limit across two API processes on one PostgreSQL database: failures sent to either process count
towards one limit (N in total, not N per process), the lock-out survives restarting both, and it ends on the shared
simulated clock.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningServer, _free_port, _launch, _retire, start_server
from tests.faults.test_brute_force import IDENTITY_LIMIT, WINDOW, login, retry_after, token_request

pytestmark = [pytest.mark.slow, pytest.mark.serial]  # several processes: alone on the machine


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[RunningServer, RunningServer]]:
    first = start_server("postgresql", tmp_path, "--shared-clock")
    args = list(first.args)
    port = _free_port()
    args[args.index("--port") + 1] = str(port)
    args += ["--role", "api"]  # the second process serves the API only: no CoAP ports to share
    process = _launch(args, first.env, tmp_path / "second.log", tmp_path)
    assert process is not None
    log = tmp_path / "second.log"
    url = f"http://127.0.0.1:{port}"
    second = RunningServer(url, first.admin_token, "postgresql", first.database_url, process, log)
    second.args, second.env = args, first.env
    try:
        yield first, second
    finally:
        _retire([second, first], first.database_url.rsplit("/", 1)[1])


def test_the_limit_holds_across_processes_and_restarts(pair: tuple[RunningServer, RunningServer]) -> None:
    first, second = pair
    account = first.new_account()
    for attempt in range(IDENTITY_LIMIT):  # alternating: each process sees only half of the failures
        target = (first, second)[attempt % 2]
        assert token_request(target, account.client_id, "wrong-" + secrets.token_hex(4)).status_code == 401
    for target in (first, second):
        retry_after(token_request(target, account.client_id, account.client_secret))

    other = first.new_account()  # another account's user: the client lock-out above does not interfere
    bearer = other.token()
    for attempt in range(IDENTITY_LIMIT):
        target = (second, first)[attempt % 2]
        assert login(target, bearer, other.username, "wrong").status_code == 400
    retry_after(login(first, bearer, other.username, other.password))

    for server in (first, second):
        server.kill()
    for server in (first, second):
        server.restart()
    for target in (first, second):
        wait = retry_after(token_request(target, account.client_id, account.client_secret))
        retry_after(login(target, bearer, other.username, other.password))
    assert wait <= WINDOW
    first.advance(WINDOW + 1)  # the shared clock: both processes see the failures age out
    for target in (second, first):
        assert token_request(target, account.client_id, account.client_secret).status_code == 200
        assert login(target, bearer, other.username, other.password).status_code == 200
