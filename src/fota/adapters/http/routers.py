"""The HTTP adapter's routers, in the order the app includes them (the probes every process serves, and the API),
and the static assets the API mounts."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.routing import Mount

from fota.adapters.http import v1, v2
from fota.adapters.http.routes import (
    admin,
    admin_bootstrap,
    admin_firmware,
    auth,
    campaign_preview,
    campaigns,
    device_api,
    devices,
    docs,
    downloads,
    follow_up,
    health,
    licenses,
    reports,
)
from fota.adapters.http.routes import metrics as metrics_route


def probe_routers() -> list[APIRouter]:
    """/healthz, /readyz and /metrics: what a process without the API role still serves to its supervisor."""
    return [health.router, metrics_route.router]


def api_routers() -> list[APIRouter]:
    """The ThingSpace-compatible API (v1, v2, v3), the admin API, the device protocol and downloads, with the probes."""
    return [
        *probe_routers(),
        # The fleet's own requests first: every request is matched against the routes in this order, and a check-in
        # behind the ~200 routes of the ThingSpace and admin APIs spent more in matching than in its own work. Their
        # paths (/device/v1, /fw) are no other router's, so no match changes.
        device_api.router,
        downloads.router,
        auth.router,
        campaigns.router,
        campaign_preview.router,
        follow_up.router,
        reports.router,
        licenses.v3,
        licenses.v2,
        *v2.routers(),
        devices.router,
        admin.router,
        admin_bootstrap.router,
        admin_firmware.router,
        *v1.ROUTERS,
        docs.router,
    ]


def api_mounts() -> list[Mount]:
    """The vendored Swagger UI assets /docs loads."""
    return [docs.static_mount()]
