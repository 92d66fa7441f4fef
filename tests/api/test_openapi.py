"""`/openapi.json` describes every ThingSpace and admin route with its real request and response schemas, and
`/docs` renders it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fota_server import FotaServer

V3 = "/api/fota/v3"
V2 = "/api/fota/v2"
# Every v2 operation of the contract (§5) but the cancel list, which ROUTES names; each with its SDK summary.
V2_ROUTES = [
    ("get", f"{V2}/subscriptions/{{account}}"),
    ("get", f"{V2}/licenses/{{account}}"),
    ("post", f"{V2}/licenses/{{account}}/assign"),
    ("post", f"{V2}/licenses/{{account}}/remove"),
    ("post", f"{V2}/campaigns/{{account}}"),
    ("get", f"{V2}/campaigns/{{account}}/{{campaign_id}}"),
    ("put", f"{V2}/campaigns/{{account}}/{{campaign_id}}"),
    ("delete", f"{V2}/campaigns/{{account}}/{{campaign_id}}"),
    ("put", f"{V2}/campaigns/{{account}}/{{campaign_id}}/dates"),
    ("post", f"{V2}/campaigns/files/{{account}}"),
    ("post", f"{V2}/campaigns/software/{{account}}"),
    ("get", f"{V2}/callbacks/{{account}}"),
    ("post", f"{V2}/callbacks/{{account}}"),
    ("put", f"{V2}/callbacks/{{account}}"),
    ("delete", f"{V2}/callbacks/{{account}}"),
    ("get", f"{V2}/software/{{account}}"),
    ("get", f"{V2}/devices/{{account}}"),
    ("get", f"{V2}/reports/{{account}}/devices/{{device_id}}"),
    ("get", f"{V2}/reports/{{account}}/campaigns"),
    ("get", f"{V2}/reports/{{account}}/campaigns/{{campaign_id}}/devices"),
    ("get", f"{V2}/logging/{{account}}/devices"),
    ("put", f"{V2}/logging/{{account}}/devices"),
    ("delete", f"{V2}/logging/{{account}}/devices"),
    ("put", f"{V2}/logging/{{account}}/devices/{{device_id}}"),
    ("delete", f"{V2}/logging/{{account}}/devices/{{device_id}}"),
    ("get", f"{V2}/logging/{{account}}/devices/{{device_id}}/logs"),
    ("get", f"{V2}/logging/{{account}}/devices/{{device_id}}/checkInHistory"),
    ("get", f"{V2}/files/{{account}}"),
    ("post", f"{V2}/files/{{account}}"),
]
ROUTES = [
    ("post", "/api/ts/v1/oauth2/token"),
    ("post", "/api/m2m/v1/session/login"),
    ("post", "/api/m2m/v1/session/logout"),
    ("put", "/api/m2m/v1/session/password/actions/reset"),
    ("get", f"{V3}/subscriptions/{{account}}"),
    ("get", f"{V3}/licenses/{{account}}"),
    ("post", f"{V3}/licenses/{{account}}/assign"),
    ("post", f"{V3}/licenses/{{account}}/remove"),
    ("post", f"{V3}/campaigns/firmware/{{account}}"),
    ("post", f"{V3}/campaigns/firmware/{{account}}/preview"),
    ("post", f"{V3}/campaigns/{{account}}/{{campaign_id}}/follow-up"),
    ("put", f"{V3}/campaigns/firmware/{{account}}/{{campaign_id}}"),
    ("put", f"{V3}/campaigns/firmware/{{account}}/{{campaign_id}}/dates"),
    ("get", f"{V3}/campaigns/{{account}}/{{campaign_id}}"),
    ("delete", f"{V3}/campaigns/{{account}}/{{campaign_id}}"),
    ("get", f"{V3}/firmware/{{account}}"),
    ("put", f"{V3}/firmware/{{account}}/devices"),
    ("put", f"{V3}/firmware/{{account}}/async/{{device_id}}"),
    ("get", f"{V3}/callbacks/{{account}}"),
    ("post", f"{V3}/callbacks/{{account}}"),
    ("put", f"{V3}/callbacks/{{account}}"),
    ("delete", f"{V3}/callbacks/{{account}}"),
    ("get", f"{V3}/reports/{{account}}/firmware/campaigns"),
    ("get", f"{V3}/reports/{{account}}/campaigns"),
    ("get", f"{V3}/reports/{{account}}/devices/{{device_id}}"),
    ("get", f"{V3}/reports/{{account}}/campaigns/{{campaign_id}}/devices"),
    ("get", f"{V3}/devices/{{account}}"),
    ("post", f"{V3}/devices/{{account}}"),
    ("get", "/api/fota/v2/licenses/{account}/cancel"),
    ("post", "/api/fota/v2/licenses/{account}/cancel"),
    ("delete", "/api/fota/v2/licenses/{account}/cancel"),
    ("post", "/admin/v1/accounts"),
    ("post", "/admin/v1/accounts/{account}/clients"),
    ("post", "/admin/v1/accounts/{account}/users"),
    ("post", "/admin/v1/accounts/{account}/devices"),
    ("get", "/admin/v1/accounts/{account}/devices/{device_id}"),
    ("patch", "/admin/v1/accounts/{account}/devices/{device_id}"),
    ("post", "/admin/v1/firmware"),
    ("put", "/admin/v1/firmware/{firmware_name}/image"),
    ("post", "/admin/v1/clock"),
    *V2_ROUTES,
]
WITH_BODY = {
    "/api/ts/v1/oauth2/token",
    "/api/m2m/v1/session/login",
    f"{V3}/licenses/{{account}}/assign",
    f"{V3}/campaigns/firmware/{{account}}",
    f"{V3}/campaigns/firmware/{{account}}/preview",
    f"{V3}/campaigns/{{account}}/{{campaign_id}}/follow-up",
    f"{V3}/campaigns/firmware/{{account}}/{{campaign_id}}/dates",
    "/admin/v1/firmware/{firmware_name}/image",
    "/api/fota/v2/licenses/{account}/cancel",
}


@pytest.fixture(scope="module")
def spec(in_process_server: FotaServer) -> dict[str, Any]:
    server = in_process_server
    r = server.http.get("/openapi.json")
    assert r.status_code == 200
    return dict(r.json())


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_route_is_described_with_schemas(spec: dict[str, Any], method: str, path: str) -> None:
    operation = spec["paths"][path][method]
    success = next(code for code in operation["responses"] if code.startswith("2"))
    content = operation["responses"][success]["content"]
    assert any("schema" in media for media in content.values()), f"{method} {path}: no response schema"
    if path in WITH_BODY and not (method == "get" or method == "delete"):
        body = operation["requestBody"]["content"]
        assert all("schema" in media for media in body.values())
    if path.startswith((V3, V2)):
        for status in ("400", "401", "403", "404"):
            schema = operation["responses"][status]["content"]["application/json"]["schema"]
            assert set(schema["required"]) == {"errorCode", "errorMessage"}


@pytest.mark.parametrize(("method", "path"), V2_ROUTES)
def test_v2_route_is_summarised_in_one_line(spec: dict[str, Any], method: str, path: str) -> None:
    summary = spec["paths"][path][method]["summary"]
    assert summary.endswith(".") and "\n" not in summary, summary


def test_every_operation_is_summarised_in_one_line_and_described(spec: dict[str, Any]) -> None:
    """Each route's docstring is its description, and its first line the summary `/docs` lists it by."""
    methods = {"get", "put", "post", "delete", "patch", "head", "options"}
    operations = [(m, p, op) for p, item in spec["paths"].items() for m, op in item.items() if m in methods]
    assert len(operations) >= 100
    for method, path, operation in operations:
        summary, description = operation.get("summary", ""), operation.get("description", "")
        assert description.strip(), f"{method} {path}: the route has no docstring"
        assert summary.strip() and "\n" not in summary, f"{method} {path}: {summary!r}"


