"""v2 client and server logging (contract §5 rows 24-30): which devices log, their logs, their check-in history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from fota.adapters.http import stated
from fota.adapters.http.api_route import ApiRoute
from fota.adapters.http.dependencies import CallerDep, ServicesDep
from fota.adapters.http.errors import ERROR_RESPONSES
from fota.adapters.http.schemas import SuccessRead
from fota.adapters.http.v2.schemas import CheckInHistoryRead, DeviceLogRead, LoggingCreate, LoggingStatusRead
from fota.services import device_logging
from fota.services.ports import LoggingStatus

router = APIRouter(prefix="/api/fota/v2", tags=["v2 device logging"], responses=ERROR_RESPONSES, route_class=ApiRoute)

ImeiPath = Annotated[str, Path(json_schema_extra=stated.IMEI)]


def _status(s: LoggingStatus) -> LoggingStatusRead:
    return LoggingStatusRead(device_id=s.device_id, expiry_date=s.expires_at.date())


@router.get("/logging/{account}/devices")
def list_devices_with_logging_enabled(account: str, services: ServicesDep, _: CallerDep) -> list[LoggingStatusRead]:
    """Devices whose logging is on, with when it expires."""
    return [
        _status(s) for s in device_logging.enabled(uow=services.reader(), clock=services.clock, account_name=account)
    ]


@router.put("/logging/{account}/devices")
def enable_logging_for_devices(
    account: str, body: LoggingCreate, services: ServicesDep, _: CallerDep
) -> list[LoggingStatusRead]:
    """Turn logging on for devices; at most 20 devices of an account log at a time."""
    statuses = device_logging.enable(
        uow=services.uow(), clock=services.clock, account_name=account, device_ids=body.device_ids
    )
    return [_status(s) for s in statuses]


@router.delete("/logging/{account}/devices")
def disable_logging_for_devices(
    account: str,
    services: ServicesDep,
    _: CallerDep,
    device_ids: Annotated[
        str,
        Query(
            alias="deviceIds", max_length=4096, description="IMEIs, comma-separated", json_schema_extra=stated.IMEI_LIST
        ),
    ],
) -> SuccessRead:
    """Turn logging off for a comma-separated list of devices."""
    ids = [d.strip() for d in device_ids.split(",") if d.strip()]
    device_logging.disable(uow=services.uow(), account_name=account, device_ids=ids)
    return SuccessRead(success=True)


@router.put("/logging/{account}/devices/{device_id}")
def enable_device_logging(account: str, device_id: ImeiPath, services: ServicesDep, _: CallerDep) -> LoggingStatusRead:
    """Turn logging on for one device."""
    statuses = device_logging.enable(
        uow=services.uow(), clock=services.clock, account_name=account, device_ids=[device_id]
    )
    return _status(statuses[0])


@router.delete("/logging/{account}/devices/{device_id}")
def disable_device_logging(account: str, device_id: ImeiPath, services: ServicesDep, _: CallerDep) -> SuccessRead:
    """Turn logging off for one device."""
    device_logging.disable(uow=services.uow(), account_name=account, device_ids=[device_id])
    return SuccessRead(success=True)


@router.get("/logging/{account}/devices/{device_id}/logs")
def list_device_logs(account: str, device_id: str, services: ServicesDep, _: CallerDep) -> list[DeviceLogRead]:
    """The device's log entries (the newest 1000), in the order they arrived."""
    entries = device_logging.logs(uow=services.reader(), account_name=account, device_id=device_id)
    return [
        DeviceLogRead(
            device_id=e.device_id,
            log_time=e.log_time,
            log_type=e.log_type,
            event_log=e.event_log,
            binary_log_file_base64=e.binary_log_file_base64,
            binary_log_filename=e.binary_log_filename,
        )
        for e in entries
    ]


@router.get("/logging/{account}/devices/{device_id}/checkInHistory")
def get_device_check_in_history(
    account: str, device_id: str, services: ServicesDep, _: CallerDep
) -> list[CheckInHistoryRead]:
    """The registrations, updates and HTTP check-ins fota received from the device, newest first."""
    records = device_logging.check_in_history(uow=services.reader(), account_name=account, device_id=device_id)
    return [
        CheckInHistoryRead(
            device_id=r.device_id,
            client_type=r.client_type,
            result=r.result,
            failure_type=r.failure_type,
            time_completed=r.completed_at,
        )
        for r in records
    ]
