"""ThingSpace v2 (`/api/fota/v2`): routes and bodies that translate v2's wire shapes onto the shared services."""

from __future__ import annotations

from fastapi import APIRouter

from fota.adapters.http.v2 import accounts, campaigns, files, logging, reports


def routers() -> tuple[APIRouter, ...]:
    """The v2 routers; each operation is summarised in OpenAPI (and `/docs`) by its docstring's one line."""
    return (accounts.router, campaigns.router, reports.router, files.router, logging.router)