def test_campaign_schemas_spell_the_wire_names(spec: dict[str, Any]) -> None:
    create = spec["components"]["schemas"]["CampaignCreate"]["properties"]
    assert {
        "firmwareName",
        "firmwareFrom",
        "firmwareTo",
        "protocol",
        "startDate",
        "endDate",
        "deviceList",
        "autoAssignLicenseFlag",
        "autoAddDevicesFlag",
        "campaignName",
        "campaignTimeWindowList",
    } <= set(create)
    read = spec["components"]["schemas"]["CampaignRead"]["properties"]
    assert {"campaignTimeWindowList", "timeWindowList", "autoAssignLicenseFlag", "status"} <= set(read)
    firmware_list = spec["components"]["schemas"]["DeviceFirmwareListRead"]["properties"]
    assert "deviceFirmwarVersionList" in firmware_list


def test_docs_page_renders_the_spec(in_process_server: FotaServer) -> None:
    server = in_process_server
    r = server.http.get("/docs")
    assert r.status_code == 200
    assert "/openapi.json" in r.text
    assert "cdn." not in r.text, "the docs page must work without the internet"
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/docs/static/{asset}" in r.text
        assert server.http.get(f"/docs/static/{asset}").status_code == 200


V1 = "/api/fota/v1"
V1_ROUTES = [
    ("get", f"{V1}/subscriptions/{{account}}"),
    ("get", f"{V1}/licenses/{{account}}/index/{{start_index}}"),
    ("post", f"{V1}/licenses/{{account}}/assign"),
    ("post", f"{V1}/licenses/{{account}}/remove"),
    ("post", f"{V1}/licenses/{{account}}/cancel"),
    ("delete", f"{V1}/licenses/{{account}}/cancel"),
    ("get", f"{V1}/licenses/{{account}}/cancel/index/{{start_index}}"),
    ("get", f"{V1}/firmware/{{account}}"),
    ("post", f"{V1}/upgrades"),
    ("get", f"{V1}/upgrades/{{account}}/upgrade/{{upgrade_id}}"),
    ("put", f"{V1}/upgrades/{{account}}/upgrade/{{upgrade_id}}"),
    ("delete", f"{V1}/upgrades/{{account}}/upgrade/{{upgrade_id}}"),
    ("get", f"{V1}/callbacks/{{account}}"),
    ("post", f"{V1}/callbacks/{{account}}"),
    ("delete", f"{V1}/callbacks/{{account}}/name/{{service}}"),
    ("get", f"{V1}/devices/{{account}}/index/{{start_index}}"),
    ("get", f"{V1}/reports/{{account}}/status/{{upgrade_status}}/index/{{start_index}}"),
    ("get", f"{V1}/reports/{{account}}/devices/{{device_id}}"),
]


