"""v2 campaigns (contract §5 rows 8-14): software campaigns, HTTP-device software campaigns and configuration-file
campaigns, all campaigns of the one campaign service, with v2's download and install phases."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

from fastapi import APIRouter

from fota.adapters.http.api_route import ApiRoute
from fota.adapters.http.dependencies import CallerDep, ServicesDep
from fota.adapters.http.errors import ERROR_RESPONSES
from fota.adapters.http.schemas import SuccessRead, TimeWindowBody
from fota.adapters.http.v2.presenters import scheduled_campaign, software_campaign
from fota.adapters.http.v2.schemas import (
    CampaignDevicesChangeRead,
    CampaignDevicesUpdate,
    FileCampaignCreate,
    HttpSoftwareCampaignCreate,
    ScheduledFileCampaignRead,
    SoftwareCampaignCreate,
    SoftwareCampaignDatesUpdate,
    SoftwareCampaignRead,
    TextWindowBody,
)
from fota.domain.campaign import parse_date
from fota.domain.errors import InvalidRequest
from fota.domain.phases import Phases
from fota.domain.windows import TimeWindow
from fota.services import campaigns as service

router = APIRouter(prefix="/api/fota/v2", tags=["v2 campaigns"], responses=ERROR_RESPONSES, route_class=ApiRoute)

# v2 has no licence flag: a listed device without a licence gets one from the pool, as v3's autoAssignLicenseFlag.
AUTO_ASSIGN_LICENSE = True


def _windows(body: Sequence[TimeWindowBody] | None) -> tuple[TimeWindow, ...]:
    return tuple(TimeWindow(w.start_time, w.end_time) for w in body or [])


def _hour(text: str | None, field: str) -> int:
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    if text is None or not re.fullmatch(r"[0-9]{1,2}", text.strip()):
        raise InvalidRequest(f'{field} must be an hour given as a string of digits, e.g. "18"')
    return int(text)


def _text_windows(body: Sequence[TextWindowBody] | None, field: str) -> tuple[TimeWindow, ...]:
    return tuple(
        TimeWindow(_hour(w.start_time, f"{field}.startTime"), _hour(w.end_time, f"{field}.endTime")) for w in body or []
    )


def _required(value: str | None, field: str) -> str:
    if not value:
        raise InvalidRequest(f"{field} is required")
    return value


def _phases(download_after: object, install_after: object, install_windows: tuple[TimeWindow, ...]) -> Phases:
    return Phases(
        parse_date(download_after, "downloadAfterDate") if download_after else None,
        parse_date(install_after, "installAfterDate") if install_after else None,
        install_windows or None,
    )


@router.post("/campaigns/{account}", response_model_exclude_none=True)
def schedule_campaign_firmware_upgrade(
    account: str, body: SoftwareCampaignCreate, services: ServicesDep, _: CallerDep
) -> SoftwareCampaignRead:
    """Schedule a software campaign."""
    request = service.CampaignCreate(
        firmware_name=body.software_name,
        firmware_from=body.software_from,
        firmware_to=body.software_to,
        protocol=body.distribution_type,
        start_date=body.start_date,
        end_date=body.end_date,
        device_ids=body.device_list,
        auto_assign_license=AUTO_ASSIGN_LICENSE,
        auto_add_devices=False,
        campaign_name=body.campaign_name,
        windows=_windows(body.download_time_window_list),
        phases=Phases(
            body.download_after_date, body.install_after_date, _windows(body.install_time_window_list) or None
        ),
    )
    campaign = service.create_campaign(
        uow=services.uow(),
        clock=services.clock,
        account_name=account,
        request=request,
        signing_required=services.require_signed_firmware,
    )
    return software_campaign(campaign)


@router.get("/campaigns/{account}/{campaign_id}", response_model_exclude_none=True)
def get_campaign_information(
    account: str, campaign_id: str, services: ServicesDep, _: CallerDep
) -> SoftwareCampaignRead:
    """Read a campaign (of any API version) in v2's software shape."""
    return software_campaign(service.get_campaign(uow=services.reader(), account_name=account, campaign_id=campaign_id))


