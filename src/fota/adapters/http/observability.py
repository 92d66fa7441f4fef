"""Request ids, request metrics and the access log: two pure ASGI middlewares around the whole application.

Pure ASGI (not Starlette's BaseHTTPMiddleware) so streaming responses, such as firmware downloads, pass through
untouched and a request costs two function calls, not an extra task.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fota.adapters import metrics
from fota.adapters.http.api_route import ROUTE_NOTE
from fota.adapters.logging_setup import REQUEST_ID

REQUEST_ID_HEADER = "X-Request-ID"
# A caller's id is reused only if it is a short plain token: it goes into every log line and a response header.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

# Probes and scrapes arrive every few seconds from machines: logging each at INFO would drown the rest.
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})

access_log = logging.getLogger("fota.access")


def request_id_from(headers: Headers) -> str:
    """The incoming X-Request-ID when it is a sane token, else a new random one."""
    incoming = headers.get(REQUEST_ID_HEADER)
    if incoming is not None and _SANE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Gives each HTTP request an id: in `REQUEST_ID` for the log formatter, and echoed as `X-Request-ID`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(Headers(scope=scope))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        token = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            REQUEST_ID.reset(token)


def route_template(scope: Scope, request: Scope, note: dict[str, str]) -> str:
    """The matched route's path template (`/fw/{token}`), so a label never holds a raw path and its ids or secrets.

    `note` is what an `ApiRoute` wrote when it answered; `request` is a copy of the scope taken before routing,
    matched against the application's routes for the others: /docs, /openapi.json, mounts, the console.
    """
    noted = note.get("template")
    if noted is not None:
        return noted
    # Not `scope["route"]`: FastAPI sets it on a copy of the scope, which this middleware never sees.
    route = _match(scope.get("app"), request)
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) and template else metrics.UNMATCHED_ROUTE


def _match(app: object, request: Scope) -> BaseRoute | None:
    partial = None
    for route in getattr(app, "routes", ()):
        if not isinstance(route, BaseRoute):
            continue
        match, _ = route.matches(request)
        if match is Match.FULL:
            return route
        if match is Match.PARTIAL and partial is None:
            partial = route  # the path matched but not the method: answered 405 under this route
    return partial


class HttpMetricsMiddleware:
    """Counts and times every HTTP request by route template and status, and writes one access log line for it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Routing rewrites root_path and friends in the scope; this is what matching needs, as it arrived.
        request: Scope = {key: scope[key] for key in ("type", "path", "root_path", "method") if key in scope}
        note: dict[str, str] = {}
        scope[ROUTE_NOTE] = note
        status = 500  # what the client gets if the application fails before it answers
        started = time.perf_counter()

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope, request, note)
            method = str(scope.get("method", ""))
            metrics.HTTP_REQUESTS.labels(method, route, str(status)).inc()
            metrics.HTTP_REQUEST_DURATION.labels(method, route).observe(elapsed)
            # The template, not the raw path: some paths carry secrets (download tokens in /fw/{token}). A path
            # no route matched carries none of ours, and it is what one needs to see to explain a 404.
            shown = route if route != metrics.UNMATCHED_ROUTE else str(scope.get("path", ""))[:200]
            access_log.log(
                logging.DEBUG if route in QUIET_ROUTES else logging.INFO,
                "%s %s %d %.1fms",
                method,
                shown,
                status,
                elapsed * 1000,
                extra={"method": method, "route": route, "status": status, "duration_ms": round(elapsed * 1000, 1)},
            )