def test_v1_routes_are_all_described_with_a_summary_and_the_error_shape(spec: dict[str, Any]) -> None:
    described = {(m, p) for p, item in spec["paths"].items() if p.startswith(V1) for m in item}
    assert described == set(V1_ROUTES)
    for method, path in V1_ROUTES:
        operation = spec["paths"][path][method]
        assert operation["summary"] and not operation["summary"].startswith(("List ", "Get ")), operation["summary"]
        success = next(code for code in operation["responses"] if code.startswith("2"))
        assert "schema" in operation["responses"][success]["content"]["application/json"]
        for status in ("400", "401", "403", "404"):
            schema = operation["responses"][status]["content"]["application/json"]["schema"]
            assert set(schema["required"]) == {"errorCode", "errorMessage"}


def test_v1_schemas_spell_the_v1_wire_names(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    assert {"accountName", "firmwareName", "firmwareTo", "startDate", "endDate", "deviceList"} <= set(
        schemas["V1UpgradeCreate"]["properties"]
    )
    assert {"hasMoreFlag", "lastSeenUpgradeId", "reportList"} == set(schemas["V1UpgradeListRead"]["properties"])
    assert {"fromVersion", "toVersion"} <= set(schemas["V1FirmwareRead"]["properties"])
    assert "Reason" in schemas["V1DeviceChangeRead"]["properties"]
