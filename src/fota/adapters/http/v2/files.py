"""v2 configuration files (contract §5 rows 31-32): list the account's files, upload one (multipart)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile
from starlette.concurrency import run_in_threadpool

from fota.adapters.http import stated
from fota.adapters.http.api_route import ApiRoute
from fota.adapters.http.dependencies import CallerDep, ServicesDep
from fota.adapters.http.errors import ERROR_RESPONSES
from fota.adapters.http.v2.presenters import DEVICE_PLATFORM, available_file
from fota.adapters.http.v2.reports import distribution_filter
from fota.adapters.http.v2.schemas import AvailableFileListRead, UploadedFileRead
from fota.domain.errors import InvalidRequest
from fota.services import config_files

router = APIRouter(
    prefix="/api/fota/v2", tags=["v2 configuration files"], responses=ERROR_RESPONSES, route_class=ApiRoute
)
FormText = Annotated[str | None, Form(max_length=1024)]


@router.get("/files/{account}", response_model_exclude_none=True)
def get_list_of_files(
    account: str,
    services: ServicesDep,
    _: CallerDep,
    distribution_type: Annotated[
        str | None, Query(alias="distributionType", json_schema_extra=stated.PROTOCOL_FILTER)
    ] = None,
) -> AvailableFileListRead:
    """The account's configuration files, optionally of one distribution type."""
    files = config_files.list_files(
        uow=services.reader(), account_name=account, protocol=distribution_filter(distribution_type)
    )
    return AvailableFileListRead(available_files_response=[available_file(f) for f in files])


@router.post("/files/{account}", response_model_exclude_none=True)
async def upload_config_file(
    account: str,
    services: ServicesDep,
    _: CallerDep,
    fileupload: Annotated[UploadFile | None, File(json_schema_extra=stated.FILE_PART)] = None,
    file_version: Annotated[str | None, Form(alias="fileVersion", max_length=128)] = None,
    make: FormText = None,
    model: FormText = None,
    local_target_path: Annotated[str | None, Form(alias="localTargetPath", max_length=1024)] = None,
) -> UploadedFileRead:
    """Upload a configuration file; fota assigns its fileName and keeps its size and sha256."""
    if fileupload is None:
        raise InvalidRequest("the multipart part fileupload is required")
    data = await fileupload.read(config_files.MAX_FILE_BYTES + 1)
    upload = config_files.FileUpload(
        data=data,
        original_name=fileupload.filename or "file",
        file_version=file_version or "",
        make=make or "",
        model=model or "",
        local_target_path=local_target_path or "",
    )
    stored = await run_in_threadpool(
        config_files.upload_file, uow=services.uow(), clock=services.clock, account_name=account, upload=upload
    )
    return UploadedFileRead(
        file_name=stored.name,
        file_version=stored.firmware_to,
        launch_date=stored.launch_date.date(),
        model=stored.model,
        make=stored.make,
        distribution_type=stored.protocol.firmware_spelling,
        device_platform_id=DEVICE_PLATFORM,
        local_target_path=stored.local_target_path or "",
        size=stored.image_size,
        sha256=stored.image_sha256,
    )
