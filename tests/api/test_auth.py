"""Authentication and authorisation at the edges of the API, over HTTP to the app in this process.

Every v3 route of the contract (§4, plus the `/reports/{acc}/campaigns` alias of row 17), every v2 route (§5, the
three `/licenses/{acc}/cancel` routes among them) and every v1 route (§6) are driven from one route table through
each way a caller can fail to prove who it is (401) or prove to be someone else (403). Then the token and session
endpoints themselves, the logout, and the admin API's own guard.

Error bodies are held to docs/behaviour.md: exactly `{"errorCode", "errorMessage"}`, both strings, except the
OAuth token endpoint, which answers `{"error", "error_description"}`.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import BACKENDS, _stop_and_cleanup, start_in_process
from tests.fota_server import Account, FotaServer
from tests.in_process import InProcessServer

V3 = "/api/fota/v3"
V2 = "/api/fota/v2"
V1 = "/api/fota/v1"
TOKEN_URL = "/api/ts/v1/oauth2/token"
LOGIN_URL = "/api/m2m/v1/session/login"
LOGOUT_URL = "/api/m2m/v1/session/logout"
TOKEN_LIFETIME = 3600


def luhn_imei() -> str:
    """A random 15-digit IMEI with a valid Luhn check digit."""
    body = f"35{secrets.randbelow(10**12):012d}"
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return body + str((10 - total % 10) % 10)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    body: dict[str, Any] | None = None


CAMPAIGN_BODY = {
    "firmwareName": "{fw}",
    "firmwareFrom": "{fw_from}",
    "firmwareTo": "{fw_to}",
    "protocol": "LWM2M",
    "startDate": "{start}",
    "endDate": "{end}",
    "deviceList": ["{imei2}"],
    "autoAssignLicenseFlag": True,
    "autoAddDevicesFlag": False,
    "campaignName": "auth check",
    "campaignTimeWindowList": [{"startTime": 1, "endTime": 5}, {"startTime": 18, "endTime": 22}],
}

# Every v1 route of the contract (§6); the upgrade of `{cid}` is the v3 campaign: a v1 upgrade is a campaign.
V1_ROUTES = [
    Route("GET", V1 + "/subscriptions/{acc}"),
    Route("GET", V1 + "/licenses/{acc}/index/0"),
    Route("POST", V1 + "/licenses/{acc}/assign", {"deviceList": ["{imei}"]}),
    Route("POST", V1 + "/licenses/{acc}/remove", {"deviceList": ["{imei}"]}),
    Route("POST", V1 + "/licenses/{acc}/cancel", {"deviceList": ["{imei}"]}),
    Route("DELETE", V1 + "/licenses/{acc}/cancel"),
    Route("GET", V1 + "/licenses/{acc}/cancel/index/0"),
    Route("GET", V1 + "/firmware/{acc}"),
    Route(
        "POST",
        V1 + "/upgrades",
        {
            "accountName": "{acc}",
            "firmwareName": "{fw}",
            "firmwareTo": "{fw_to}",
            "startDate": "{start}",
            "endDate": "{end}",
            "deviceList": ["{imei2}"],
        },
    ),
    Route("GET", V1 + "/upgrades/{acc}/upgrade/{cid}"),
    Route("PUT", V1 + "/upgrades/{acc}/upgrade/{cid}", {"type": "append", "deviceList": ["{imei2}"]}),
    Route("DELETE", V1 + "/upgrades/{acc}/upgrade/{cid}"),
    Route("GET", V1 + "/callbacks/{acc}"),
    Route("POST", V1 + "/callbacks/{acc}", {"name": "Fota", "url": "https://callbacks.example.com/v1"}),
    Route("DELETE", V1 + "/callbacks/{acc}/name/Fota"),
    Route("GET", V1 + "/devices/{acc}/index/0"),
    Route("GET", V1 + "/reports/{acc}/status/Queued/index/0"),
    Route("GET", V1 + "/reports/{acc}/devices/{imei}"),
]

ROUTES = [
    Route("GET", V3 + "/subscriptions/{acc}"),
    Route("GET", V3 + "/licenses/{acc}"),
    Route("POST", V3 + "/licenses/{acc}/assign", {"deviceList": ["{imei}"]}),
    Route("POST", V3 + "/licenses/{acc}/remove", {"deviceList": ["{imei}"]}),
    Route("POST", V3 + "/campaigns/firmware/{acc}", CAMPAIGN_BODY),
    Route("PUT", V3 + "/campaigns/firmware/{acc}/{cid}", {"Type": "append", "deviceList": ["{imei2}"]}),
    Route(
        "PUT",
        V3 + "/campaigns/firmware/{acc}/{cid}/dates",
        {
            "startDate": "{start}",
            "endDate": "{end}",
            "campaignTimeWindowList": [{"startTime": 2, "endTime": 6}],
        },
    ),
    Route("GET", V3 + "/campaigns/{acc}/{cid}"),
    Route("DELETE", V3 + "/campaigns/{acc}/{cid}"),
    Route("GET", V3 + "/firmware/{acc}?protocol=LWM2M"),
    Route("PUT", V3 + "/firmware/{acc}/devices", {"deviceList": ["{imei}"]}),
    Route("PUT", V3 + "/firmware/{acc}/async/{imei}"),
    Route("GET", V3 + "/callbacks/{acc}"),
    Route("POST", V3 + "/callbacks/{acc}", {"url": "https://callbacks.example.com/fota"}),
    Route("PUT", V3 + "/callbacks/{acc}", {"url": "https://callbacks.example.com/fota2"}),
    Route("DELETE", V3 + "/callbacks/{acc}"),
    Route("GET", V3 + "/reports/{acc}/firmware/campaigns?campaignStatus=CampaignRequestQueued"),
    Route("GET", V3 + "/reports/{acc}/campaigns?campaignStatus=CampaignRequestQueued"),
    Route("GET", V3 + "/reports/{acc}/devices/{imei}"),
    Route("GET", V3 + "/reports/{acc}/campaigns/{cid}/devices"),
    Route("GET", V3 + "/devices/{acc}?protocol=LWM2M"),
    Route("POST", V3 + "/devices/{acc}", {"deviceList": ["{imei}"]}),
    Route("GET", V2 + "/licenses/{acc}/cancel"),
    Route("POST", V2 + "/licenses/{acc}/cancel", {"deviceList": ["{imei}"]}),
    Route("DELETE", V2 + "/licenses/{acc}/cancel"),
    *V1_ROUTES,
]
SOFTWARE_BODY = {
    "softwareName": "{fw}",
    "softwareFrom": "{fw_from}",
    "softwareTo": "{fw_to}",
    "distributionType": "LWM2M",
    "startDate": "{start}",
    "endDate": "{end}",
    "deviceList": ["{imei2}"],
    "campaignName": "auth check v2",
    "downloadTimeWindowList": [{"startTime": 1, "endTime": 5}],
    "installTimeWindowList": [{"startTime": 18, "endTime": 22}],
}
TEXT_SCHEDULE = {
    "distributionType": "LWM2M",
    "startDate": "{start}",
    "endDate": "{end}",
    "deviceList": ["{imei2}"],
    "downloadTimeWindowList": [{"startTime": "1", "endTime": "5"}],
}
# Every v2 operation of the contract (§5) besides the cancel list above.
V2_ROUTES = [
    Route("GET", V2 + "/subscriptions/{acc}"),
    Route("GET", V2 + "/licenses/{acc}"),
    Route("POST", V2 + "/licenses/{acc}/assign", {"deviceList": ["{imei}"]}),
    Route("POST", V2 + "/licenses/{acc}/remove", {"deviceList": ["{imei}"]}),
    Route("POST", V2 + "/campaigns/{acc}", SOFTWARE_BODY),
    Route("GET", V2 + "/campaigns/{acc}/{cid}"),
    Route("PUT", V2 + "/campaigns/{acc}/{cid}", {"Type": "append", "deviceList": ["{imei2}"]}),
    Route(
        "PUT",
        V2 + "/campaigns/{acc}/{cid}/dates",
        {"startDate": "{start}", "endDate": "{end}", "downloadTimeWindowList": [{"startTime": 1, "endTime": 5}]},
    ),
    Route("DELETE", V2 + "/campaigns/{acc}/{cid}"),
    Route("POST", V2 + "/campaigns/files/{acc}", {**TEXT_SCHEDULE, "fileName": "{fw}", "fileVersion": "1"}),
    Route(
        "POST",
        V2 + "/campaigns/software/{acc}",
        {**TEXT_SCHEDULE, "softwareName": "{fw}", "softwareFrom": "{fw_from}", "softwareTo": "{fw_to}"},
    ),
    Route("GET", V2 + "/callbacks/{acc}"),
    Route("POST", V2 + "/callbacks/{acc}", {"url": "https://callbacks.example.com/fota-v2"}),
    Route("PUT", V2 + "/callbacks/{acc}", {"url": "https://callbacks.example.com/fota-v2b"}),
    Route("DELETE", V2 + "/callbacks/{acc}"),
    Route("GET", V2 + "/software/{acc}?distributionType=LWM2M"),
    Route("GET", V2 + "/devices/{acc}"),
    Route("GET", V2 + "/reports/{acc}/devices/{imei}"),
    Route("GET", V2 + "/reports/{acc}/campaigns?campaignStatus=CampaignRequestQueued"),
    Route("GET", V2 + "/reports/{acc}/campaigns/{cid}/devices"),
    Route("GET", V2 + "/logging/{acc}/devices"),
    Route("PUT", V2 + "/logging/{acc}/devices", {"deviceIds": ["{imei}"]}),
    Route("DELETE", V2 + "/logging/{acc}/devices?deviceIds={imei}"),
    Route("PUT", V2 + "/logging/{acc}/devices/{imei}"),
    Route("DELETE", V2 + "/logging/{acc}/devices/{imei}"),
    Route("GET", V2 + "/logging/{acc}/devices/{imei}/logs"),
    Route("GET", V2 + "/logging/{acc}/devices/{imei}/checkInHistory"),
    Route("GET", V2 + "/files/{acc}?distributionType=HTTP"),
    Route("POST", V2 + "/files/{acc}"),
]
ROUTES += V2_ROUTES
ROUTE_PARAMS = [pytest.param(r, id=f"{r.method} {r.path.split('?')[0]}") for r in ROUTES]


def fill(value: Any, ctx: dict[str, str]) -> Any:
    """Format every string of a route template with the context's values."""
    if isinstance(value, str):
        return value.format(**ctx)
    if isinstance(value, list):
        return [fill(v, ctx) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, ctx) for k, v in value.items()}
    return value