@router.put("/campaigns/{account}/{campaign_id}")
def update_campaign_firmware_devices(
    account: str, campaign_id: str, body: CampaignDevicesUpdate, services: ServicesDep, _: CallerDep
) -> CampaignDevicesChangeRead:
    """Add or remove devices; the per-device outcome shows in the campaign's device report."""
    change = service.add_devices if body.type == "append" else service.remove_devices
    change(
        uow=services.uow(),
        clock=services.clock,
        account_name=account,
        campaign_id=campaign_id,
        device_ids=body.device_list,
    )
    return CampaignDevicesChangeRead(account_name=account, campaign_id=campaign_id, request_id=str(uuid.uuid4()))


@router.delete("/campaigns/{account}/{campaign_id}")
def cancel_campaign(account: str, campaign_id: str, services: ServicesDep, _: CallerDep) -> SuccessRead:
    """Cancel a campaign before its start (abort it after)."""
    service.cancel_campaign(uow=services.uow(), clock=services.clock, account_name=account, campaign_id=campaign_id)
    return SuccessRead(success=True)


@router.put("/campaigns/{account}/{campaign_id}/dates", response_model_exclude_none=True)
def update_campaign_dates(
    account: str, campaign_id: str, body: SoftwareCampaignDatesUpdate, services: ServicesDep, _: CallerDep
) -> SoftwareCampaignRead:
    """New dates, after-dates and windows; existing windows may not be removed."""
    campaign = service.change_dates(
        uow=services.uow(),
        clock=services.clock,
        account_name=account,
        campaign_id=campaign_id,
        start_date=body.start_date,
        end_date=body.end_date,
        windows=_windows(body.download_time_window_list),
        phases=Phases(
            body.download_after_date, body.install_after_date, _windows(body.install_time_window_list) or None
        ),
        keep_windows=True,
    )
    return software_campaign(campaign)


def _schedule(
    services: ServicesDep,
    account: str,
    body: FileCampaignCreate | HttpSoftwareCampaignCreate,
    *,
    name: str,
    version_from: str,
    version_to: str,
    kind: str,
) -> ScheduledFileCampaignRead:
    device_ids = body.device_list or []
    request = service.CampaignCreate(
        firmware_name=name,
        firmware_from=version_from,
        firmware_to=version_to,
        protocol=_required(body.distribution_type, "distributionType"),
        start_date=parse_date(_required(body.start_date, "startDate"), "startDate"),
        end_date=parse_date(_required(body.end_date, "endDate"), "endDate"),
        device_ids=device_ids,
        auto_assign_license=AUTO_ASSIGN_LICENSE,
        auto_add_devices=False,
        campaign_name=body.campaign_name,
        windows=_text_windows(body.download_time_window_list, "downloadTimeWindowList"),
        phases=_phases(
            body.download_after_date,
            body.install_after_date,
            _text_windows(body.install_time_window_list, "installTimeWindowList"),
        ),
        package_kind=kind,
    )
    campaign = service.create_campaign(
        uow=services.uow(),
        clock=services.clock,
        account_name=account,
        request=request,
        signing_required=services.require_signed_firmware,
    )
    return scheduled_campaign(campaign, list(device_ids))


@router.post("/campaigns/files/{account}", response_model_exclude_none=True)
def schedule_file_upgrade(
    account: str, body: FileCampaignCreate, services: ServicesDep, _: CallerDep
) -> ScheduledFileCampaignRead:
    """Schedule a campaign that pushes an uploaded configuration file to the devices."""
    name = _required(body.file_name, "fileName")
    return _schedule(
        services, account, body, name=name, version_from="", version_to=body.file_version or "", kind="file"
    )


@router.post("/campaigns/software/{account}", response_model_exclude_none=True)
def schedule_sw_upgrade_http_devices(
    account: str, body: HttpSoftwareCampaignCreate, services: ServicesDep, _: CallerDep
) -> ScheduledFileCampaignRead:
    """Schedule a software campaign for HTTP devices with separate download and install windows."""
    return _schedule(
        services,
        account,
        body,
        name=_required(body.software_name, "softwareName"),
        version_from=_required(body.software_from, "softwareFrom"),
        version_to=_required(body.software_to, "softwareTo"),
        kind="firmware",
    )
