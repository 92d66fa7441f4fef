"""Request validation over HTTP (to the app in this process): every bad request is a 4xx with a clear message,
never a 500.

docs/behaviour.md fixes the codes: 400 `InvalidRequest` for malformed JSON, wrong types, missing fields and
bad values (windows, dates, IMEIs, enums); 404 `NotFound` for an unknown campaign or device of the caller's
own account. A rejected campaign create stores nothing, which each create case checks through the campaign
reports and the listed device's history. JSON labelled `Content-Type: */*` (as the SDK sends it on v2 calls)
is accepted.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from tests.fota_server import Account, FotaServer

V3 = "/api/fota/v3"
V2 = "/api/fota/v2"
MISSING = object()
# Every status the SDK's CampaignStatusEnum names, plus the seed's spelling of the queued one.
ALL_STATUSES = [
    "CampaignRequestPending",
    "CampaignRequestFailed",
    "CampaignRequestQueued",
    "CampaignQueued",
    "CampaignCancelled",
    "CampaignAborted",
    "CampaignFailed",
    "CampaignScheduled",
    "CampaignEnded",
]


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


def device(fw: dict[str, str], imei: str | None = None, firmware: str | None = None) -> dict[str, str]:
    return {
        "deviceId": imei or luhn_imei(),
        "mdn": f"{secrets.randbelow(10**10):010d}",
        "make": fw["make"],
        "model": fw["model"],
        "firmware": firmware or fw["firmwareFrom"],
        "protocol": fw["protocol"],
    }


def assert_error(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """`status` with exactly `{errorCode, errorMessage}`, both non-empty strings."""
    where = f"{r.request.method} {r.request.url.path}"
    assert r.status_code == status, f"{where}: expected {status}, got {r.status_code} {r.text}"
    try:
        body = r.json()
    except ValueError:
        pytest.fail(f"{where}: error body is not JSON: {r.text!r}")
    assert isinstance(body, dict), f"{where}: error body is not an object: {body!r}"
    assert set(body) == {"errorCode", "errorMessage"}, f"{where}: error body keys {sorted(body)}"
    assert isinstance(body["errorCode"], str) and body["errorCode"], body
    assert isinstance(body["errorMessage"], str) and len(body["errorMessage"].strip()) > 3, body
    if code is not None:
        assert body["errorCode"] == code, f"{where}: {body}"
    return body


@dataclass
class Ctx:
    """One account on the shared server: firmware, free devices and one queued campaign."""

    server: FotaServer
    account: Account
    fw: dict[str, str]
    free: list[str]  # devices in no campaign
    enrolled: str  # the device of `campaign_id`
    campaign_id: str
    today: date
    headers: dict[str, str]  # the shared server's clock stays put, so these stay valid

    def api(self) -> httpx.Client:
        return self.server.client(headers=self.headers)

    def campaign_body(self, **changes: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "firmwareName": self.fw["firmwareName"],
            "firmwareFrom": self.fw["firmwareFrom"],
            "firmwareTo": self.fw["firmwareTo"],
            "protocol": "LWM2M",
            "startDate": (self.today + timedelta(days=3)).isoformat(),
            "endDate": (self.today + timedelta(days=6)).isoformat(),
            "deviceList": [self.free[0]],
            "autoAssignLicenseFlag": True,
            "autoAddDevicesFlag": False,
            "campaignName": "validation",
            "campaignTimeWindowList": [{"startTime": 18, "endTime": 22}],
        }
        for key, value in changes.items():
            if value is MISSING:
                body.pop(key, None)
            else:
                body[key] = value
        return body

    def stored_campaigns(self) -> set[str]:
        """Ids of every campaign of the account, whatever its status."""
        ids: set[str] = set()
        with self.api() as api:
            for status in ALL_STATUSES:
                r = api.get(f"{V3}/reports/{self.account.name}/firmware/campaigns", params={"campaignStatus": status})
                assert r.status_code == 200, f"{status}: {r.status_code} {r.text}"
                ids |= {c["id"] for c in r.json().get("campaignList") or []}
        return ids


@pytest.fixture(scope="module")
def ctx(in_process_server: FotaServer) -> Ctx:
    """Its campaign starts in three days, so that engine runs by other tests leave it `CampaignQueued`."""
    server = in_process_server
    account = server.new_account(license_count=50)
    fw = server.new_firmware()
    devices = [device(fw) for _ in range(4)]
    account.add_devices(devices)
    today = server.now().date()
    c = Ctx(
        server, account, fw, [d["deviceId"] for d in devices[1:]], devices[0]["deviceId"], "", today, account.headers()
    )
    with c.api() as api:
        r = api.post(f"{V3}/campaigns/firmware/{account.name}", json=c.campaign_body(deviceList=[c.enrolled]))
        assert r.status_code == 200, r.text
        c.campaign_id = r.json()["id"]
    return c


# ----------------------------------------------------------------------------------------------------
# Bodies that are not JSON objects, on every route that takes a body

BODY_ROUTES = [
    ("POST", V3 + "/licenses/{acc}/assign"),
    ("POST", V3 + "/licenses/{acc}/remove"),
    ("POST", V3 + "/campaigns/firmware/{acc}"),
    ("PUT", V3 + "/campaigns/firmware/{acc}/{cid}"),
    ("PUT", V3 + "/campaigns/firmware/{acc}/{cid}/dates"),
    ("PUT", V3 + "/firmware/{acc}/devices"),
    ("POST", V3 + "/devices/{acc}"),
    ("POST", V3 + "/callbacks/{acc}"),
    ("PUT", V3 + "/callbacks/{acc}"),
    ("POST", V2 + "/licenses/{acc}/cancel"),
]
NOT_OBJECTS = [
    pytest.param(b'{"deviceList": [', id="truncated"),
    pytest.param(b"{deviceList: []}", id="unquoted-key"),
    pytest.param(b"\xff\xfe not utf-8", id="binary"),
    pytest.param(b"", id="empty"),
    pytest.param(b"[]", id="array"),
    pytest.param(b'["123456789012345"]', id="array-of-imeis"),
    pytest.param(b'"deviceList"', id="string"),
    pytest.param(b"42", id="number"),
    pytest.param(b"null", id="null"),
    pytest.param(b"true", id="boolean"),
]


@pytest.mark.parametrize("payload", NOT_OBJECTS)
@pytest.mark.parametrize(("method", "path"), [pytest.param(*r, id=f"{r[0]} {r[1]}") for r in BODY_ROUTES])
def test_body_that_is_not_a_json_object_is_400(ctx: Ctx, method: str, path: str, payload: bytes) -> None:
    before = ctx.stored_campaigns() if path.endswith("firmware/{acc}") else None
    with ctx.api() as api:
        r = api.request(
            method,
            path.format(acc=ctx.account.name, cid=ctx.campaign_id),
            content=payload,
            headers={"Content-Type": "application/json"},
        )
    assert_error(r, 400, "InvalidRequest")
    if before is not None:
        assert ctx.stored_campaigns() == before


# ----------------------------------------------------------------------------------------------------
# Campaign create: every rejected body is a 400 and stores nothing


def days(n: int) -> Callable[[date], str]:
    return lambda today: (today + timedelta(days=n)).isoformat()


def windows(*pairs: tuple[Any, Any]) -> list[dict[str, Any]]:
    return [{"startTime": s, "endTime": e} for s, e in pairs]


# (id, changes); a callable value gets `today`, MISSING drops the key.
CREATE_CASES: list[tuple[str, dict[str, Any]]] = [
    # wrong types
    ("flag-as-string", {"autoAssignLicenseFlag": "true"}),
    ("add-flag-as-string", {"autoAddDevicesFlag": "false"}),
    ("flag-as-int", {"autoAssignLicenseFlag": 1}),
    ("deviceList-as-int", {"deviceList": 5}),
    ("deviceList-as-string", {"deviceList": "{imei}"}),
    ("deviceList-of-ints", {"deviceList": [123456789012345]}),
    ("deviceList-of-objects", {"deviceList": [{"deviceId": "{imei}"}]}),
    ("deviceList-null", {"deviceList": None}),
    ("firmwareName-as-int", {"firmwareName": 42}),
    ("startDate-as-int", {"startDate": 20300101}),
    ("windows-as-string", {"campaignTimeWindowList": "18-22"}),
    ("window-as-list", {"campaignTimeWindowList": [[18, 22]]}),
    ("window-hour-as-float", {"campaignTimeWindowList": windows((18.5, 22))}),
    ("window-hour-as-bool", {"campaignTimeWindowList": windows((True, 22))}),
    # missing required fields
    *[
        (f"missing-{key}", {key: MISSING})
        for key in (
            "firmwareName",
            "firmwareFrom",
            "firmwareTo",
            "protocol",
            "startDate",
            "endDate",
            "deviceList",
            "autoAssignLicenseFlag",
            "autoAddDevicesFlag",
        )
    ],
    ("window-missing-endTime", {"campaignTimeWindowList": [{"startTime": 18}]}),
    ("window-missing-startTime", {"campaignTimeWindowList": [{"endTime": 22}]}),
    # window hours out of range
    ("startTime-minus-1", {"campaignTimeWindowList": windows((-1, 4))}),
    ("startTime-24", {"campaignTimeWindowList": windows((24, 24))}),
    ("endTime-0", {"campaignTimeWindowList": windows((0, 0))}),
    ("endTime-25", {"campaignTimeWindowList": windows((20, 25))}),
    # windows shorter than four hours
    ("window-3-hours", {"campaignTimeWindowList": windows((18, 21))}),
    ("window-empty", {"campaignTimeWindowList": windows((5, 5))}),
    ("window-backwards", {"campaignTimeWindowList": windows((22, 18))}),
    ("second-window-short", {"campaignTimeWindowList": windows((1, 5), (18, 20))}),
    ("short-window-under-seed-key", {"campaignTimeWindowList": MISSING, "timeWindowList": windows((18, 21))}),
    # overlapping or duplicate windows
    ("windows-overlap", {"campaignTimeWindowList": windows((1, 6), (4, 9))}),
    ("windows-nested", {"campaignTimeWindowList": windows((0, 12), (2, 8))}),
    ("windows-duplicate", {"campaignTimeWindowList": windows((18, 22), (18, 22))}),
    # bad dates
    ("month-13", {"startDate": "2024-13-01"}),
    ("endDate-month-13", {"endDate": "2031-13-01"}),
    ("february-30", {"endDate": "2031-02-30"}),
    ("startDate-yesterday-word", {"startDate": "yesterday"}),
    ("endDate-word", {"endDate": "tomorrow"}),
    ("startDate-us-format", {"startDate": "12/01/2031"}),
    ("startDate-empty", {"startDate": ""}),
    ("endDate-before-startDate", {"startDate": days(3), "endDate": days(2)}),
    ("startDate-in-the-past", {"startDate": days(-1), "endDate": days(3)}),
    ("both-dates-in-the-past", {"startDate": days(-10), "endDate": days(-5)}),
    # firmware and protocol
    ("unknown-firmwareName", {"firmwareName": "no-such-firmware-" + uuid.uuid4().hex}),
    ("firmwareFrom-mismatch", {"firmwareFrom": "SR0.0.0.0-00001"}),
    ("firmwareTo-mismatch", {"firmwareTo": "SR9.9.9.9-99999"}),
    ("from-and-to-swapped", {"firmwareFrom": "{to}", "firmwareTo": "{from}"}),
    ("protocol-mismatch", {"protocol": "HTTP"}),
    ("protocol-unknown", {"protocol": "CARRIER-PIGEON"}),
    # flags
    ("autoAdd-without-autoAssign", {"autoAddDevicesFlag": True, "autoAssignLicenseFlag": False}),
    # IMEIs
    ("imei-not-digits", {"deviceList": ["not-an-imei"]}),
    ("imei-too-short", {"deviceList": ["12345"]}),
]


def resolve(ctx: Ctx, changes: dict[str, Any]) -> dict[str, Any]:
    subs = {"{imei}": ctx.free[0], "{from}": ctx.fw["firmwareFrom"], "{to}": ctx.fw["firmwareTo"]}

    def one(value: Any) -> Any:
        if callable(value):
            return value(ctx.today)
        if isinstance(value, str):
            return subs.get(value, value)
        if isinstance(value, list):
            return [one(v) for v in value]
        if isinstance(value, dict):
            return {k: one(v) for k, v in value.items()}
        return value

    return {k: v if v is MISSING else one(v) for k, v in changes.items()}


@pytest.mark.parametrize("changes", [pytest.param(c, id=name) for name, c in CREATE_CASES])
def test_rejected_campaign_create_is_400_and_stores_nothing(ctx: Ctx, changes: dict[str, Any]) -> None:
    before = ctx.stored_campaigns()
    history_url = f"{V3}/reports/{ctx.account.name}/devices/{ctx.free[0]}"
    with ctx.api() as api:
        history_before = api.get(history_url)
        assert history_before.status_code == 200, history_before.text
        body = ctx.campaign_body(**resolve(ctx, changes))
        r = api.post(f"{V3}/campaigns/firmware/{ctx.account.name}", json=body)
        assert_error(r, 400, "InvalidRequest")
        history_after = api.get(history_url)
    assert history_after.json() == history_before.json(), "a rejected create left device history behind"
    assert ctx.stored_campaigns() == before


def test_a_valid_create_body_is_accepted(ctx: Ctx) -> None:
    """The control for the rejected cases: the unchanged body is fine (on its own account, to stay clean)."""
    account = ctx.server.new_account()
    imei = luhn_imei()
    account.add_devices([device(ctx.fw, imei)])
    with account.client() as api:
        body = {**ctx.campaign_body(), "deviceList": [imei]}
        r = api.post(f"/campaigns/firmware/{account.name}", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["firmwareName"] == ctx.fw["firmwareName"]


def test_create_with_unknown_device_in_list_rejects_the_device_not_the_campaign(ctx: Ctx) -> None:
    account = ctx.server.new_account()
    known, unknown = luhn_imei(), luhn_imei()
    account.add_devices([device(ctx.fw, known)])
    with account.client() as api:
        r = api.post(
            f"/campaigns/firmware/{account.name}",
            json={**ctx.campaign_body(), "deviceList": [known, unknown]},
        )
        assert r.status_code == 200, r.text
        report = api.get(f"/reports/{account.name}/campaigns/{r.json()['id']}/devices")
        assert report.status_code == 200, report.text
        statuses = {d["deviceId"]: d for d in report.json()["deviceList"]}
        assert statuses[known]["status"] == "UpgradePending", statuses
        assert statuses[unknown]["status"] == "DeviceRejected", statuses
        assert statuses[unknown].get("resultReason"), statuses


# ----------------------------------------------------------------------------------------------------
# Date changes: the same rules as create, and a rejected change leaves the campaign as it was

DATE_CASES: list[tuple[str, dict[str, Any]]] = [
    ("missing-startDate", {"startDate": MISSING}),
    ("missing-endDate", {"endDate": MISSING}),
    ("startDate-month-13", {"startDate": "2024-13-01"}),
    ("startDate-word", {"startDate": "yesterday"}),
    ("endDate-before-startDate", {"startDate": days(3), "endDate": days(2)}),
    ("startDate-in-the-past", {"startDate": days(-1)}),
    ("startTime-minus-1", {"campaignTimeWindowList": windows((-1, 4))}),
    ("startTime-24", {"campaignTimeWindowList": windows((24, 24))}),
    ("endTime-0", {"campaignTimeWindowList": windows((0, 0))}),
    ("endTime-25", {"campaignTimeWindowList": windows((20, 25))}),
    ("window-3-hours", {"campaignTimeWindowList": windows((2, 5))}),
    ("windows-overlap", {"campaignTimeWindowList": windows((1, 6), (4, 9))}),
    ("windows-duplicate", {"campaignTimeWindowList": windows((2, 6), (2, 6))}),
    ("windows-as-string", {"campaignTimeWindowList": "2-6"}),
    ("startDate-as-int", {"startDate": 20300101}),
]


@pytest.mark.parametrize("changes", [pytest.param(c, id=name) for name, c in DATE_CASES])
def test_rejected_date_change_is_400_and_changes_nothing(ctx: Ctx, changes: dict[str, Any]) -> None:
    url = f"{V3}/campaigns/{ctx.account.name}/{ctx.campaign_id}"
    body: dict[str, Any] = {
        "startDate": (ctx.today + timedelta(days=2)).isoformat(),
        "endDate": (ctx.today + timedelta(days=6)).isoformat(),
        "campaignTimeWindowList": windows((2, 6)),
    }
    for key, value in resolve(ctx, changes).items():
        if value is MISSING:
            body.pop(key)
        else:
            body[key] = value
    with ctx.api() as api:
        before = api.get(url).json()
        r = api.put(f"{V3}/campaigns/firmware/{ctx.account.name}/{ctx.campaign_id}/dates", json=body)
        assert_error(r, 400, "InvalidRequest")
        after = api.get(url).json()
    for key in ("startDate", "endDate", "campaignTimeWindowList", "status"):
        assert after.get(key) == before.get(key), key


# ----------------------------------------------------------------------------------------------------
# Unknown campaigns and devices: 404


def own_campaign_routes(acc: str, cid: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("GET", f"{V3}/campaigns/{acc}/{cid}", None),
        ("DELETE", f"{V3}/campaigns/{acc}/{cid}", None),
        ("PUT", f"{V3}/campaigns/firmware/{acc}/{cid}", {"Type": "append", "deviceList": [luhn_imei()]}),
        ("PUT", f"{V3}/campaigns/firmware/{acc}/{cid}/dates", None),
        ("GET", f"{V3}/reports/{acc}/campaigns/{cid}/devices", None),
    ]


CAMPAIGN_ROUTE_IDS = ["GET campaign", "DELETE campaign", "PUT devices", "PUT dates", "GET campaign devices"]


@pytest.mark.parametrize("index", range(5), ids=CAMPAIGN_ROUTE_IDS)
@pytest.mark.parametrize(
    "cid",
    [
        pytest.param(lambda: str(uuid.uuid4()), id="uuid"),
        pytest.param(lambda: "no-such-campaign", id="word"),
        pytest.param(lambda: "12345", id="number"),
    ],
)
def test_unknown_campaign_is_404(ctx: Ctx, index: int, cid: Callable[[], str]) -> None:
    method, path, body = own_campaign_routes(ctx.account.name, cid())[index]
    if path.endswith("/dates"):
        body = {
            "startDate": (ctx.today + timedelta(days=2)).isoformat(),
            "endDate": (ctx.today + timedelta(days=6)).isoformat(),
        }
    with ctx.api() as api:
        r = api.request(method, path, json=body) if body is not None else api.request(method, path)
    assert_error(r, 404, "NotFound")


@pytest.mark.parametrize("index", range(5), ids=CAMPAIGN_ROUTE_IDS)
def test_campaign_of_another_account_is_404_under_your_own(ctx: Ctx, index: int) -> None:
    other = ctx.server.new_account()
    method, path, body = own_campaign_routes(other.name, ctx.campaign_id)[index]
    if path.endswith("/dates"):
        body = {
            "startDate": (ctx.today + timedelta(days=2)).isoformat(),
            "endDate": (ctx.today + timedelta(days=6)).isoformat(),
        }
    with ctx.server.client(headers=other.headers()) as api:
        r = api.request(method, path, json=body) if body is not None else api.request(method, path)
    assert_error(r, 404, "NotFound")
    with ctx.api() as api:
        assert api.get(f"{V3}/campaigns/{ctx.account.name}/{ctx.campaign_id}").json()["status"] in (
            "CampaignQueued",
            "CampaignRequestQueued",
        )


def test_unknown_device_history_is_404(ctx: Ctx) -> None:
    with ctx.api() as api:
        assert_error(api.get(f"{V3}/reports/{ctx.account.name}/devices/{luhn_imei()}"), 404, "NotFound")


def test_device_of_another_account_history_is_404(ctx: Ctx) -> None:
    other = ctx.server.new_account()
    with ctx.server.client(headers=other.headers()) as api:
        assert_error(api.get(f"{V3}/reports/{other.name}/devices/{ctx.enrolled}"), 404, "NotFound")


def test_async_firmware_report_of_unknown_device_is_404(ctx: Ctx) -> None:
    with ctx.api() as api:
        assert_error(api.put(f"{V3}/firmware/{ctx.account.name}/async/{luhn_imei()}"), 404, "NotFound")


# ----------------------------------------------------------------------------------------------------
# Query parameters


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"campaignStatus": "Bogus"}, id="unknown-status"),
        pytest.param({"campaignStatus": "campaignscheduled"}, id="wrong-case"),
        pytest.param({"campaignStatus": ""}, id="empty"),
        pytest.param({}, id="missing"),
    ],
)
@pytest.mark.parametrize("path", ["/reports/{acc}/firmware/campaigns", "/reports/{acc}/campaigns"])
def test_invalid_campaign_status_filter_is_400(ctx: Ctx, path: str, params: dict[str, str]) -> None:
    with ctx.api() as api:
        assert_error(api.get(V3 + path.format(acc=ctx.account.name), params=params), 400, "InvalidRequest")


@pytest.mark.parametrize("status", ["CampaignQueued", "CampaignRequestQueued"])
def test_both_spellings_of_queued_filter_find_the_campaign(ctx: Ctx, status: str) -> None:
    with ctx.api() as api:
        r = api.get(f"{V3}/reports/{ctx.account.name}/firmware/campaigns", params={"campaignStatus": status})
    assert r.status_code == 200, r.text
    assert ctx.campaign_id in {c["id"] for c in r.json()["campaignList"] or []}


@pytest.mark.parametrize(
    ("path", "params"),
    [
        pytest.param("/firmware/{acc}", {"protocol": "CARRIER-PIGEON"}, id="firmware-protocol"),
        pytest.param("/devices/{acc}", {"protocol": "CARRIER-PIGEON"}, id="devices-protocol"),
    ],
)
def test_unknown_protocol_filter_is_400(ctx: Ctx, path: str, params: dict[str, str]) -> None:
    with ctx.api() as api:
        assert_error(api.get(V3 + path.format(acc=ctx.account.name), params=params), 400, "InvalidRequest")


# ----------------------------------------------------------------------------------------------------
# Add/remove devices


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"Type": "add", "deviceList": ["{imei}"]}, id="Type-add"),
        pytest.param({"Type": "delete", "deviceList": ["{imei}"]}, id="Type-delete"),
        pytest.param({"Type": "", "deviceList": ["{imei}"]}, id="Type-empty"),
        pytest.param({"Type": 1, "deviceList": ["{imei}"]}, id="Type-int"),
        pytest.param({"Type": None, "deviceList": ["{imei}"]}, id="Type-null"),
        pytest.param({"deviceList": ["{imei}"]}, id="Type-missing"),
        pytest.param({"Type": "append"}, id="deviceList-missing"),
        pytest.param({"Type": "append", "deviceList": "{imei}"}, id="deviceList-string"),
        pytest.param({"Type": "append", "deviceList": [123456789012345]}, id="deviceList-of-ints"),
    ],
)
def test_bad_add_remove_request_is_400_and_changes_nothing(ctx: Ctx, body: dict[str, Any]) -> None:
    report = f"{V3}/reports/{ctx.account.name}/campaigns/{ctx.campaign_id}/devices"
    with ctx.api() as api:
        before = api.get(report).json()["deviceList"]
        r = api.put(f"{V3}/campaigns/firmware/{ctx.account.name}/{ctx.campaign_id}", json=resolve(ctx, body))
        assert_error(r, 400, "InvalidRequest")
        after = api.get(report).json()["deviceList"]
    assert [(d["deviceId"], d["status"]) for d in after] == [(d["deviceId"], d["status"]) for d in before]


# ----------------------------------------------------------------------------------------------------
# deviceList bodies of licenses, firmware sync and device lookup

DEVICE_LIST_ROUTES = [
    ("POST", V3 + "/licenses/{acc}/assign"),
    ("POST", V3 + "/licenses/{acc}/remove"),
    ("PUT", V3 + "/firmware/{acc}/devices"),
    ("POST", V3 + "/devices/{acc}"),
    ("POST", V2 + "/licenses/{acc}/cancel"),
]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="missing"),
        pytest.param({"deviceList": None}, id="null"),
        pytest.param({"deviceList": 5}, id="int"),
        pytest.param({"deviceList": "{imei}"}, id="string"),
        pytest.param({"deviceList": [123456789012345]}, id="list-of-ints"),
        pytest.param({"deviceList": [["{imei}"]]}, id="nested-list"),
        pytest.param({"devices": ["{imei}"]}, id="wrong-key"),
    ],
)
@pytest.mark.parametrize(("method", "path"), [pytest.param(*r, id=f"{r[0]} {r[1]}") for r in DEVICE_LIST_ROUTES])
def test_bad_device_list_is_400(ctx: Ctx, method: str, path: str, body: dict[str, Any]) -> None:
    with ctx.api() as api:
        r = api.request(method, path.format(acc=ctx.account.name), json=resolve(ctx, body))
    assert_error(r, 400, "InvalidRequest")


def test_license_assign_with_malformed_imei_is_400(ctx: Ctx) -> None:
    with ctx.api() as api:
        r = api.post(f"{V3}/licenses/{ctx.account.name}/assign", json={"deviceList": ["not-an-imei"]})
    assert_error(r, 400, "InvalidRequest")


def test_firmware_sync_takes_at_most_100_devices(ctx: Ctx) -> None:
    account = ctx.server.new_account()
    devices = [device(ctx.fw) for _ in range(101)]
    account.add_devices(devices)
    imeis = [d["deviceId"] for d in devices]
    with account.client() as api:
        r = api.put(f"/firmware/{account.name}/devices", json={"deviceList": imeis})
        assert_error(r, 400, "InvalidRequest")
        r = api.put(f"/firmware/{account.name}/devices", json={"deviceList": imeis[:100]})
        assert r.status_code == 200, r.text
        assert len(r.json()["deviceFirmwarVersionList"]) == 100


# ----------------------------------------------------------------------------------------------------
# Content-Type: */* with a JSON body is accepted


def test_create_campaign_accepts_json_labelled_star_star(ctx: Ctx) -> None:
    account = ctx.server.new_account()
    imei = luhn_imei()
    account.add_devices([device(ctx.fw, imei)])
    body = {**ctx.campaign_body(), "deviceList": [imei]}
    with account.client() as api:
        r = api.post(
            f"/campaigns/firmware/{account.name}",
            content=json.dumps(body).encode(),
            headers={"Content-Type": "*/*"},
        )
        assert r.status_code == 200, r.text
        got = api.get(f"/campaigns/{account.name}/{r.json()['id']}")
    assert got.status_code == 200, got.text
    assert got.json()["firmwareName"] == ctx.fw["firmwareName"]
    assert got.json()["startDate"] == body["startDate"]


def test_v2_cancel_list_accepts_json_labelled_star_star(ctx: Ctx) -> None:
    account = ctx.server.new_account()
    imei = luhn_imei()
    account.add_devices([device(ctx.fw, imei)])
    with ctx.server.client(headers=account.headers()) as api:
        payload = json.dumps({"deviceList": [imei]}).encode()
        r = api.post(f"{V2}/licenses/{account.name}/cancel", content=payload, headers={"Content-Type": "*/*"})
        assert r.status_code == 200, r.text
        listed = api.get(f"{V2}/licenses/{account.name}/cancel")
    assert listed.status_code == 200, listed.text
    assert listed.json()["deviceList"] == [imei]


def test_star_star_body_that_is_not_json_is_still_400(ctx: Ctx) -> None:
    before = ctx.stored_campaigns()
    with ctx.api() as api:
        r = api.post(
            f"{V3}/campaigns/firmware/{ctx.account.name}",
            content=b"firmwareName=x",
            headers={"Content-Type": "*/*"},
        )
    assert_error(r, 400, "InvalidRequest")
    assert ctx.stored_campaigns() == before
