"""Firmware package downloads over HTTP for devices, from per-device expiring links, with Range requests."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response

from fota.adapters import metrics
from fota.adapters.delivery.slicing import parse_range
from fota.adapters.http.api_route import ApiRoute
from fota.adapters.http.parts import ApiParts

# ApiRoute: a download names its route to the metrics without matching the path against every route again.
router = APIRouter(tags=["device downloads"], route_class=ApiRoute)


@router.api_route("/fw/{token}", methods=["GET", "HEAD"], include_in_schema=False)
async def download_package(
    token: str, request: Request, range_header: Annotated[str | None, Header(alias="Range")] = None
) -> Response:
    """A device downloads its firmware package by the token of its link (Range supported)."""
    parts: ApiParts = request.app.state.parts
    store, gate = parts.packages, parts.download_gate
    found = await store.download(token)
    if found is None:
        return Response(status_code=404, content=b"unknown or expired download link")
    package, link = found
    if not gate.admit(token):
        metrics.DOWNLOADS_REFUSED.labels("http").inc()
        return Response(status_code=503, headers={"Retry-After": "30"}, content=b"too many downloads; retry later")
    total = len(package.data)
    headers = {"Accept-Ranges": "bytes", "ETag": f'"{package.etag.hex()}"', "Content-Type": "application/octet-stream"}
    start, end = 0, total - 1
    if range_header:
        span = parse_range(range_header, total)
        if span is None:
            return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{total}"})
        start, end = span
    partial = bool(range_header)
    if link.bandwidth is not None and request.method == "GET" and total:
        # One response goes out from one hour's reservation, so it carries at most one hour's budget: the rest is
        # a 206 the device resumes from with Range (docs/adr/0024).
        clipped = min(end, start + link.bandwidth.bytes_per_hour - 1)
        wait = await store.budget.clear(token, link, offset=start, size=clipped - start + 1, total=total)
        if wait is not None:
            gate.finished(token)
            metrics.BANDWIDTH_WAITS.labels("http").inc()
            retry = {"Retry-After": str(wait.max_age)}
            return Response(status_code=503, headers=retry, content=wait.reason.encode())
        partial = partial or clipped < end
        end = clipped
    if end == total - 1:
        gate.finished(token)
        store.budget.finished(token)
    body = b"" if request.method == "HEAD" else package.data[start : end + 1]
    if partial:
        metrics.record_download("http", len(body), complete=bool(body) and end == total - 1)
        headers |= {"Content-Range": f"bytes {start}-{end}/{total}", "Content-Length": str(end - start + 1)}
        return Response(status_code=206, content=body, headers=headers)
    metrics.record_download("http", len(body), complete=request.method != "HEAD")
    return Response(content=body, headers={**headers, "Content-Length": str(total)})
