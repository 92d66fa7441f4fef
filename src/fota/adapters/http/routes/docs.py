"""The interactive API documentation at /docs, served from a vendored Swagger UI (no CDN: fota runs offline)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.routing import Mount
from swagger_ui_bundle import swagger_ui_path

router = APIRouter(include_in_schema=False)
STATIC = "/docs/static"


@router.get("/docs")
def swagger_ui() -> HTMLResponse:
    """The interactive API documentation, served from vendored assets."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="fota API",
        swagger_js_url=f"{STATIC}/swagger-ui-bundle.js",
        swagger_css_url=f"{STATIC}/swagger-ui.css",
        swagger_favicon_url=f"{STATIC}/favicon-32x32.png",
    )


def static_mount() -> Mount:
    return Mount(STATIC, app=StaticFiles(directory=swagger_ui_path), name="swagger-ui")
