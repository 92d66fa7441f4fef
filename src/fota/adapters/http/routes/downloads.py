"""Firmware package downloads over HTTP for devices, from per-device expiring links, with Range requests."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response

from fota.adapters import metrics
from fota.adapters.delivery.slicing import parse_range
from fota.adapters.http.parts import ApiParts

router = APIRouter(tags=["device downloads"])


@router.api_route("/fw/{token}", methods=["GET", "HEAD"], include_in_schema=False)
async def download_package(
    token: str, request: Request, range_header: Annotated[str | None, Header(alias="Range")] = None
) -> Response:
    """A device downloads its firmware package by the token of its link (Range supported)."""
    parts: ApiParts = request.app.state.parts
    store, gate = parts.packages, parts.download_gate
    package = await store.package(token)
    if package is None:
        return Response(status_code=404, content=b"unknown or expired download link")
    if not gate.admit(token):
        return Response(status_code=503, headers={"Retry-After": "30"}, content=b"too many downloads; retry later")
    total = len(package.data)
    headers = {"Accept-Ranges": "bytes", "ETag": f'"{package.etag.hex()}"', "Content-Type": "application/octet-stream"}
    if range_header:
        span = parse_range(range_header, total)
        if span is None:
            return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{total}"})
        start, end = span
        if end == total - 1:
            gate.finished(token)
        body = b"" if request.method == "HEAD" else package.data[start : end + 1]
        metrics.record_download("http", len(body), complete=bool(body) and end == total - 1)
        headers |= {"Content-Range": f"bytes {start}-{end}/{total}", "Content-Length": str(end - start + 1)}
        return Response(status_code=206, content=body, headers=headers)
    gate.finished(token)
    body = b"" if request.method == "HEAD" else package.data
    metrics.record_download("http", len(body), complete=request.method != "HEAD")
    return Response(content=body, headers={**headers, "Content-Length": str(total)})
