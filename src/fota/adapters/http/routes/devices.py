"""v3 firmware catalogue and device firmware, account devices, and the account's callback URL."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from fota.adapters.http import stated
from fota.adapters.http.api_route import ApiRoute
from fota.adapters.http.dependencies import CallerDep, ServicesDep
from fota.adapters.http.errors import ERROR_RESPONSES
from fota.adapters.http.presenters import MAX_PAGE_SIZE, account_device, firmware_package
from fota.adapters.http.schemas import (
    AccountDeviceListRead,
    CallbackCreate,
    CallbackRead,
    DeviceFirmwareListRead,
    DeviceFirmwareVersionRead,
    DeviceListBody,
    DeviceLookupListRead,
    DeviceLookupRead,
    FirmwarePackageRead,
    FirmwareReportRequestRead,
    SuccessRead,
)
from fota.domain.protocols import Protocol
from fota.services import callbacks, firmware, reports

router = APIRouter(
    prefix="/api/fota/v3",
    tags=["v3 firmware and devices"],
    responses=ERROR_RESPONSES,
    route_class=ApiRoute,
)


def _protocol_filter(text: str | None, *, default: Protocol | None) -> Protocol | None:
    if text is None or text == "":
        return default
    if text.lower() == "all":
        return None
    return Protocol.parse(text)


@router.get("/firmware/{account}")
def list_available_firmware(
    account: str,
    services: ServicesDep,
    _: CallerDep,
    protocol: Annotated[str | None, Query(json_schema_extra=stated.PROTOCOL_FILTER)] = None,
) -> list[FirmwarePackageRead]:
    """The firmware packages campaigns can use, optionally for one protocol."""
    packages = firmware.list_firmware(uow=services.reader(), protocol=_protocol_filter(protocol, default=None))
    return [firmware_package(p) for p in packages]


@router.put("/firmware/{account}/devices", response_model_exclude_none=True)
def synchronize_device_firmware(
    account: str, body: DeviceListBody, services: ServicesDep, _: CallerDep
) -> DeviceFirmwareListRead:
    """The firmware version each listed device last reported."""
    versions = firmware.synchronize(uow=services.reader(), account_name=account, device_ids=body.device_list)
    return DeviceFirmwareListRead(
        account_name=account,
        device_firmwar_version_list=[
            DeviceFirmwareVersionRead(
                device_id=v.device_id,
                firmware_version=v.device.firmware,
                status="FirmwareVersionUpdateSuccess",
                firmware_version_update_time=v.device.firmware_updated_at or v.device.updated_at,
            )
            if v.device is not None
            else DeviceFirmwareVersionRead(
                device_id=v.device_id,
                firmware_version="",
                status="FirmwareVersionUpdateFailed",
                reason="Device does not exist.",
            )
            for v in versions
        ],
    )


@router.put("/firmware/{account}/async/{device_id}")
def report_device_firmware(
    account: str, device_id: Annotated[str, Path(json_schema_extra=stated.IMEI)], services: ServicesDep, _: CallerDep
) -> FirmwareReportRequestRead:
    """Asks a device to report its firmware version; the answer arrives by callback."""
    request_id = firmware.request_report(
        uow=services.uow(), clock=services.clock, account_name=account, device_id=device_id
    )
    return FirmwareReportRequestRead(account_name=account, request_id=request_id)


@router.get("/devices/{account}", response_model_exclude_none=True)
def get_account_device_information(
    account: str,
    services: ServicesDep,
    _: CallerDep,
    last_seen_device_id: Annotated[str | None, Query(alias="lastSeenDeviceId")] = None,
    protocol: Annotated[str | None, Query(json_schema_extra=stated.PROTOCOL_FILTER)] = None,
) -> AccountDeviceListRead:
    """The account's devices, a page at a time."""
    devices, has_more = reports.account_devices(
        uow=services.reader(),
        account_name=account,
        protocol=_protocol_filter(protocol, default=Protocol.LWM2M),
        after=last_seen_device_id,
        page_size=MAX_PAGE_SIZE,
    )
    upgradable = reports.upgradable_kinds(uow=services.reader())
    return AccountDeviceListRead(
        account_name=account,
        has_more_data=has_more,
        last_seen_device_id=devices[-1].device_id if devices else None,
        max_page_size=MAX_PAGE_SIZE,
        device_list=[account_device(d, upgradable) for d in devices],
    )


@router.post("/devices/{account}", response_model_exclude_none=True)
def list_account_devices_information(
    account: str, body: DeviceListBody, services: ServicesDep, _: CallerDep
) -> DeviceLookupListRead:
    """The listed devices of the account, each found or not."""
    found = reports.lookup_devices(uow=services.reader(), account_name=account, device_ids=body.device_list)
    upgradable = reports.upgradable_kinds(uow=services.reader())
    items = []
    for device_id, device in found:
        if device is None:
            items.append(
                DeviceLookupRead(device_id=device_id, request_status="Failed", result_reason="Device does not exist.")
            )
            continue
        full = account_device(device, upgradable)
        items.append(
            DeviceLookupRead(
                device_id=device_id,
                request_status="Success",
                result_reason="Success",
                mdn=full.mdn,
                model=full.model,
                make=full.make,
                firmware=full.firmware,
                fota_eligible=full.fota_eligible,
                status=full.status,
                license_assigned=full.license_assigned,
                protocol=full.protocol,
                create_time=full.create_time,
                update_time=full.update_time,
                last_connection_time=device.last_seen_at,
            )
        )
    return DeviceLookupListRead(account_name=account, device_count=len(items), device_list=items)


@router.get("/callbacks/{account}", response_model_exclude_none=True)
def list_registered_callbacks(account: str, services: ServicesDep, _: CallerDep) -> CallbackRead:
    """The account's callback URL."""
    return CallbackRead(url=callbacks.get_callback(uow=services.reader(), account_name=account))


@router.post("/callbacks/{account}", response_model_exclude_none=True)
def register_callback(account: str, body: CallbackCreate, services: ServicesDep, _: CallerDep) -> CallbackRead:
    """Registers the URL that receives the account's campaign and device events."""
    url = callbacks.register_callback(
        uow=services.uow(), clock=services.clock, outbound=services.outbound, account_name=account, url=body.url
    )
    return CallbackRead(url=url)


@router.put("/callbacks/{account}", response_model_exclude_none=True)
def update_callback(account: str, body: CallbackCreate, services: ServicesDep, _: CallerDep) -> CallbackRead:
    """Changes the registered callback URL."""
    url = callbacks.update_callback(
        uow=services.uow(), clock=services.clock, outbound=services.outbound, account_name=account, url=body.url
    )
    return CallbackRead(url=url)


@router.delete("/callbacks/{account}")
def deregister_callback(account: str, services: ServicesDep, _: CallerDep) -> SuccessRead:
    """Removes the account's callback."""
    callbacks.deregister_callback(uow=services.uow(), account_name=account)
    return SuccessRead(success=True)
