"""ASGI middleware: ThingSpace clients label some JSON bodies `Content-Type: */*`; treat those as JSON."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

LENIENT = {b"*/*", b""}


class JsonContentTypeMiddleware:
    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...] = ("/api/fota/", "/api/m2m/")) -> None:
        self.app = app
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefixes):
            headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
            current = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
            if current.split(b";")[0].strip() in LENIENT:
                scope = {**scope, "headers": [*headers, (b"content-type", b"application/json")]}
        await self.app(scope, receive, send)
