"""The FastAPI application: routers, error handlers, the `*/*` body fix, and the engine loop's lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from fota import __version__
from fota.adapters.engine_loop import EngineLoop
from fota.adapters.http.content_type import JsonContentTypeMiddleware
from fota.adapters.http.errors import install_error_handlers
from fota.adapters.http.routes import admin, auth, campaigns, devices, health, licenses, reports
from fota.bootstrap import Container


def create_app(container: Container, *, run_engine: bool = True) -> FastAPI:
    loop = EngineLoop(container)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if run_engine:
            loop.start()
        try:
            yield
        finally:
            await loop.stop()
            container.engine.dispose()

    app = FastAPI(
        title="fota",
        version=__version__,
        description="Firmware-over-the-air campaign server, wire-compatible with ThingSpace Software Management.",
        lifespan=lifespan,
    )
    app.state.container = container
    app.add_middleware(JsonContentTypeMiddleware)
    install_error_handlers(app)
    for router in (
        health.router,
        auth.router,
        campaigns.router,
        reports.router,
        licenses.v3,
        licenses.v2,
        devices.router,
        admin.router,
    ):
        app.include_router(router)
    return app
