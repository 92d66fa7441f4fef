"""The HTTP device protocol (`/device/v1`) for devices that do not speak LwM2M: check in, get told what to do."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header
from pydantic import Field, StrictInt, StrictStr
from starlette.concurrency import run_in_threadpool

from fota.adapters import metrics
from fota.adapters.http.api_route import ApiRoute
from fota.adapters.http.dependencies import ApiPartsDep, ServicesDep, bearer_token
from fota.adapters.http.errors import DEVICE_ERROR_RESPONSES
from fota.adapters.http.parts import ApiParts
from fota.adapters.http.schemas import RequestBody, ResponseBody
from fota.services import device_logging, device_poll

router = APIRouter(
    prefix="/device/v1",
    tags=["HTTP device protocol"],
    responses=DEVICE_ERROR_RESPONSES,
    route_class=ApiRoute,
)


class CheckInBody(RequestBody):
    firmware: StrictStr = Field(min_length=1, max_length=128, description="the firmware version the device runs")
    state: StrictInt = Field(
        default=0, ge=0, le=3, description="as LwM2M /5/0/3: 0 idle, 1 downloading, 2 downloaded, 3 updating"
    )
    update_result: StrictInt = Field(default=0, ge=0, le=9, description="as LwM2M /5/0/5: 1 success, 2-9 failures")


class InstructionRead(ResponseBody):
    action: str = Field(description="none, download or update")
    campaign_id: str | None = None
    firmware_to: str | None = None
    package_url: str | None = None
    size: int | None = None
    sha256: str | None = None
    target_path: str | None = Field(default=None, description="where a configuration file goes on the device")


@router.post("/devices/{device_id}/checkin", response_model_exclude_none=True)
async def check_in(
    device_id: str,
    body: CheckInBody,
    parts: ApiPartsDep,
    authorization: Annotated[str | None, Header()] = None,
) -> InstructionRead:
    """Report the running firmware and the download/update state; the answer says what to do next."""
    return await instruction_for(parts, device_id, body, authorization)


async def instruction_for(
    parts: ApiParts, device_id: str, body: CheckInBody, authorization: str | None
) -> InstructionRead:
    """A check-in's answer, for this route and for the same route answered in front of the routers
    (hot_routes.py); raises a DomainError for an unknown device or a wrong key."""
    poll = device_poll.Poll(device_id, bearer_token(authorization), body.firmware, body.state, body.update_result)
    instruction = await parts.check_ins.check_in(poll, package_base_url=parts.package_base_url)
    metrics.CHECKINS.inc()
    return InstructionRead(**instruction.__dict__)


class LogEntryBody(RequestBody):
    log_type: StrictStr = Field(max_length=32, description="SoftwareUpdate, Event, AgentService, ...")
    event_log: StrictStr = Field(max_length=65536)
    log_time: datetime | None = Field(default=None, strict=False, description="RFC 3339; the server's time if absent")
    binary_log_file_base64: StrictStr = Field(default="", max_length=1_000_000, alias="binaryLogFileBase64")
    binary_log_filename: StrictStr = Field(default="", max_length=255)


class LogUploadBody(RequestBody):
    logs: list[LogEntryBody] = Field(max_length=100)


class LogUploadRead(ResponseBody):
    accepted: int


@router.post("/devices/{device_id}/logs")
async def upload_logs(
    device_id: str, body: LogUploadBody, services: ServicesDep, authorization: Annotated[str | None, Header()] = None
) -> LogUploadRead:
    """Upload log entries; accepted only while the device's account has logging enabled for it."""
    await run_in_threadpool(
        device_poll.authenticate, uow=services.reader(), device_id=device_id, key=bearer_token(authorization)
    )
    entries = [
        device_logging.UploadedLog(e.log_type, e.event_log, e.log_time, e.binary_log_file_base64, e.binary_log_filename)
        for e in body.logs
    ]
    accepted = await run_in_threadpool(
        device_logging.upload, uow=services.uow(), clock=services.clock, device_id=device_id, entries=entries
    )
    return LogUploadRead(accepted=accepted)
