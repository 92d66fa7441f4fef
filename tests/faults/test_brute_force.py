"""Brute force on the OAuth token endpoint, the session login and the console sign-in: failures are counted per
client id, per username (the login and the console share it) and per remote address on the server's clock; past the
limit the answer is 429 with Retry-After, even for the right secret, until the failures age out of the 5-minute
window (docs/behaviour.md, services/throttle.py). In memory on SQLite, in a shared table on PostgreSQL.

Every request comes from 127.0.0.1, so each test first moves the simulated clock past the window: the address's
count starts from zero.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import BACKENDS, Account, RunningServer, _stop_and_cleanup, start_server

TOKEN_URL = "/api/ts/v1/oauth2/token"
LOGIN_URL = "/api/m2m/v1/session/login"
IDENTITY_LIMIT = 10
ADDRESS_LIMIT = 50
WINDOW = 300


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(request.param, Path(tmp_path_factory.mktemp(f"brute-force-{request.param}")))
    yield running
    _stop_and_cleanup(running)


@pytest.fixture
def account(server: RunningServer) -> Account:
    server.advance(WINDOW + 1)  # earlier tests' failures from this address have aged out
    return server.new_account()


def token_request(server: RunningServer, client_id: str, secret: str) -> httpx.Response:
    return httpx.post(server.base_url + TOKEN_URL, auth=(client_id, secret), data={"grant_type": "client_credentials"})


def login(server: RunningServer, bearer: str, username: str, password: str) -> httpx.Response:
    return httpx.post(
        server.base_url + LOGIN_URL,
        headers={"Authorization": f"Bearer {bearer}"},
        json={"username": username, "password": password},
    )


def console_sign_in(server: RunningServer, account: str, username: str, password: str) -> httpx.Response:
    """The sign-in form posted as a browser would: the CSRF token comes from the form page's cookie."""
    form = httpx.get(f"{server.base_url}/console/sign-in")
    token = form.cookies["fota_console_signin"]
    return httpx.post(
        f"{server.base_url}/console/sign-in",
        headers={"Cookie": f"fota_console_signin={token}"},
        data={"account": account, "username": username, "password": password, "csrf_token": token},
    )


def retry_after(r: httpx.Response) -> int:
    assert r.status_code == 429, r.text
    value = int(r.headers["Retry-After"])
    assert 0 < value <= WINDOW, value
    return value


def test_token_failures_lock_the_client_out_then_age_out(server: RunningServer, account: Account) -> None:
    for _ in range(IDENTITY_LIMIT):
        assert token_request(server, account.client_id, "wrong-" + secrets.token_hex(4)).status_code == 401
    locked = token_request(server, account.client_id, account.client_secret)  # the right secret, too late
    wait = retry_after(locked)
    assert locked.json()["error"] == "too_many_requests", locked.text
    assert "access_token" not in locked.json()

    other = server.new_account()  # another client from the same address is not locked out
    assert token_request(server, other.client_id, other.client_secret).status_code == 200

    server.advance(wait - 2)
    assert token_request(server, account.client_id, account.client_secret).status_code == 429
    server.advance(2)
    assert token_request(server, account.client_id, account.client_secret).status_code == 200


def test_unknown_client_ids_are_counted_too(server: RunningServer, account: Account) -> None:
    ghost = "ghost-" + uuid.uuid4().hex
    for _ in range(IDENTITY_LIMIT):
        assert token_request(server, ghost, "x").status_code == 401
    retry_after(token_request(server, ghost, "x"))


def test_login_failures_lock_the_user_out_then_age_out(server: RunningServer, account: Account) -> None:
    bearer = account.token()
    for _ in range(IDENTITY_LIMIT):
        r = login(server, bearer, account.username, "wrong-" + secrets.token_hex(4))
        assert r.status_code == 400 and r.json()["errorCode"] == "InvalidCredentials", r.text
    locked = login(server, bearer, account.username, account.password)
    wait = retry_after(locked)
    assert locked.json() == {"errorCode": "TooManyRequests", "errorMessage": locked.json()["errorMessage"]}

    other = server.new_account()
    other_bearer = other.token()
    assert login(server, other_bearer, other.username, other.password).status_code == 200

    server.advance(wait)
    assert login(server, bearer, account.username, account.password).status_code == 200


def test_many_identities_from_one_address_lock_the_address_out(server: RunningServer, account: Account) -> None:
    """A guesser spreading failures over many client ids is stopped by the per-address count."""
    for _ in range(ADDRESS_LIMIT):
        assert token_request(server, "spray-" + uuid.uuid4().hex, "x").status_code == 401
    # Now even a valid client from the same address waits; a login attempt too.
    wait = retry_after(token_request(server, account.client_id, account.client_secret))
    server.advance(wait)
    assert token_request(server, account.client_id, account.client_secret).status_code == 200


def test_successes_are_never_throttled(server: RunningServer, account: Account) -> None:
    for _ in range(3 * IDENTITY_LIMIT):
        assert token_request(server, account.client_id, account.client_secret).status_code == 200


def test_console_sign_in_is_throttled_with_the_session_login(server: RunningServer, account: Account) -> None:
    half = IDENTITY_LIMIT // 2
    for _ in range(half):
        assert console_sign_in(server, account.name, account.username, "wrong").status_code == 400
    bearer = account.token()
    for _ in range(IDENTITY_LIMIT - half):  # the same user's guesses through the API count towards the same limit
        assert login(server, bearer, account.username, "wrong").status_code == 400
    locked = console_sign_in(server, account.name, account.username, account.password)
    wait = retry_after(locked)
    assert "Too many failed sign-ins" in locked.text and "fota_console=" not in locked.headers.get("set-cookie", "")
    retry_after(login(server, bearer, account.username, account.password))
    server.advance(wait)
    signed_in = console_sign_in(server, account.name, account.username, account.password)
    assert signed_in.status_code == 303 and "fota_console=" in signed_in.headers["set-cookie"], signed_in.text
