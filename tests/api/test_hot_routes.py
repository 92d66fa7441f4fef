"""GET campaign answered in front of the routers (adapters/http/hot_routes.py): the same bytes and headers as the
full route, with and without a rollout, on both databases; everything but a cached caller's success (a token not
cached, a logged-out session, another account's campaign, an unknown one) goes on to the full route."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from starlette.types import Message, Receive, Scope, Send

from fota.adapters.http.api_route import ROUTE_NOTE
from fota.adapters.http.hot_routes import HotRoutes
from fota.adapters.storage.postgresql_campaign_reads import APPLICATION_NAME
from tests.api.test_rollout_api import ROLLOUT, create
from tests.api.test_validation import assert_error
from tests.conftest import Account
from tests.in_process import InProcessServer


class Answer:
    def __init__(self) -> None:
        self.status = 0
        self.headers: dict[bytes, bytes] = {}
        self.body = b""
        self.note: dict[str, str] = {}

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = dict(message["headers"])
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")


def _scope(app: Any, path: str, headers: dict[str, str], query: bytes = b"") -> Scope:
    return {
        "app": app,  # as the application sets it before its middleware
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"testserver"), *((k.lower().encode(), v.encode()) for k, v in headers.items())],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


class FullRoute:
    """Stands for the rest of the app: records that the request went on to it, and answers as the routers do."""

    def __init__(self, routers: Any) -> None:
        self.routers = routers
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        await self.routers(scope, receive, send)


def _call(
    server: InProcessServer, path: str, headers: dict[str, str], query: bytes = b""
) -> tuple[Answer, Answer, int]:
    """The request answered by the hot route (falling through to the routers) and by the routers alone; and how
    many times the hot route went on to the routers."""
    app = server.test_client.app
    routers = behind_the_hot_routes(app.middleware_stack)
    full = FullRoute(routers)
    hot = HotRoutes(full, app.state.parts)
    via_hot, via_routers = Answer(), Answer()
    for answer, handler in ((via_hot, hot), (via_routers, routers)):
        scope = _scope(app, path, headers, query)
        scope[ROUTE_NOTE] = answer.note  # where the metrics middleware learns the route's template
        server.test_client.portal.call(handler, scope, _receive, answer.send)
    return via_hot, via_routers, full.calls


def behind_the_hot_routes(stack: Any) -> Any:
    """What the app's own HotRoutes hands a request on to: the error handlers and the routers."""
    while not isinstance(stack, HotRoutes):
        stack = stack.app
    return stack.app


def _campaign_path(server: InProcessServer, owner: tuple[Account, dict[str, str], dict[str, str]], **extra: Any) -> str:
    account, firmware, _ = owner
    campaign = create(account, server, firmware, 1, **extra)
    return f"/api/fota/v3/campaigns/{account.name}/{campaign['id']}"


@pytest.fixture
def owner(in_process_server: InProcessServer) -> tuple[Account, dict[str, str], dict[str, str]]:
    account = in_process_server.new_account(license_count=20)
    headers = account.headers()
    return account, in_process_server.new_firmware(), headers


@pytest.mark.parametrize("rollout", [None, ROLLOUT], ids=["plain", "rollout"])
def test_a_cached_callers_campaign_is_answered_in_front_with_the_full_routes_bytes(
    in_process_server: InProcessServer,
    owner: tuple[Account, dict[str, str], dict[str, str]],
    rollout: dict[str, Any] | None,
) -> None:
    headers = owner[2]
    path = _campaign_path(in_process_server, owner, **({"rollout": rollout} if rollout else {}))
    # The first call reads the tokens (the full route) and caches them.
    first = in_process_server.http.get(path, headers=headers)
    assert first.status_code == 200, first.text

    via_hot, via_routers, fell_through = _call(in_process_server, path, headers)
    assert fell_through == 0
    assert (via_hot.status, via_hot.body) == (via_routers.status, via_routers.body) == (200, first.content)
    assert via_hot.headers == via_routers.headers
    assert via_hot.note == via_routers.note == {"template": "/api/fota/v3/campaigns/{account}/{campaign_id}"}
    assert ("rollout" in first.json()) is bool(rollout)


def test_anything_but_a_cached_callers_success_goes_on_to_the_full_route(
    in_process_server: InProcessServer, owner: tuple[Account, dict[str, str], dict[str, str]]
) -> None:
    account, _, headers = owner
    path = _campaign_path(in_process_server, owner)
    campaign_id = path.rsplit("/", 1)[1]
    other = in_process_server.new_account(license_count=1)
    cases = {
        "tokens never seen": other.headers(),  # not yet cached, and of another account: the full route's 403
        "unknown campaign": headers,
        "another account's name": headers,
        "the create route's path": headers,
    }
    paths = {
        "tokens never seen": path,
        "unknown campaign": f"/api/fota/v3/campaigns/{account.name}/no-such-campaign",
        "another account's name": f"/api/fota/v3/campaigns/{other.name}/{campaign_id}",
        "the create route's path": f"/api/fota/v3/campaigns/firmware/{account.name}",
    }
    assert in_process_server.http.get(path, headers=headers).status_code == 200  # caches the owner's tokens
    for case, case_headers in cases.items():
        via_hot, via_routers, fell_through = _call(in_process_server, paths[case], case_headers)
        assert fell_through == 1, case
        assert (via_hot.status, via_hot.body) == (via_routers.status, via_routers.body), case
        assert via_hot.status in (403, 404, 405), (case, via_hot.status)


