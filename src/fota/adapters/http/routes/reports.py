"""v3 reports: campaigns by status, a campaign's devices, a device's upgrade history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from fota.adapters.http import stated
from fota.adapters.http.api_route import ApiRoute, many_rows
from fota.adapters.http.dependencies import CallerDep, ServicesDep
from fota.adapters.http.errors import ERROR_RESPONSES
from fota.adapters.http.presenters import MAX_PAGE_SIZE, device_status, firmware_campaign, rfc3339
from fota.adapters.http.schemas import (
    CampaignDeviceReportRead,
    CampaignHistoryRead,
    DeviceFirmwareUpgradeRead,
)
from fota.adapters.http.written_pages import json_with_items, with_items
from fota.domain.errors import InvalidRequest
from fota.domain.statuses import CampaignStatus
from fota.services import reports as service

router = APIRouter(prefix="/api/fota/v3", tags=["v3 reports"], responses=ERROR_RESPONSES, route_class=ApiRoute)


def campaign_status_query(text: str | None) -> CampaignStatus:
    """The `campaignStatus` query of every version's campaign history: required, either queued spelling."""
    if not text:
        raise InvalidRequest("campaignStatus is required")
    try:
        return CampaignStatus.parse(text)
    except ValueError:
        known = ", ".join(s.value for s in CampaignStatus)
        raise InvalidRequest(f"unknown campaignStatus {text!r}; expected one of {known}") from None


@router.get("/reports/{account}/firmware/campaigns", response_model_exclude_none=True)
@router.get(
    "/reports/{account}/campaigns",
    response_model_exclude_none=True,
    summary="Get Campaign History By Status (alias of /reports/{account}/firmware/campaigns)",
)
def get_campaign_history_by_status(
    account: str,
    services: ServicesDep,
    _: CallerDep,
    campaign_status: Annotated[
        str | None, Query(alias="campaignStatus", json_schema_extra=stated.CAMPAIGN_STATUSES)
    ] = None,
    last_seen_campaign_id: Annotated[str | None, Query(alias="lastSeenCampaignId")] = None,
) -> CampaignHistoryRead:
    """The account's campaigns in one status, a page at a time."""
    campaigns, has_more = service.campaigns_by_status(
        uow=services.reader(),
        account_name=account,
        status=campaign_status_query(campaign_status),
        after=last_seen_campaign_id,
        page_size=MAX_PAGE_SIZE,
    )
    return CampaignHistoryRead(
        has_more_data=has_more,
        last_seen_campaign_id=campaigns[-1].id if campaigns else None,
        campaign_list=[firmware_campaign(x) for x in campaigns],
    )


@router.get("/reports/{account}/devices/{device_id}")
def get_device_firmware_upgrade_history(
    account: str, device_id: str, services: ServicesDep, _: CallerDep
) -> list[DeviceFirmwareUpgradeRead]:
    """The device's upgrades in the account's campaigns, step by step."""
    items = service.device_history(uow=services.reader(), account_name=account, device_id=device_id)
    return [
        DeviceFirmwareUpgradeRead(
            device_id=device_id,
            campaign_id=i.campaign.id,
            account_name=account,
            firmware_name=i.campaign.firmware_name,
            firmware_from=i.campaign.firmware_from,
            firmware_to=i.campaign.firmware_to,
            start_date=i.campaign.schedule.start_date,
            report_updated_time=rfc3339(i.entry.at),
            status=i.entry.status,
            reason=i.entry.reason or "",
        )
        for i in items
    ]


@router.get(
    "/reports/{account}/campaigns/{campaign_id}/devices",
    response_model=CampaignDeviceReportRead,
    response_model_exclude_none=True,
)
@many_rows
def get_campaign_device_status(
    account: str,
    campaign_id: str,
    services: ServicesDep,
    _: CallerDep,
    last_seen_device_id: Annotated[str | None, Query(alias="lastSeenDeviceId")] = None,
) -> CampaignDeviceReportRead | Response:
    """The status of each device in a campaign, a page at a time."""
    report = service.written_campaign_devices(
        uow=services.reader(),
        clock=services.clock,
        account_name=account,
        campaign_id=campaign_id,
        after=last_seen_device_id,
        page_size=MAX_PAGE_SIZE,
        pages=services.report_pages,
    )
    if isinstance(report, service.WrittenDeviceReport):
        return written_device_report(report, page_size=MAX_PAGE_SIZE)
    return CampaignDeviceReportRead(
        total_device=report.total,
        has_more_data=report.has_more,
        last_seen_device_id=report.rows[-1].device_id if report.rows else None,
        max_page_size=MAX_PAGE_SIZE,
        device_list=[device_status(r, next_attempt=report.next_attempt(r)) for r in report.rows],
    )


def written_device_report(report: service.WrittenDeviceReport, *, page_size: int) -> Response:
    """The page whose items the store wrote, inside the envelope pydantic writes (deviceList is its last field)."""
    return with_items(_envelope(report, page_size), report.page.items)


def written_device_report_json(report: service.WrittenDeviceReport, *, page_size: int) -> bytes:
    """`written_device_report`'s body."""
    return json_with_items(_envelope(report, page_size), report.page.items)


def _envelope(report: service.WrittenDeviceReport, page_size: int) -> CampaignDeviceReportRead:
    return CampaignDeviceReportRead(
        total_device=report.total,
        has_more_data=report.page.has_more,
        last_seen_device_id=report.page.last_device_id,
        max_page_size=page_size,
        device_list=[],
    )
