"""The route class of fota's routers: its OpenAPI summary is the first line of the endpoint's docstring, a plain
`def` endpoint runs on the thread pool in one hop (a read of many rows in a narrower lane of it), and it tells the
metrics middleware which route answered.

FastAPI otherwise titles an operation after its function name and puts the docstring in the description; routers
that document each endpoint in one line use this class so `/docs` shows that line.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from fastapi.routing import APIRoute
from starlette.types import Receive, Scope, Send

# The scope key of the middleware's note: a dict shared by every copy of the scope that routing makes.
ROUTE_NOTE = "fota.route"

# How many reads of many rows (a report page, the license summary) run at once; sized when the app is built
# (runtime/api.py): one on SQLite, whose driver releases the interpreter lock around every row it steps. Four such
# pages at once cost about three times the CPU of one after another, each thread waiting to take the lock back
# (docs/adr/0033-hot-routes.md).
ROW_READS = anyio.CapacityLimiter(8)
_MANY_ROWS = "fota_many_rows"

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def many_rows(endpoint: Endpoint) -> Endpoint:
    """Marks a plain endpoint that reads many rows: it runs in the ROW_READS lane of the thread pool."""
    setattr(endpoint, _MANY_ROWS, True)
    return endpoint


class ApiRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        doc = (endpoint.__doc__ or "").strip()
        if doc and kwargs.get("summary") is None:
            kwargs["summary"] = doc.splitlines()[0]
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _on_thread_pool(endpoint)
        super().__init__(path, endpoint, **kwargs)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Saves the middleware matching the path against every route again after the answer.
        note = scope.get(ROUTE_NOTE)
        if note is not None:
            note["template"] = self.path_format
        await super().handle(scope, receive, send)


def _on_thread_pool(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """The endpoint as a coroutine that runs it on the thread pool. FastAPI runs a plain `def` endpoint there itself,
    then goes back to the pool a second time to check the response against its model: one hop less per call."""

    limiter = ROW_READS if getattr(endpoint, _MANY_ROWS, False) else None

    @functools.wraps(endpoint)
    async def on_thread_pool(*args: Any, **kwargs: Any) -> Any:
        return await anyio.to_thread.run_sync(functools.partial(endpoint, *args, **kwargs), limiter=limiter)

    return on_thread_pool
