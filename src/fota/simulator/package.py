"""The simulated firmware package format: a one-line header naming the version and the body's sha256, then the body.

Devices verify it before reporting Downloaded, so a corrupt or foreign image surfaces as the LwM2M Update Result a
real client would report (5 Integrity check failure, 6 Unsupported package type).
"""

from __future__ import annotations

import hashlib
import re

MAGIC = b"FOTA-SIM-FIRMWARE"
_VERSION_RE = re.compile(r"[!-~]+")  # printable ASCII without spaces: the header is space-separated


class PackageError(ValueError):
    """The image cannot be installed; `update_result` is the LwM2M /5/0/5 value a device reports for it."""

    update_result = 8


class UnsupportedPackage(PackageError):
    """Not a simulator image at all (missing or malformed header)."""

    update_result = 6


class IntegrityFailure(PackageError):
    """The header is fine but the body does not match its sha256."""

    update_result = 5


def _header(version: str, digest: str) -> bytes:
    return MAGIC + f" version={version} sha256={digest}\n".encode("ascii")


def build_image(version: str, size: int, seed: int = 0) -> bytes:
    """Return a `size`-byte image for `version`; the same arguments always give the same bytes."""
    if not _VERSION_RE.fullmatch(version):
        raise ValueError(f"version must be printable ASCII without spaces: {version!r}")
    header_len = len(_header(version, "0" * 64))
    if size < header_len:
        raise ValueError(f"size must be at least {header_len} bytes for version {version!r}")
    # shake_256 is a deterministic stream of any length: reproducible across runs and Python versions.
    body = hashlib.shake_256(f"{version}\0{seed}".encode()).digest(size - header_len)
    return _header(version, hashlib.sha256(body).hexdigest()) + body


def parse_image(data: bytes) -> str:
    """Return the version carried by `data`, or raise UnsupportedPackage / IntegrityFailure."""
    newline = data.find(b"\n")
    if newline < 0 or not data.startswith(MAGIC + b" "):
        raise UnsupportedPackage("not a FOTA-SIM-FIRMWARE image")
    try:
        fields = dict(token.split("=", 1) for token in data[len(MAGIC) + 1 : newline].decode("ascii").split(" "))
    except (UnicodeDecodeError, ValueError) as exc:
        raise UnsupportedPackage("malformed image header") from exc
    version, digest = fields.get("version", ""), fields.get("sha256", "")
    if not _VERSION_RE.fullmatch(version) or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise UnsupportedPackage("image header lacks version or sha256")
    if hashlib.sha256(data[newline + 1 :]).hexdigest() != digest:
        raise IntegrityFailure(f"sha256 mismatch for version {version}")
    return version
