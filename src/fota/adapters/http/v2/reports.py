"""v2 reports (contract §5 rows 19-23): software packages, account devices, device history, campaigns by status and
a campaign's devices, read from the same campaigns and history as v3's reports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from fota.adapters.http import stated
from fota.adapters.http.api_route import ApiRoute, many_rows
from fota.adapters.http.dependencies import CallerDep, ServicesDep
from fota.adapters.http.errors import ERROR_RESPONSES
from fota.adapters.http.presenters import MAX_PAGE_SIZE
from fota.adapters.http.routes.reports import campaign_status_query
from fota.adapters.http.v2.presenters import account_device, device_status, software_campaign, software_package
from fota.adapters.http.v2.schemas import (
    AccountDeviceListRead,
    CampaignDeviceReportRead,
    CampaignHistoryRead,
    DeviceSoftwareUpgradeRead,
    SoftwarePackageRead,
)
from fota.domain.protocols import Protocol
from fota.services import firmware, reports

router = APIRouter(prefix="/api/fota/v2", tags=["v2 reports"], responses=ERROR_RESPONSES, route_class=ApiRoute)


def distribution_filter(text: str | None) -> Protocol | None:
    """No value (or `all`) lists every distribution type."""
    if not text or text.lower() == "all":
        return None
    return Protocol.parse(text)


@router.get("/software/{account}")
def list_available_software(
    account: str,
    services: ServicesDep,
    _: CallerDep,
    distribution_type: Annotated[
        str | None, Query(alias="distributionType", json_schema_extra=stated.PROTOCOL_FILTER)
    ] = None,
) -> list[SoftwarePackageRead]:
    """Software packages (the firmware catalogue), optionally of one distribution type."""
    packages = firmware.list_firmware(uow=services.reader(), protocol=distribution_filter(distribution_type))
    return [software_package(p) for p in packages]


@router.get("/devices/{account}", response_model_exclude_none=True)
def list_account_devices(
    account: str,
    services: ServicesDep,
    _: CallerDep,
    last_seen_device_id: Annotated[str | None, Query(alias="lastSeenDeviceId")] = None,
    distribution_type: Annotated[
        str | None, Query(alias="distributionType", json_schema_extra=stated.PROTOCOL_FILTER)
    ] = None,
) -> AccountDeviceListRead:
    """The account's devices, paged by lastSeenDeviceId."""
    devices, has_more = reports.account_devices(
        uow=services.reader(),
        account_name=account,
        protocol=distribution_filter(distribution_type),
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


@router.get("/reports/{account}/devices/{device_id}", response_model_exclude_none=True)
def get_device_firmware_upgrade_history(
    account: str, device_id: str, services: ServicesDep, _: CallerDep
) -> list[DeviceSoftwareUpgradeRead]:
    """Every status the device had in every campaign, oldest first."""
    items = reports.device_history(uow=services.reader(), account_name=account, device_id=device_id)
    return [
        DeviceSoftwareUpgradeRead(
            device_id=device_id,
            id=i.campaign.id,
            account_name=account,
            software_name=i.campaign.firmware_name,
            start_date=i.campaign.schedule.start_date,
            status=i.entry.status,
            reason=i.entry.reason or "",
        )
        for i in items
    ]


@router.get("/reports/{account}/campaigns", response_model_exclude_none=True)
def get_campaign_history_by_status(
    account: str,
    services: ServicesDep,
    _: CallerDep,
    campaign_status: Annotated[
        str | None, Query(alias="campaignStatus", json_schema_extra=stated.CAMPAIGN_STATUSES)
    ] = None,
    last_seen_campaign_id: Annotated[str | None, Query(alias="lastSeenCampaignId")] = None,
) -> CampaignHistoryRead:
    """The account's campaigns of one status, paged by lastSeenCampaignId."""
    campaigns, has_more = reports.campaigns_by_status(
        uow=services.reader(),
        account_name=account,
        status=campaign_status_query(campaign_status),
        after=last_seen_campaign_id,
        page_size=MAX_PAGE_SIZE,
    )
    return CampaignHistoryRead(
        has_more_data=has_more,
        last_seen_campaign_id=campaigns[-1].id if campaigns else None,
        campaign_list=[software_campaign(x) for x in campaigns],
    )


@router.get("/reports/{account}/campaigns/{campaign_id}/devices", response_model_exclude_none=True)
@many_rows
def get_campaign_device_status(
    account: str,
    campaign_id: str,
    services: ServicesDep,
    _: CallerDep,
    last_seen_device_id: Annotated[str | None, Query(alias="lastSeenDeviceId")] = None,
) -> CampaignDeviceReportRead:
    """Every device of a campaign with its status, paged by lastSeenDeviceId."""
    report = reports.campaign_devices(
        uow=services.reader(),
        clock=services.clock,
        account_name=account,
        campaign_id=campaign_id,
        after=last_seen_device_id,
        page_size=MAX_PAGE_SIZE,
    )
    return CampaignDeviceReportRead(
        total_device=report.total,
        has_more_data=report.has_more,
        last_seen_device_id=report.rows[-1].device_id if report.rows else None,
        max_page_size=MAX_PAGE_SIZE,
        device_list=[device_status(r) for r in report.rows],
    )
