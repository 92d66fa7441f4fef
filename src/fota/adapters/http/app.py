"""The FastAPI application, built from what `fota.runtime` hands it: its parts, its routers and mounts, and the
lifespan of the background services beside it; plus the error handlers, the `*/*` body fix and observability."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import APIRouter, FastAPI
from starlette.routing import Mount

from fota import __version__
from fota.adapters.http.content_type import JsonContentTypeMiddleware
from fota.adapters.http.errors import install_error_handlers
from fota.adapters.http.hot_routes import HotRoutes
from fota.adapters.http.observability import HttpMetricsMiddleware, RequestIdMiddleware
from fota.adapters.http.parts import ApiParts

# Runs the process's background services (the LwM2M server, the engine's loops, ...) while the app serves.
Lifespan = Callable[[], AbstractAsyncContextManager[None]]


def create_app(
    parts: ApiParts,
    *,
    routers: Sequence[APIRouter],
    mounts: Sequence[Mount] = (),
    lifespan: Lifespan,
    hot_routes: bool = False,
) -> FastAPI:
    """`hot_routes`: the hottest reads answered in front of the routers (hot_routes.py); only beside the API's."""

    @asynccontextmanager
    async def app_lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with lifespan():
            yield

    app = FastAPI(
        title="fota",
        version=__version__,
        description="Firmware-over-the-air campaign server, wire-compatible with ThingSpace Software Management.",
        lifespan=app_lifespan,
        docs_url=None,  # served by routes/docs.py from vendored assets
        redoc_url=None,
    )
    app.state.parts = parts
    if hot_routes:
        app.add_middleware(HotRoutes, parts=parts)
    app.add_middleware(JsonContentTypeMiddleware)
    # Added last, so outermost: every request is counted and timed, and has its id before anything logs.
    app.add_middleware(HttpMetricsMiddleware)
    app.add_middleware(RequestIdMiddleware)
    install_error_handlers(app)
    for router in routers:
        app.include_router(router)
    app.router.routes.extend(mounts)
    return app
