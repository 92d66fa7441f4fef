"""`GET /metrics`: the process's Prometheus metrics, in the text exposition format, without authentication.

Like /healthz it is meant for the scraper on the operator's network, so it sits outside the API's auth and out of
the OpenAPI document. It reveals counts only, never an account, device or token.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from fota.adapters import metrics

router = APIRouter(tags=["operations"], include_in_schema=False)


@router.get("/metrics")
async def prometheus_metrics() -> Response:
    # async on purpose: the gauges' callbacks read state owned by the event loop (LwM2M registrations, downloads).
    """Prometheus metrics of this process."""
    return Response(content=metrics.exposition(), media_type=metrics.CONTENT_TYPE)