@dataclass
class Target:
    """An account with a device, a second device and a queued campaign: the things the route table names."""

    server: FotaServer
    account: Account
    ctx: dict[str, str]

    def call(self, route: Route, headers: dict[str, str], **overrides: str) -> httpx.Response:
        ctx = {**self.ctx, **overrides}
        kwargs: dict[str, Any] = {"headers": headers}
        if route.body is not None:
            kwargs["json"] = fill(route.body, ctx)
        return self.server.http.request(route.method, fill(route.path, ctx), **kwargs)


def make_target(server: FotaServer, with_campaign: bool = True) -> Target:
    account = server.new_account()
    fw = server.new_firmware()
    imei, imei2 = luhn_imei(), luhn_imei()
    account.add_devices(
        [
            {
                "deviceId": d,
                "mdn": f"{secrets.randbelow(10**10):010d}",
                "make": fw["make"],
                "model": fw["model"],
                "firmware": fw["firmwareFrom"],
                "protocol": "LWM2M",
            }
            for d in (imei, imei2)
        ]
    )
    today = server.now().date()
    ctx = {
        "acc": account.name,
        "imei": imei,
        "imei2": imei2,
        "fw": fw["firmwareName"],
        "fw_from": fw["firmwareFrom"],
        "fw_to": fw["firmwareTo"],
        "start": (today + timedelta(days=3)).isoformat(),
        "end": (today + timedelta(days=6)).isoformat(),
        "cid": str(uuid.uuid4()),
    }
    if with_campaign:
        body = fill({**CAMPAIGN_BODY, "deviceList": ["{imei}"]}, ctx)
        r = server.http.post(f"{V3}/campaigns/firmware/{account.name}", json=body, headers=account.headers())
        assert r.status_code == 200, r.text
        ctx["cid"] = r.json()["id"]
    return Target(server, account, ctx)


