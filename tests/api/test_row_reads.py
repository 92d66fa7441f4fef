"""Reads of many rows run in their own lane of the thread pool (`api_route.ROW_READS`), one at a time on SQLite;
other plain endpoints take the pool's default limiter."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fota.adapters.http import routers
from fota.adapters.http.api_route import ROW_READS, ApiRoute, many_rows
from fota.runtime import Settings
from tests.in_process import build_app

REPORT_PAGES = {
    "/api/fota/v3/reports/{account}/campaigns/{campaign_id}/devices",
    "/api/fota/v2/reports/{account}/campaigns/{campaign_id}/devices",
    "/api/fota/v3/licenses/{account}",
    "/api/fota/v2/licenses/{account}",
    "/api/fota/v1/licenses/{account}/index/{start_index}",
}


def test_a_many_rows_endpoint_borrows_from_the_row_lane_and_another_does_not() -> None:
    seen: dict[str, float] = {}

    @many_rows
    def page() -> None:
        seen["page"] = ROW_READS.borrowed_tokens

    def single() -> None:
        seen["single"] = ROW_READS.borrowed_tokens

    async def call_both() -> None:
        for name, endpoint in (("page", page), ("single", single)):
            route = ApiRoute(f"/{name}", endpoint)
            await route.endpoint()

    asyncio.run(call_both())
    assert seen == {"page": 1, "single": 0}


def test_the_report_pages_and_license_summaries_read_in_the_lane() -> None:
    marked = {
        route.path
        for router in routers.api_routers()
        for route in router.routes
        if isinstance(route, ApiRoute) and getattr(getattr(route.endpoint, "__wrapped__", None), "fota_many_rows", 0)
    }
    assert marked == REPORT_PAGES


def test_the_lane_is_one_read_wide_on_sqlite(tmp_path: Path) -> None:
    build_app(Settings(database_url=f"sqlite:///{tmp_path}/fota.db", simulated_clock=True, coap_port=None))
    assert ROW_READS.total_tokens == 1
