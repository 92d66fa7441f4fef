"""v1 reports: the account's devices by index, upgrades in a status by index, and a device's upgrade history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from fota.adapters.http.api_route import ApiRoute
from fota.adapters.http.dependencies import CallerDep, ServicesDep
from fota.adapters.http.errors import ERROR_RESPONSES
from fota.adapters.http.presenters import MAX_PAGE_SIZE, NEVER_UPGRADED, rfc3339
from fota.adapters.http.v1.licenses import StartIndex
from fota.adapters.http.v1.presenters import UPGRADE_PAGE_SIZE, upgrade_read
from fota.adapters.http.v1.schemas import V1DeviceListRead, V1DeviceRead, V1DeviceUpgradeHistoryRead, V1UpgradeListRead
from fota.domain.upgrade_statuses import UpgradeStatus
from fota.services import reports, upgrade_reports

router = APIRouter(prefix="/api/fota/v1", tags=["v1 reports"], responses=ERROR_RESPONSES, route_class=ApiRoute)

# v1 pages devices by IMEI: 0 first, then the last IMEI seen (an IMEI is 15 digits, so a number).
ImeiIndex = Annotated[str, Path(pattern=r"^[0-9]{1,15}$", description="0, then the previous lastSeenDeviceId")]


@router.get("/devices/{account}/index/{start_index}")
def list_account_devices(account: str, start_index: ImeiIndex, services: ServicesDep, _: CallerDep) -> V1DeviceListRead:
    """The account's devices of every protocol with their firmware, 1000 a page, IMEIs above startIndex."""
    after = start_index.zfill(15) if int(start_index) else None
    devices, has_more = reports.account_devices(
        uow=services.reader(), account_name=account, protocol=None, after=after, page_size=MAX_PAGE_SIZE
    )
    upgradable = reports.upgradable_kinds(uow=services.reader())
    return V1DeviceListRead(
        account_name=account,
        has_more_data=has_more,
        last_seen_device_id=int(devices[-1].device_id) if has_more else 0,
        device_list=[
            V1DeviceRead(
                device_id=d.device_id,
                mdn=d.mdn or "",
                model=d.model,
                make=d.make,
                firmware=d.firmware,
                fota_eligible=(d.make, d.model, d.firmware, d.protocol) in upgradable,
                license_assigned=d.license_assigned,
                upgrade_time=rfc3339(d.firmware_updated_at) if d.firmware_updated_at else NEVER_UPGRADED,
            )
            for d in devices
        ],
    )


@router.get("/reports/{account}/status/{upgrade_status}/index/{start_index}", response_model_exclude_none=True)
def list_upgrades_for_specified_status(
    account: str,
    upgrade_status: Annotated[UpgradeStatus, Path(description="one of UpgradeStatusEnum")],
    start_index: StartIndex,
    services: ServicesDep,
    _: CallerDep,
) -> V1UpgradeListRead:
    """The account's upgrades in a status, with their devices, 100 a page from position startIndex."""
    page = upgrade_reports.upgrades_by_status(
        uow=services.reader(),
        clock=services.clock,
        account_name=account,
        status=upgrade_status,
        start_index=start_index,
        page_size=UPGRADE_PAGE_SIZE,
    )
    return V1UpgradeListRead(
        has_more_flag=page.has_more,
        last_seen_upgrade_id=page.next_index if page.has_more else 0,
        report_list=[upgrade_read(u) for u in page.upgrades],
    )


@router.get("/reports/{account}/devices/{device_id}")
def get_device_firmware_upgrade_history(
    account: str, device_id: str, services: ServicesDep, _: CallerDep
) -> list[V1DeviceUpgradeHistoryRead]:
    """The upgrades the device was in over the last six months, each with the device's latest status."""
    items = upgrade_reports.device_upgrades(
        uow=services.reader(), clock=services.clock, account_name=account, device_id=device_id
    )
    return [
        V1DeviceUpgradeHistoryRead(
            device_id=device_id,
            id=i.campaign.id,
            account_name=account,
            firmware_from=i.campaign.firmware_from,
            firmware_to=i.campaign.firmware_to,
            start_date=i.campaign.schedule.start_date.isoformat(),
            upgrade_start_time=rfc3339(i.started_at) if i.started_at else "",
            status=i.status,
            reason=i.reason,
        )
        for i in items
    ]
