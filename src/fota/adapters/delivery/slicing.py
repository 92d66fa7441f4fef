"""Cutting a package into what a device asked for: a CoAP Block2 block (any block size, stateless, so a download
resumes at any block) or the byte span of an HTTP Range header."""

from __future__ import annotations


def block(data: bytes, number: int, size: int) -> tuple[bytes, bool] | None:
    """Block `number` of `size` bytes and whether more follow; None past the end."""
    start = number * size
    if start >= len(data) and not (start == 0 and not data):
        return None
    chunk = data[start : start + size]
    return chunk, start + size < len(data)


def parse_range(header: str, total: int) -> tuple[int, int] | None:
    """The first byte range of an HTTP Range header as (start, end inclusive); None if unsatisfiable or absent."""
    if not header.startswith("bytes="):
        return None
    first = header.removeprefix("bytes=").split(",")[0].strip()
    start_text, _, end_text = first.partition("-")
    try:
        if start_text == "":
            length = int(end_text)
            if length <= 0:
                return None
            return max(0, total - length), total - 1
        start = int(start_text)
        end = int(end_text) if end_text else total - 1
    except ValueError:
        return None
    if start >= total or end < start:
        return None
    return start, min(end, total - 1)
