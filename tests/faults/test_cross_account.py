"""Cross-account access on every ThingSpace route (the route table of tests/api/test_auth.py).

Account B holds valid tokens. Against account A's path every route is refused (403) whatever A resource it names.
On B's own path naming A's resources (A's campaign id, A's device IMEIs), the answer never reveals A's data: 404 for
a campaign or device B does not have, a per-device failure in lists, and afterwards A's campaign, devices and
licenses are exactly as they were.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api.test_auth import (
    CAMPAIGN_BODY,
    ROUTE_PARAMS,
    ROUTES,
    V1,
    V2,
    V3,
    Route,
    Target,
    assert_error,
    fill,
    make_target,
)
from tests.fota_server import FotaServer

# What each route may answer when B's path names A's resources: per-device refusals, or a 404.
EXPECTED: dict[tuple[str, str], set[int]] = {
    ("PUT", V3 + "/campaigns/firmware/{acc}/{cid}"): {404},
    ("PUT", V3 + "/campaigns/firmware/{acc}/{cid}/dates"): {404},
    ("GET", V3 + "/campaigns/{acc}/{cid}"): {404},
    ("DELETE", V3 + "/campaigns/{acc}/{cid}"): {404},
    ("GET", V3 + "/reports/{acc}/devices/{imei}"): {404},
    ("GET", V3 + "/reports/{acc}/campaigns/{cid}/devices"): {404},
    ("PUT", V3 + "/firmware/{acc}/async/{imei}"): {404},
    ("GET", V1 + "/upgrades/{acc}/upgrade/{cid}"): {404},
    ("PUT", V1 + "/upgrades/{acc}/upgrade/{cid}"): {404},
    ("DELETE", V1 + "/upgrades/{acc}/upgrade/{cid}"): {404},
    ("GET", V1 + "/reports/{acc}/devices/{imei}"): {404},
    ("GET", V2 + "/campaigns/{acc}/{cid}"): {404},
    ("PUT", V2 + "/campaigns/{acc}/{cid}"): {404},
    ("PUT", V2 + "/campaigns/{acc}/{cid}/dates"): {404},
    ("DELETE", V2 + "/campaigns/{acc}/{cid}"): {404},
    ("GET", V2 + "/reports/{acc}/devices/{imei}"): {404},
    ("GET", V2 + "/reports/{acc}/campaigns/{cid}/devices"): {404},
    ("PUT", V2 + "/logging/{acc}/devices"): {404},
    ("PUT", V2 + "/logging/{acc}/devices/{imei}"): {404},
    ("GET", V2 + "/logging/{acc}/devices/{imei}/logs"): {404},
    ("GET", V2 + "/logging/{acc}/devices/{imei}/checkInHistory"): {404},
}


@pytest.fixture(scope="module")
def a(in_process_server: FotaServer) -> Target:
    """Account A: two devices and a queued campaign with a name only A knows."""
    target = make_target(in_process_server, with_campaign=False)
    target.ctx["campaign_name"] = f"secret-{uuid.uuid4().hex}"
    body = fill({**CAMPAIGN_BODY, "deviceList": ["{imei}"], "campaignName": "{campaign_name}"}, target.ctx)
    with target.account.client() as api:
        r = api.post(f"/campaigns/firmware/{target.account.name}", json=body)
        assert r.status_code == 200, r.text
        target.ctx["cid"] = r.json()["id"]
        devices = api.get(f"/devices/{target.account.name}").json()
    target.ctx["mdns"] = ",".join(d["mdn"] for d in devices["deviceList"] if d.get("mdn"))
    assert len(target.ctx["mdns"].split(",")) == 2, devices
    return target


@pytest.fixture(scope="module")
def b(in_process_server: FotaServer) -> Target:
    return make_target(in_process_server)


@pytest.fixture(scope="module")
def b_headers(b: Target) -> dict[str, str]:
    return b.account.headers()


@pytest.fixture(scope="module")
def a_before(a: Target) -> dict[str, Any]:
    return snapshot(a)


def snapshot(target: Target) -> dict[str, Any]:
    name, cid = target.account.name, target.ctx["cid"]
    with target.account.client() as api:
        return {
            "campaign": api.get(f"/campaigns/{name}/{cid}").json(),
            "devices": api.get(f"/reports/{name}/campaigns/{cid}/devices").json(),
            "licenses": api.get(f"/licenses/{name}").json(),
            "history": {i: api.get(f"/reports/{name}/devices/{target.ctx[i]}").json() for i in ("imei", "imei2")},
            "callback": api.get(f"/callbacks/{name}").status_code,
        }


@pytest.mark.parametrize("route", ROUTE_PARAMS)
def test_b_on_a_path_with_a_resources_is_403(
    a: Target, b_headers: dict[str, str], a_before: dict[str, Any], route: Route
) -> None:
    assert_error(a.call(route, b_headers), 403, "Forbidden")


def _a_values(a: Target) -> list[str]:
    """Values only A can know: its account name, its campaign's name, its devices' MDNs."""
    return [a.account.name, a.ctx["campaign_name"], *a.ctx["mdns"].split(",")]


@pytest.mark.parametrize("route", ROUTE_PARAMS)
def test_b_path_with_a_resources_reveals_nothing(
    a: Target, b: Target, b_headers: dict[str, str], a_before: dict[str, Any], route: Route
) -> None:
    r = b.call(route, b_headers, cid=a.ctx["cid"], imei=a.ctx["imei"], imei2=a.ctx["imei2"])
    where = f"{route.method} {route.path}: {r.status_code} {r.text[:500]}"
    assert r.status_code < 500 and r.status_code not in (401, 403), where
    expected = EXPECTED.get((route.method, route.path.split("?")[0]))
    if expected is not None:
        assert r.status_code in expected, where
    for value in _a_values(a):
        assert value not in r.text, f"{where}: reveals {value!r}"
    if r.status_code == 200 and r.content:
        _assert_no_success_on_a_devices(route, r.json(), a)


def _assert_no_success_on_a_devices(route: Route, body: Any, a: Target) -> None:
    """Per-device answers about A's IMEIs are failures, never A's device data."""
    a_imeis = {a.ctx["imei"], a.ctx["imei2"]}
    items = body.get("deviceList") if isinstance(body, dict) else body
    if not isinstance(items, list):
        return
    for item in items:
        if not isinstance(item, dict) or item.get("deviceId") not in a_imeis:
            continue
        outcome = " ".join(
            str(v) for k, v in item.items() if k.lower() in ("status", "requeststatus", "resultreason", "reason")
        )
        assert not outcome.endswith("Succeed") and "Success" not in outcome and "Succeed" not in outcome, (
            f"{route.method} {route.path}: B acted on A's device: {item}"
        )
        assert set(item) & {"status", "Status", "resultReason", "reason", "Reason"}, item


def test_b_campaign_listing_a_device_rejects_it(a: Target, b: Target, b_headers: dict[str, str]) -> None:
    """A campaign in B naming A's device enrols nothing of A's: the device is rejected as unknown to B."""
    ctx = {**b.ctx, "imei2": a.ctx["imei2"]}
    body = fill({**CAMPAIGN_BODY, "campaignName": "cross-account"}, ctx)
    with b.server.client(V3, headers=b_headers) as api:
        created = api.post(f"/campaigns/firmware/{b.account.name}", json=body)
        assert created.status_code == 200, created.text
        report = api.get(f"/reports/{b.account.name}/campaigns/{created.json()['id']}/devices").json()
    statuses = {d["deviceId"]: d["status"] for d in report["deviceList"]}
    assert statuses == {a.ctx["imei2"]: "DeviceRejected"}, report


# The administration's routes of issue 12 (signing keys, an account's signing policy): B's ThingSpace tokens name
# A there in vain, and A's policy stays as it was.
ADMIN_ON_A = [
    ("GET", "/admin/v1/accounts/{acc}/signing-policy", None),
    ("PUT", "/admin/v1/accounts/{acc}/signing-policy", {"requireSignedFirmware": True}),
    ("GET", "/admin/v1/signing-keys", None),
    ("POST", "/admin/v1/signing-keys", {"keyId": "b-key", "publicKey": "-----BEGIN PUBLIC KEY-----"}),
    ("GET", "/admin/v1/firmware/{fw}", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ON_A, ids=[f"{m} {p}" for m, p, _ in ADMIN_ON_A])
def test_b_tokens_reach_no_admin_route_of_a(
    a: Target, b_headers: dict[str, str], method: str, path: str, body: dict[str, Any] | None
) -> None:
    assert_error(a.server.http.request(method, fill(path, a.ctx), json=body, headers=b_headers), 401)
    policy = a.server.admin.get(f"/accounts/{a.account.name}/signing-policy").json()
    assert policy["requireSignedFirmware"] is False, policy


def test_a_is_unchanged(a: Target, a_before: dict[str, Any]) -> None:
    """Runs after every cross-account call above: A's campaign, devices, licenses and histories are as they were."""
    assert snapshot(a) == a_before


def test_routes_cover_the_table() -> None:
    assert len(ROUTES) >= 22 + 32 + 18  # v3, v2 (its license cancel list among them) and v1
    assert sum(r.path.startswith(V2) for r in ROUTES) >= 32  # every v2 operation of the contract
    assert len([r for r in ROUTES if r.path.startswith(V1)]) == 18
