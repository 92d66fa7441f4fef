"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from fota.adapters.http.api_route import ApiRoute
from fota.adapters.http.dependencies import ApiPartsDep

router = APIRouter(tags=["health"], route_class=ApiRoute)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(parts: ApiPartsDep) -> JSONResponse:
    """Readiness: the database answers and its schema is current."""
    problem = parts.readiness()
    if problem is not None:
        return JSONResponse({"status": "unavailable", **problem}, status_code=503)
    return JSONResponse({"status": "ready"})
