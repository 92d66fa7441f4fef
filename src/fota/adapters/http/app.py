"""The FastAPI application: routers, error handlers, the `*/*` body fix, and the engine loop's lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from fota import __version__
from fota.adapters.engine_loop import EngineLoop
from fota.adapters.http.content_type import JsonContentTypeMiddleware
from fota.adapters.http.errors import install_error_handlers
from fota.adapters.http.routes import admin, auth, campaigns, device_api, devices, downloads, health, licenses, reports
from fota.adapters.lwm2m.downloads import DownloadGate, PackageStore
from fota.adapters.lwm2m.server import Lwm2mServer
from fota.adapters.outbox_loop import OutboxLoop
from fota.bootstrap import Container


def create_app(container: Container, *, run_engine: bool = True) -> FastAPI:
    loop = EngineLoop(container)
    settings = container.settings
    packages = PackageStore(container)
    download_gate = DownloadGate(settings.max_downloads)
    lwm2m = (
        Lwm2mServer(
            container,
            host=settings.coap_host,
            port=settings.coap_port,
            packages=packages,
            gate=download_gate,
            coap_base_url=settings.public_coap_url or f"coap://{_reachable(settings.coap_host)}:{settings.coap_port}",
            http_base_url=settings.public_http_url,
        )
        if settings.coap_port is not None
        else None
    )
    outbox = OutboxLoop(container)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if lwm2m is not None:
            await lwm2m.start()
        if run_engine:
            loop.start()
            outbox.start()
        try:
            yield
        finally:
            if lwm2m is not None:
                await lwm2m.stop()
            await loop.stop()
            await outbox.stop()
            container.engine.dispose()

    app = FastAPI(
        title="fota",
        version=__version__,
        description="Firmware-over-the-air campaign server, wire-compatible with ThingSpace Software Management.",
        lifespan=lifespan,
    )
    app.state.container = container
    app.state.packages = packages
    app.state.download_gate = download_gate
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
        downloads.router,
        device_api.router,
    ):
        app.include_router(router)
    return app


def _reachable(host: str) -> str:
    """A host a device on this machine can reach when we listen on every address."""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - comparing, not binding
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
