"""The FastAPI application: routers, error handlers, the `*/*` body fix, observability, the engine loop's lifespan.

Which parts run follows the process's roles (`fota serve --role`): the API routes, the engine and outbox loops,
the LwM2M server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Protocol

from fastapi import FastAPI

from fota import __version__
from fota.adapters import metrics
from fota.adapters.console import routes as console
from fota.adapters.engine_loop import EngineLoop
from fota.adapters.http import v1, v2
from fota.adapters.http.content_type import JsonContentTypeMiddleware
from fota.adapters.http.errors import install_error_handlers
from fota.adapters.http.observability import HttpMetricsMiddleware, RequestIdMiddleware
from fota.adapters.http.routes import (
    admin,
    admin_bootstrap,
    admin_firmware,
    auth,
    campaigns,
    device_api,
    devices,
    docs,
    downloads,
    health,
    licenses,
    reports,
)
from fota.adapters.http.routes import metrics as metrics_route
from fota.adapters.lwm2m.bootstrap_server import BootstrapServer
from fota.adapters.lwm2m.downloads import DownloadGate, PackageStore
from fota.adapters.lwm2m.server import Lwm2mServer
from fota.adapters.outbox_loop import OutboxLoop
from fota.adapters.storage.notifications import ENGINE_CHANNEL, OUTBOX_CHANNEL, TOKENS_CHANNEL, NotificationListener
from fota.bootstrap import Container, Role


class BackgroundService(Protocol):
    """Something that runs in the server's event loop beside the API (the demo fleet, for one)."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


def create_app(
    container: Container, *, run_engine: bool = True, background: Sequence[BackgroundService] = ()
) -> FastAPI:
    loop = EngineLoop(container)
    settings = container.settings
    roles = settings.roles
    run_engine = run_engine and Role.ENGINE in roles
    packages = PackageStore(container)
    download_gate = DownloadGate(settings.max_downloads)
    metrics.DOWNLOADS_ACTIVE.set_function(lambda: download_gate.active)
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
        if settings.coap_port is not None and Role.LWM2M in roles
        else None
    )
    bootstrap_server = (
        BootstrapServer(
            container,
            host=settings.coap_host,
            port=settings.bootstrap_port,
            coaps_port=settings.bootstrap_port + 1
            if settings.bootstrap_coaps_port is None
            else settings.bootstrap_coaps_port,
            management=lwm2m,
        )
        if lwm2m is not None and settings.bootstrap_port
        else None
    )
    outbox = OutboxLoop(container)
    # Several processes on PostgreSQL: a commit that enqueues work wakes every engine's loops at once (ADR 9), and a
    # revoked token leaves every API process's token cache, which is trusted only while this listener hears.
    listener = None
    if container.engine.dialect.name == "postgresql" and (run_engine or Role.API in roles):
        wakes = {OUTBOX_CHANNEL: outbox.wake, ENGINE_CHANNEL: loop.wake} if run_engine else {}
        listener = NotificationListener(container.engine, wakes, {TOKENS_CHANNEL: container.tokens.revoked})
        container.tokens.live = listener.listening.is_set

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if lwm2m is not None:
            await lwm2m.start()
        if bootstrap_server is not None:
            await bootstrap_server.start()
        if run_engine:
            loop.start()
            outbox.start()
        if listener is not None:
            listener.start()
        for service in background:
            await service.start()
        try:
            yield
        finally:
            for service in background:
                await service.stop()
            if bootstrap_server is not None:
                await bootstrap_server.stop()
            if lwm2m is not None:
                await lwm2m.stop()
            if listener is not None:
                await asyncio.to_thread(listener.stop)
            await loop.stop()
            await outbox.stop()
            container.engine.dispose()

    app = FastAPI(
        title="fota",
        version=__version__,
        description="Firmware-over-the-air campaign server, wire-compatible with ThingSpace Software Management.",
        lifespan=lifespan,
        docs_url=None,  # served by routes/docs.py from vendored assets
        redoc_url=None,
    )
    app.state.container = container
    app.state.packages = packages
    app.state.download_gate = download_gate
    app.add_middleware(JsonContentTypeMiddleware)
    # Added last, so outermost: every request is counted and timed, and has its id before anything logs.
    app.add_middleware(HttpMetricsMiddleware)
    app.add_middleware(RequestIdMiddleware)
    install_error_handlers(app)
    if Role.API not in roles:
        # An engine- or LwM2M-only process keeps a small listener for its supervisor: /healthz, /readyz, /metrics.
        # Every other path is a 404, so a load balancer that sends it API traffic by mistake fails loudly.
        app.include_router(health.router)
        app.include_router(metrics_route.router)
        return app
    for router in (
        health.router,
        metrics_route.router,
        auth.router,
        campaigns.router,
        reports.router,
        licenses.v3,
        licenses.v2,
        *v2.routers(),
        devices.router,
        admin.router,
        admin_bootstrap.router,
        admin_firmware.router,
        downloads.router,
        device_api.router,
        console.router,
        *v1.ROUTERS,
    ):
        app.include_router(router)
    app.include_router(docs.router)
    docs.mount_static(app)
    app.mount("/console/static", console.static_files(), name="console-static")
    return app


def _reachable(host: str) -> str:
    """A host a device on this machine can reach when we listen on every address."""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - comparing, not binding
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
