"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from fota.adapters.http.dependencies import ContainerDep
from fota.adapters.http.summaries import DocstringSummaryRoute
from fota.adapters.storage.database import migrations_current

router = APIRouter(tags=["health"], route_class=DocstringSummaryRoute)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(c: ContainerDep) -> JSONResponse:
    """Readiness: the database answers and its schema is current."""
    try:
        with c.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current = migrations_current(c.engine)
    except SQLAlchemyError as error:
        return JSONResponse({"status": "unavailable", "database": str(error.__class__.__name__)}, status_code=503)
    if not current:
        return JSONResponse({"status": "unavailable", "migrations": "behind"}, status_code=503)
    return JSONResponse({"status": "ready"})
