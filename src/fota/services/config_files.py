"""v2 configuration files: an account uploads a file, fota stores it like a firmware image (size, sha256) in the
catalogue as an entry of kind "file" that only that account sees and can push in a campaign."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass

from fota.clock import Clock
from fota.domain.campaign import Firmware
from fota.domain.errors import InvalidRequest
from fota.domain.protocols import Protocol
from fota.services.ports import UnitOfWork

MAX_FILE_BYTES = 64 * 1024 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class FileUpload:
    data: bytes
    original_name: str
    file_version: str
    make: str
    model: str
    local_target_path: str
    protocol: str = "HTTP"


def _required(name: str, value: str, limit: int) -> str:
    if not value or len(value) > limit:
        raise InvalidRequest(f"{name} is required, at most {limit} characters")
    return value


def upload_file(*, uow: UnitOfWork, clock: Clock, account_name: str, upload: FileUpload) -> Firmware:
    """Stores the file under a name fota chooses (ThingSpace assigns `fileName`), with its size and sha256."""
    if not upload.data:
        raise InvalidRequest("fileupload is empty")
    if len(upload.data) > MAX_FILE_BYTES:
        raise InvalidRequest(f"fileupload is larger than {MAX_FILE_BYTES} bytes")
    version = _required("fileVersion", upload.file_version, 128)
    stem = _UNSAFE.sub("_", upload.original_name.rsplit("/", 1)[-1])[:120].strip("._") or "file"
    entry = Firmware(
        name=f"{stem}_{uuid.uuid4().hex[:12]}",
        make=_required("make", upload.make, 128),
        model=_required("model", upload.model, 128),
        firmware_from="",
        firmware_to=version,
        protocol=Protocol.parse(upload.protocol),
        release_note="",
        launch_date=clock.now(),
        kind="file",
        owner_account=account_name,
        local_target_path=_required("localTargetPath", upload.local_target_path, 1024),
    )
    digest = hashlib.sha256(upload.data).hexdigest()
    with uow:
        uow.firmware.add(entry)
        uow.firmware.set_image(entry.name, upload.data, sha256=digest)
        stored = uow.firmware.get(entry.name)
        uow.commit()
    assert stored is not None
    return stored


def list_files(*, uow: UnitOfWork, account_name: str, protocol: Protocol | None) -> list[Firmware]:
    with uow:
        return uow.firmware.list(protocol, kind="file", owner_account=account_name)