def assert_error(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response has `status` and exactly the `{errorCode, errorMessage}` body of docs/behaviour.md."""
    where = f"{r.request.method} {r.request.url.path}"
    assert r.status_code == status, f"{where}: expected {status}, got {r.status_code} {r.text}"
    try:
        body = r.json()
    except ValueError:
        pytest.fail(f"{where}: error body is not JSON: {r.text!r}")
    assert isinstance(body, dict), f"{where}: error body is not an object: {body!r}"
    assert set(body) == {"errorCode", "errorMessage"}, f"{where}: error body keys {sorted(body)}"
    assert isinstance(body["errorCode"], str) and body["errorCode"], body
    assert isinstance(body["errorMessage"], str) and body["errorMessage"].strip(), body
    if code is not None:
        assert body["errorCode"] == code, f"{where}: {body}"
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ----------------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="session")
def server(in_process_server: InProcessServer) -> InProcessServer:
    """Nothing here needs a socket: this module's server is the app in this process (tests/in_process.py)."""
    return in_process_server


@pytest.fixture(scope="module")
def target(server: FotaServer) -> Target:
    return make_target(server)


@pytest.fixture(scope="module")
def tokens(target: Target) -> dict[str, str]:
    """A valid bearer token and session token of the target account."""
    token = target.account.token()
    return {"bearer": token, "session": target.account.session(token)}


@pytest.fixture(scope="module")
def other_account(server: FotaServer) -> Account:
    return server.new_account()


@pytest.fixture(scope="module")
def other_headers(other_account: Account) -> dict[str, str]:
    return other_account.headers()


@dataclass
class ExpiredTokens:
    target: Target
    old: dict[str, str]  # bearer and session issued more than an hour ago
    fresh: dict[str, str]  # bearer and session issued after the clock moved
    status_just_before_expiry: int


@pytest.fixture(scope="module", params=BACKENDS)
def expired(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExpiredTokens]:
    """One private server for the whole expired-token group: tokens issued, then the clock moved past 1 h."""
    running = start_in_process(request.param, tmp_path_factory.mktemp(f"expired-{request.param}"))
    try:
        target = make_target(running, with_campaign=False)
        old_bearer = target.account.token()
        old = {"bearer": old_bearer, "session": target.account.session(old_bearer)}
        running.advance(TOKEN_LIFETIME - 60)
        probe = running.http.get(
            f"{V3}/subscriptions/{target.account.name}",
            headers={**bearer(old["bearer"]), "VZ-M2M-Token": old["session"]},
        )
        running.advance(61)
        fresh_bearer = target.account.token()
        fresh = {"bearer": fresh_bearer, "session": target.account.session(fresh_bearer)}
        yield ExpiredTokens(target, old, fresh, probe.status_code)
    finally:
        _stop_and_cleanup(running)


# ----------------------------------------------------------------------------------------------------
# Every route: who you are


@pytest.mark.parametrize("route", ROUTE_PARAMS)
def test_request_without_authorization_is_401(target: Target, tokens: dict[str, str], route: Route) -> None:
    assert_error(target.call(route, {"VZ-M2M-Token": tokens["session"]}), 401, "Unauthorized")


@pytest.mark.parametrize("route", ROUTE_PARAMS)
def test_request_without_any_token_is_401(target: Target, route: Route) -> None:
    assert_error(target.call(route, {}), 401, "Unauthorized")


@pytest.mark.parametrize("route", ROUTE_PARAMS)
def test_bearer_without_m2m_token_is_401(target: Target, tokens: dict[str, str], route: Route) -> None:
    assert_error(target.call(route, bearer(tokens["bearer"])), 401, "Unauthorized")


GARBAGE: list[tuple[str, Callable[[dict[str, str]], dict[str, str]]]] = [
    (
        "garbage-bearer",
        lambda t: {**bearer("not-a-token-" + secrets.token_hex(8)), "VZ-M2M-Token": t["session"]},
    ),
    (
        "garbage-session",
        lambda t: {**bearer(t["bearer"]), "VZ-M2M-Token": "not-a-session-" + secrets.token_hex(8)},
    ),
    (
        "both-garbage",
        lambda t: {**bearer(secrets.token_urlsafe(32)), "VZ-M2M-Token": secrets.token_urlsafe(32)},
    ),
    ("swapped", lambda t: {**bearer(t["session"]), "VZ-M2M-Token": t["bearer"]}),
    ("empty-bearer", lambda t: {"Authorization": "Bearer", "VZ-M2M-Token": t["session"]}),
    (
        "basic-scheme",
        lambda t: {
            "Authorization": "Basic " + base64.b64encode(b"x:y").decode(),
            "VZ-M2M-Token": t["session"],
        },
    ),
    ("bearer-scheme-only", lambda t: {"Authorization": t["bearer"], "VZ-M2M-Token": t["session"]}),
]


@pytest.mark.parametrize("headers", [pytest.param(h, id=name) for name, h in GARBAGE])
@pytest.mark.parametrize("route", ROUTE_PARAMS)
def test_garbage_tokens_are_401(
    target: Target, tokens: dict[str, str], route: Route, headers: Callable[[dict[str, str]], dict[str, str]]
) -> None:
    assert_error(target.call(route, headers(tokens)), 401, "Unauthorized")


@pytest.mark.parametrize("route", ROUTE_PARAMS)
def test_tokens_of_another_account_are_403(target: Target, other_headers: dict[str, str], route: Route) -> None:
    assert_error(target.call(route, other_headers), 403, "Forbidden")


@pytest.mark.parametrize("route", ROUTE_PARAMS)
def test_nonexistent_account_in_path_is_403(target: Target, tokens: dict[str, str], route: Route) -> None:
    ghost = f"{secrets.randbelow(10**10):010d}-{secrets.randbelow(10**5):05d}"
    headers = {**bearer(tokens["bearer"]), "VZ-M2M-Token": tokens["session"]}
    assert_error(target.call(route, headers, acc=ghost), 403, "Forbidden")


@pytest.mark.parametrize("route", ROUTE_PARAMS)
def test_bearer_and_session_of_different_accounts_are_refused(
    target: Target, tokens: dict[str, str], other_headers: dict[str, str], route: Route
) -> None:
    mixed = {**bearer(tokens["bearer"]), "VZ-M2M-Token": other_headers["VZ-M2M-Token"]}
    r = target.call(route, mixed)
    assert r.status_code in (401, 403), f"{route.method} {route.path}: {r.status_code} {r.text}"
    assert_error(r, r.status_code)


def test_refused_calls_changed_nothing(server: FotaServer, target: Target) -> None:
    """Runs after the refusals above: the campaign is still queued; nothing was licensed, registered, made."""
    with target.account.client() as api:
        campaign = api.get(f"/campaigns/{target.account.name}/{target.ctx['cid']}")
        assert campaign.status_code == 200, campaign.text
        assert campaign.json()["status"] in ("CampaignQueued", "CampaignRequestQueued"), campaign.json()
        devices = api.get(f"/reports/{target.account.name}/campaigns/{target.ctx['cid']}/devices").json()
        assert [d["deviceId"] for d in devices["deviceList"]] == [target.ctx["imei"]], devices
        licenses = api.get(f"/licenses/{target.account.name}").json()
        assert {d["deviceId"] for d in licenses.get("deviceList") or []} == {target.ctx["imei"]}, licenses
        callback = api.get(f"/callbacks/{target.account.name}")
        assert callback.status_code in (200, 404), callback.text
        if callback.status_code == 200:
            assert not callback.json().get("url"), callback.json()
    with server.client(headers=target.account.headers()) as v2:
        cancel = v2.get(f"{V2}/licenses/{target.account.name}/cancel").json()
        assert not cancel.get("deviceList"), cancel


@pytest.fixture(scope="module")
def control(server: FotaServer) -> tuple[Target, dict[str, str]]:
    """A second target for the positive control, with its headers."""
    fresh = make_target(server)
    return fresh, fresh.account.headers()


@pytest.mark.parametrize("route", ROUTE_PARAMS)
def test_valid_tokens_pass_the_gate_on_every_route(control: tuple[Target, dict[str, str]], route: Route) -> None:
    """The positive control: the same route table with the right tokens is routed and authorised."""
    fresh, headers = control
    if "/callbacks/" in route.path and route.method != "POST":  # these need a registered callback
        r = fresh.server.http.post(
            f"{V3}/callbacks/{fresh.account.name}",
            json={"url": "https://callbacks.example.com/first"},
            headers=headers,
        )
        assert r.status_code == 200, r.text
    r = fresh.call(route, headers)
    assert r.status_code not in (401, 403, 404, 405) and r.status_code < 500, (
        f"{route.method} {route.path}: {r.status_code} {r.text}"
    )


# ----------------------------------------------------------------------------------------------------
# Every route: expired tokens (one private server whose clock moved past the tokens' hour)


def test_tokens_stay_valid_until_their_hour_is_over(expired: ExpiredTokens) -> None:
    assert expired.status_just_before_expiry == 200


def test_tokens_issued_after_the_clock_moved_work(expired: ExpiredTokens) -> None:
    fresh = {**bearer(expired.fresh["bearer"]), "VZ-M2M-Token": expired.fresh["session"]}
    r = expired.target.call(ROUTES[0], fresh)
    assert r.status_code == 200, r.text


EXPIRED_PAIRS: list[tuple[str, Callable[[ExpiredTokens], dict[str, str]]]] = [
    ("both-expired", lambda e: {**bearer(e.old["bearer"]), "VZ-M2M-Token": e.old["session"]}),
    ("expired-bearer", lambda e: {**bearer(e.old["bearer"]), "VZ-M2M-Token": e.fresh["session"]}),
    ("expired-session", lambda e: {**bearer(e.fresh["bearer"]), "VZ-M2M-Token": e.old["session"]}),
]


@pytest.mark.parametrize("headers", [pytest.param(h, id=name) for name, h in EXPIRED_PAIRS])
@pytest.mark.parametrize("route", ROUTE_PARAMS)
def test_expired_tokens_are_401(
    expired: ExpiredTokens, route: Route, headers: Callable[[ExpiredTokens], dict[str, str]]
) -> None:
    assert_error(expired.target.call(route, headers(expired)), 401, "Unauthorized")


def test_expired_bearer_cannot_open_a_session(expired: ExpiredTokens) -> None:
    account = expired.target.account
    r = expired.target.server.http.post(
        LOGIN_URL,
        headers=bearer(expired.old["bearer"]),
        json={"username": account.username, "password": account.password},
    )
    assert_error(r, 401)


# ----------------------------------------------------------------------------------------------------
# The OAuth token endpoint


def test_token_with_valid_client_credentials_is_a_bearer_token(target: Target) -> None:
    account = target.account
    r = target.server.http.post(
        TOKEN_URL,
        auth=(account.client_id, account.client_secret),
        data={"grant_type": "client_credentials"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert isinstance(body["access_token"], str) and body["access_token"]
    assert body["token_type"].lower() == "bearer"
    assert body["expires_in"] == TOKEN_LIFETIME


def assert_oauth_error(r: httpx.Response, status: int, error: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert isinstance(body, dict), body
    assert body.get("error") == error, body
    assert isinstance(body.get("error_description"), str) and body["error_description"], body
    assert "access_token" not in body


def test_token_with_bad_client_secret_is_401_invalid_client(target: Target) -> None:
    r = target.server.http.post(
        TOKEN_URL,
        auth=(target.account.client_id, "wrong-secret"),
        data={"grant_type": "client_credentials"},
    )
    assert_oauth_error(r, 401, "invalid_client")


def test_token_with_unknown_client_is_401_invalid_client(target: Target) -> None:
    r = target.server.http.post(
        TOKEN_URL,
        auth=("no-such-client-" + uuid.uuid4().hex, "secret"),
        data={"grant_type": "client_credentials"},
    )
    assert_oauth_error(r, 401, "invalid_client")


def test_token_without_client_authentication_is_401_invalid_client(target: Target) -> None:
    r = target.server.http.post(TOKEN_URL, data={"grant_type": "client_credentials"})
    assert_oauth_error(r, 401, "invalid_client")


def test_token_without_grant_type_is_400_invalid_request(target: Target) -> None:
    credentials = (target.account.client_id, target.account.client_secret)
    r = target.server.http.post(TOKEN_URL, auth=credentials, data={"scope": "fota"})
    assert_oauth_error(r, 400, "invalid_request")


@pytest.mark.parametrize("grant_type", ["password", "authorization_code", "refresh_token", "nonsense"])
def test_token_with_wrong_grant_type_is_400_unsupported_grant_type(target: Target, grant_type: str) -> None:
    credentials = (target.account.client_id, target.account.client_secret)
    r = target.server.http.post(TOKEN_URL, auth=credentials, data={"grant_type": grant_type})
    assert_oauth_error(r, 400, "unsupported_grant_type")


# ----------------------------------------------------------------------------------------------------
# Session login and logout


def login(target: Target, headers: dict[str, str], username: str, password: str) -> httpx.Response:
    return target.server.http.post(LOGIN_URL, headers=headers, json={"username": username, "password": password})


def test_login_without_bearer_is_401(target: Target) -> None:
    assert_error(login(target, {}, target.account.username, target.account.password), 401, "Unauthorized")


def test_login_with_garbage_bearer_is_401(target: Target) -> None:
    r = login(target, bearer(secrets.token_urlsafe(24)), target.account.username, target.account.password)
    assert_error(r, 401, "Unauthorized")


def test_login_with_wrong_password_is_400_invalid_credentials(target: Target, tokens: dict[str, str]) -> None:
    r = login(target, bearer(tokens["bearer"]), target.account.username, "wrong-" + secrets.token_hex(4))
    assert_error(r, 400, "InvalidCredentials")


def test_login_with_unknown_user_is_400_invalid_credentials(target: Target, tokens: dict[str, str]) -> None:
    r = login(target, bearer(tokens["bearer"]), "nobody-" + uuid.uuid4().hex[:8], target.account.password)
    assert_error(r, 400, "InvalidCredentials")


def test_login_with_user_of_another_account_is_400(
    target: Target, tokens: dict[str, str], other_account: Account
) -> None:
    r = login(target, bearer(tokens["bearer"]), other_account.username, other_account.password)
    assert_error(r, 400, "InvalidCredentials")


def test_login_returns_a_session_token(target: Target, tokens: dict[str, str]) -> None:
    r = login(target, bearer(tokens["bearer"]), target.account.username, target.account.password)
    assert r.status_code == 200, r.text
    assert isinstance(r.json()["sessionToken"], str) and r.json()["sessionToken"]


def test_logout_revokes_the_session_token_only(target: Target) -> None:
    account = target.account
    token = account.token()
    doomed, survivor = account.session(token), account.session(token)
    assert doomed != survivor
    subscription = f"{V3}/subscriptions/{account.name}"
    assert target.server.http.get(subscription, headers={**bearer(token), "VZ-M2M-Token": doomed}).status_code == 200

    r = target.server.http.post(LOGOUT_URL, headers={**bearer(token), "VZ-M2M-Token": doomed})
    assert r.status_code == 200, r.text
    assert r.json()["sessionToken"] == doomed

    revoked = target.server.http.get(subscription, headers={**bearer(token), "VZ-M2M-Token": doomed})
    assert_error(revoked, 401, "Unauthorized")
    again = target.server.http.post(LOGOUT_URL, headers={**bearer(token), "VZ-M2M-Token": doomed})
    assert_error(again, 401, "Unauthorized")
    assert target.server.http.get(subscription, headers={**bearer(token), "VZ-M2M-Token": survivor}).status_code == 200


def test_logout_without_session_token_is_401(target: Target, tokens: dict[str, str]) -> None:
    assert_error(target.server.http.post(LOGOUT_URL, headers=bearer(tokens["bearer"])), 401)


# ----------------------------------------------------------------------------------------------------
# The admin API's own guard

ADMIN_ROUTES = [
    ("POST", "/accounts", {"accountName": "{new_acc}", "licenseCount": 5}),
    ("POST", "/accounts/{acc}/clients", {}),
    ("DELETE", "/accounts/{acc}/clients/some-client", None),
    ("POST", "/accounts/{acc}/users", {"username": "{new_user}", "password": "pw-123456"}),
    (
        "POST",
        "/accounts/{acc}/devices",
        {"deviceList": [{"deviceId": "{new_imei}", "make": "M", "model": "X", "firmware": "1", "protocol": "LWM2M"}]},
    ),
    (
        "POST",
        "/firmware",
        {
            "firmwareName": "{new_fw}",
            "make": "M",
            "model": "X",
            "firmwareFrom": "1",
            "firmwareTo": "2",
            "protocol": "LWM2M",
        },
    ),
    ("PUT", "/firmware/{fw}/image", None),
    ("GET", "/firmware/{fw}", None),
    ("POST", "/signing-keys", {"keyId": "{new_fw}", "publicKey": "-----BEGIN PUBLIC KEY-----"}),
    ("GET", "/signing-keys", None),
    ("GET", "/signing-keys/{new_fw}", None),
    ("DELETE", "/signing-keys/{new_fw}", None),
    ("GET", "/accounts/{acc}/signing-policy", None),
    ("PUT", "/accounts/{acc}/signing-policy", {"requireSignedFirmware": True}),
    ("GET", "/clock", None),
    ("POST", "/clock", {"advanceSeconds": 0}),
    ("PUT", "/accounts/{acc}/devices/{imei}/bootstrap", {"bootstrapMode": "nosec"}),
    ("GET", "/accounts/{acc}/devices/{imei}/bootstrap", None),
]
ADMIN_PARAMS = [pytest.param(*r, id=f"{r[0]} {r[1]}") for r in ADMIN_ROUTES]


@pytest.mark.parametrize(
    "auth",
    [
        pytest.param(None, id="no-token"),
        pytest.param("wrong", id="wrong-token"),
        pytest.param("account", id="account-bearer-token"),
    ],
)
@pytest.mark.parametrize(("method", "path", "body"), ADMIN_PARAMS)
def test_admin_api_without_the_admin_token_is_401(
    target: Target,
    tokens: dict[str, str],
    auth: str | None,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    ctx = {
        **target.ctx,
        "new_acc": f"{secrets.randbelow(10**10):010d}-00001",
        "new_user": uuid.uuid4().hex[:8],
        "new_imei": luhn_imei(),
        "new_fw": "fw-" + uuid.uuid4().hex[:8],
    }
    headers: dict[str, str] = {}
    if auth is not None:
        headers = bearer(tokens["bearer"] if auth == "account" else secrets.token_urlsafe(24))
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["json"] = fill(body, ctx)
    elif method == "PUT":
        kwargs["content"] = b"\x00firmware image"
        headers["Content-Type"] = "application/octet-stream"
    r = target.server.http.request(method, f"/admin/v1{fill(path, ctx)}", **kwargs)
    assert_error(r, 401)
    if path == "/accounts":  # nothing was created: the same name is still free for the real admin
        created = target.server.admin.post("/accounts", json=kwargs["json"])
        assert created.status_code == 201, created.text
