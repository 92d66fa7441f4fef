"""ThingSpace v2 (`/api/fota/v2`): routes and bodies that translate v2's wire shapes onto the shared services."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.routing import APIRoute

from fota.adapters.http.v2 import accounts, campaigns, files, logging, reports


def routers() -> tuple[APIRouter, ...]:
    """The v2 routers, each operation summarised in OpenAPI (and `/docs`) by its docstring's one line."""
    found = (accounts.router, campaigns.router, reports.router, files.router, logging.router)
    for router in found:
        for route in router.routes:
            if isinstance(route, APIRoute) and route.description and not route.summary:
                route.summary = route.description.strip().splitlines()[0]
    return found