def test_a_logged_out_session_is_refused_at_once(
    in_process_server: InProcessServer, owner: tuple[Account, dict[str, str], dict[str, str]]
) -> None:
    headers = owner[2]
    path = _campaign_path(in_process_server, owner)
    assert in_process_server.http.get(path, headers=headers).status_code == 200
    assert in_process_server.http.get(path, headers=headers).status_code == 200  # answered from the cache
    r = in_process_server.http.post("/api/m2m/v1/session/logout", headers=headers)
    assert r.status_code == 200, r.text
    assert_error(in_process_server.http.get(path, headers=headers), 401)


def test_a_campaign_changed_at_the_same_instant_is_answered_afresh(
    in_process_server: InProcessServer, owner: tuple[Account, dict[str, str], dict[str, str]]
) -> None:
    """The answer is reused only for the very same stored row: a change that leaves `updatedTime` as it was (the
    simulated clock stands still here) is still seen at once."""
    account, _, headers = owner
    path = _campaign_path(in_process_server, owner)
    before = in_process_server.http.get(path, headers=headers).json()
    assert in_process_server.http.get(path, headers=headers).json() == before  # the second from the answers kept
    windows = [{"startTime": 9, "endTime": 13}]
    dates = {"startDate": before["startDate"], "endDate": before["endDate"], "campaignTimeWindowList": windows}
    r = in_process_server.http.put(
        f"/api/fota/v3/campaigns/firmware/{account.name}/{path.rsplit('/', 1)[1]}/dates", json=dates, headers=headers
    )
    assert r.status_code == 200, r.text
    via_hot, via_routers, fell_through = _call(in_process_server, path, headers)
    assert fell_through == 0
    assert via_hot.body == via_routers.body
    assert in_process_server.http.get(path, headers=headers).json()["campaignTimeWindowList"] == windows
    assert in_process_server.http.delete(path, headers=headers).status_code == 200
    after = in_process_server.http.get(path, headers=headers).json()
    assert after["status"] != before["status"]


def test_on_postgresql_the_read_stays_in_the_event_loop_and_a_lost_connection_goes_on_to_the_full_route(
    in_process_server: InProcessServer, owner: tuple[Account, dict[str, str], dict[str, str]]
) -> None:
    reads = in_process_server.test_client.app.state.parts.campaign_reads
    if in_process_server.backend != "postgresql":
        assert reads is None  # SQLite's one-row read runs on the loop's own connection
        return
    headers = owner[2]
    path = _campaign_path(in_process_server, owner)
    assert in_process_server.http.get(path, headers=headers).status_code == 200
    via_hot, _, fell_through = _call(in_process_server, path, headers)
    assert (fell_through, via_hot.status) == (0, 200)
    engine = create_engine(in_process_server.database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as connection:
            terminated = connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND application_name = :name"
                ),
                {"name": APPLICATION_NAME},
            ).all()
    finally:
        engine.dispose()
    assert terminated == [(True,)]
    lost, via_routers, fell_through = _call(in_process_server, path, headers)
    assert (fell_through, lost.status, lost.body) == (1, 200, via_routers.body)
    again, _, fell_through = _call(in_process_server, path, headers)
    assert (fell_through, again.status, again.body) == (0, 200, via_routers.body)


def test_a_cached_report_page_is_answered_in_front_and_a_changed_one_by_the_full_route(
    in_process_server: InProcessServer, owner: tuple[Account, dict[str, str], dict[str, str]]
) -> None:
    account, firmware, headers = owner
    campaign = create(account, in_process_server, firmware, 3)
    path = f"/api/fota/v3/reports/{account.name}/campaigns/{campaign['id']}/devices"
    first = in_process_server.http.get(path, headers=headers)  # caches the tokens and the page
    assert first.status_code == 200, first.text
    devices = [d["deviceId"] for d in first.json()["deviceList"]]
    after_first = f"lastSeenDeviceId={devices[0]}".encode()
    assert in_process_server.http.get(f"{path}?{after_first.decode()}", headers=headers).status_code == 200

    template = {"template": "/api/fota/v3/reports/{account}/campaigns/{campaign_id}/devices"}
    for query in (b"", after_first):
        via_hot, via_routers, fell_through = _call(in_process_server, path, headers, query)
        assert fell_through == 0, query
        assert (via_hot.status, via_hot.body) == (via_routers.status, via_routers.body), query
        assert via_hot.headers == via_routers.headers and via_hot.note == via_routers.note == template
    assert via_hot.status == 200 and [d["deviceId"] for d in json.loads(via_hot.body)["deviceList"]] == devices[1:]

    # Queries the hot route does not read as the full route would, and a page not cached, go on to it.
    for query in (
        after_first + b"&extra=1",
        b"lastSeenDeviceId=a&lastSeenDeviceId=b",
        f"lastSeenDeviceId={devices[1]}".encode(),
    ):
        via_hot, via_routers, fell_through = _call(in_process_server, path, headers, query)
        assert fell_through == 1, query
        assert (via_hot.status, via_hot.body) == (via_routers.status, via_routers.body), query

    with account.client() as client:
        r = client.put(
            f"/campaigns/firmware/{account.name}/{campaign['id']}", json={"type": "remove", "deviceList": devices[:1]}
        )
    assert r.status_code == 200, r.text
    via_hot, via_routers, fell_through = _call(in_process_server, path, headers)
    assert fell_through == 1  # the page changed: read afresh, by the full route
    assert via_hot.body == via_routers.body != first.content
    assert json.loads(via_hot.body)["deviceList"][0]["status"] != "UpgradePending"
