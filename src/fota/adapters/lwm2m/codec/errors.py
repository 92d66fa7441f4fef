"""The one error every codec raises on input it cannot decode or a value it cannot encode."""

from __future__ import annotations


class CodecError(ValueError):
    """Malformed payload, or a value that does not fit the format; the message says where and why."""
