"""A page whose items the store wrote as the wire's JSON (docs/adr/0034), answered inside the envelope pydantic
writes for it."""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel


def with_items(envelope: BaseModel, items: str) -> Response:
    """`envelope`, written with an empty list as its last field, with `items` put inside that list."""
    return Response(json_with_items(envelope, items), media_type="application/json")


def json_with_items(envelope: BaseModel, items: str) -> bytes:
    written = envelope.model_dump_json(exclude_none=True)
    head, empty_list = written[:-3], written[-3:]
    assert empty_list == "[]}", written
    return f"{head}[{items}]}}".encode()
