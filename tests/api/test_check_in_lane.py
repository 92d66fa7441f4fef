"""HTTP device check-ins answered in front of the routers (hot_routes.py) and written by group commit
(check_in_lane.py): the full route's bytes, everything the full route would read differently handed on to it, and
polls that arrive together recorded in one transaction with a wrong key's poll writing nothing."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import pytest
from starlette.types import Message

from fota.adapters.http.check_in_lane import CheckInLane
from fota.adapters.http.hot_routes import HotRoutes
from fota.domain.errors import Unauthorized
from fota.services.device_poll import NOTHING, Poll
from tests.api.test_hot_routes import Answer, FullRoute, behind_the_hot_routes
from tests.in_process import InProcessServer

TEMPLATE = {"template": "/device/v1/devices/{device_id}/checkin"}


def _http_device(server: InProcessServer) -> tuple[str, str]:
    account = server.new_account()
    imei = str(random.randint(10**14, 10**15 - 1))
    spec = {"deviceId": imei, "make": "Acme", "model": "Poller", "firmware": "1.0", "protocol": "HTTP"}
    assert account.add_devices([spec]).status_code == 201
    r = server.admin.post(f"/accounts/{account.name}/devices/{imei}/key")
    assert r.status_code == 201, r.text
    return imei, r.json()["deviceKey"]


def _reader(server: InProcessServer) -> Any:
    return server.test_client.app.state.parts.services.reader()


def _check_ins(server: InProcessServer, imei: str) -> int:
    with _reader(server) as uow:
        return len(uow.activity.check_ins(imei, limit=1000))


def _scope(app: Any, path: str, headers: list[tuple[bytes, bytes]], note: dict[str, str]) -> dict[str, Any]:
    return {
        "app": app,
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "fota.route": note,
    }


def _post(
    server: InProcessServer, imei: str, body: bytes, headers: list[tuple[bytes, bytes]]
) -> tuple[Answer, Answer, int]:
    """The check-in answered through the hot route and by the routers alone; and how often the hot route handed on."""
    app = server.test_client.app
    routers = behind_the_hot_routes(app.middleware_stack)
    full = FullRoute(routers)
    hot = HotRoutes(full, app.state.parts)
    answers = Answer(), Answer()
    for answer, handler in zip(answers, (hot, routers), strict=True):
        scope = _scope(app, f"/device/v1/devices/{imei}/checkin", headers, answer.note)
        server.test_client.portal.call(handler, scope, _in_two_messages(body), answer.send)
    return answers[0], answers[1], full.calls


def _in_two_messages(body: bytes) -> Any:
    """`receive` giving the body in two messages, as a socket may."""
    chunks = [body[: len(body) // 2], body[len(body) // 2 :]]

    async def receive() -> Message:
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    return receive


def _headers(key: str, content_type: bytes | None = b"application/json") -> list[tuple[bytes, bytes]]:
    headers = [(b"authorization", f"Bearer {key}".encode())]
    return headers if content_type is None else [*headers, (b"content-type", content_type)]


@pytest.mark.parametrize("key", ["right", "wrong"])
def test_a_check_in_is_answered_in_front_with_the_full_routes_bytes(
    in_process_server: InProcessServer, key: str
) -> None:
    imei, device_key = _http_device(in_process_server)
    body = json.dumps({"firmware": "1.0", "state": 0, "updateResult": 0}).encode()
    before = _check_ins(in_process_server, imei)

    via_hot, via_routers, handed_on = _post(
        in_process_server, imei, body, _headers(device_key if key == "right" else "x")
    )

    assert handed_on == 0
    assert (via_hot.status, via_hot.body) == (via_routers.status, via_routers.body)
    assert via_hot.headers == via_routers.headers
    assert via_hot.note == via_routers.note == TEMPLATE
    if key == "right":
        assert (via_hot.status, json.loads(via_hot.body)) == (200, {"action": "none"})
        assert _check_ins(in_process_server, imei) == before + 2
    else:
        assert via_hot.status == 401 and json.loads(via_hot.body)["errorCode"] == "Unauthorized"
        assert via_hot.headers[b"www-authenticate"] == b"Bearer"
        assert _check_ins(in_process_server, imei) == before  # nothing recorded for a wrong key


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"firmware": "1.0", "state": ', b"application/json"),  # not JSON
        (b'{"firmware": "1.0", "state": "1"}', b"application/json"),  # a string where the model wants an integer
        (b'{"state": 0}', b"application/json"),  # no firmware
        (b"[1, 2]", b"application/json"),
        (b'{"firmware": "1.0"}', b"text/plain"),  # not read as JSON by the full route
        (b'{"firmware": "1.0"}', None),  # nor is a body without a content type
    ],
    ids=["not-json", "string-state", "no-firmware", "a-list", "text-plain", "no-content-type"],
)
def test_what_the_full_route_would_read_differently_is_handed_on_to_it(
    in_process_server: InProcessServer, body: bytes, content_type: bytes | None
) -> None:
    imei, device_key = _http_device(in_process_server)

    via_hot, via_routers, handed_on = _post(in_process_server, imei, body, _headers(device_key, content_type))

    assert handed_on == 1
    assert (via_hot.status, via_hot.body) == (via_routers.status, via_routers.body)
    assert via_hot.status == 400 and json.loads(via_hot.body)["errorCode"] == "InvalidRequest"


def test_polls_that_arrive_together_are_recorded_in_one_transaction(in_process_server: InProcessServer) -> None:
    imei, key = _http_device(in_process_server)
    other, other_key = _http_device(in_process_server)
    lane: CheckInLane = in_process_server.test_client.app.state.parts.check_ins
    polls = [
        Poll(imei, key, "1.0"),
        Poll(other, "not its key", "1.0"),
        Poll(imei, key, "1.0"),
        Poll("999999999999999", key, "1.0"),  # no such device
        Poll(imei, None, "1.0"),
        Poll(other, other_key, "1.1"),  # reports new firmware
    ]
    before = {imei: _check_ins(in_process_server, imei), other: _check_ins(in_process_server, other)}
    batches = lane.batcher.batches

    async def together() -> list[Any]:
        return await asyncio.gather(
            *(lane.check_in(poll, package_base_url="http://testserver") for poll in polls), return_exceptions=True
        )

    results = in_process_server.test_client.portal.call(together)

    assert lane.batcher.batches == batches + 1
    assert [r if r is NOTHING else type(r) for r in results] == [
        NOTHING,
        Unauthorized,
        NOTHING,
        Unauthorized,
        Unauthorized,
        NOTHING,
    ]
    assert _check_ins(in_process_server, imei) == before[imei] + 2
    assert _check_ins(in_process_server, other) == before[other] + 1  # its refused poll wrote nothing
    with _reader(in_process_server) as uow:
        device = uow.devices.get(other)
    assert device is not None and device.firmware == "1.1"
