"""A route class whose OpenAPI summary is the first line of the endpoint's docstring.

FastAPI otherwise titles an operation after its function name and puts the docstring in the description; routers
that document each endpoint in one line use this class so `/docs` shows that line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute


class DocstringSummaryRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        doc = (endpoint.__doc__ or "").strip()
        if doc and kwargs.get("summary") is None:
            kwargs["summary"] = doc.splitlines()[0]
        super().__init__(path, endpoint, **kwargs)
