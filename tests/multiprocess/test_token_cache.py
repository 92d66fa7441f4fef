"""Validated tokens are cached in each API process, and a revocation reaches every process's cache at once.

Two `--role api` processes share one PostgreSQL database. The simulated clock never moves here, so a cache that
missed a revocation would go on answering for ever: only the notification can make the second process refuse.
"""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import BACKENDS, RunningServer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.serial,  # several processes: alone on the machine
    pytest.mark.skipif("postgresql" not in BACKENDS, reason="several processes need PostgreSQL"),
]

WAIT = 10.0


def _licenses(server: RunningServer, account_name: str, headers: dict[str, str]) -> int:
    return httpx.get(f"{server.base_url}/api/fota/v3/licenses/{account_name}", headers=headers, timeout=30).status_code


def _refused_within(server: RunningServer, account_name: str, headers: dict[str, str]) -> bool:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if _licenses(server, account_name, headers) == 401:
            return True
        time.sleep(0.05)
    return False


def _listening(server: RunningServer, account_name: str, headers: dict[str, str]) -> None:
    """The cache serves only while the process hears revocations; wait until it does, and has cached the tokens."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        assert _licenses(server, account_name, headers) == 200
        if "listening for notifications" in server.log_path.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"the token cache never went live:\n{server.log_path.read_text()}")


def test_logout_in_one_process_is_refused_by_the_other(two_api_processes: tuple[RunningServer, RunningServer]) -> None:
    first, second = two_api_processes
    account = first.new_account()
    headers = account.headers()
    _listening(second, account.name, headers)
    assert _licenses(second, account.name, headers) == 200  # served from the second process's cache now

    r = httpx.post(f"{first.base_url}/api/m2m/v1/session/logout", headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    assert _licenses(first, account.name, headers) == 401
    assert _refused_within(second, account.name, headers), "the second process still accepts the ended session"


def test_a_revoked_client_is_refused_by_every_process(two_api_processes: tuple[RunningServer, RunningServer]) -> None:
    first, second = two_api_processes
    account = first.new_account()
    headers = account.headers()
    _listening(second, account.name, headers)
    assert _licenses(first, account.name, headers) == 200

    r = first.admin.delete(f"/accounts/{account.name}/clients/{account.client_id}")
    assert r.status_code == 200, r.text
    assert r.json() == {"clientId": account.client_id, "revokedTokens": 1}
    assert _licenses(first, account.name, headers) == 401
    assert _refused_within(second, account.name, headers), "the second process still accepts the client's token"
    r = httpx.post(
        f"{second.base_url}/api/ts/v1/oauth2/token",
        auth=(account.client_id, account.client_secret),
        data={"grant_type": "client_credentials"},
        timeout=30,
    )
    assert r.status_code == 401, r.text
    assert first.admin.delete(f"/accounts/{account.name}/clients/{account.client_id}").status_code == 404
