"""v3 firmware campaigns: create, add/remove devices, change dates, read, cancel, override blackouts; a rollout's
pause, resume, approve and the campaign audit (fota-extensions.md §2)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter

from fota.adapters.http.api_route import ApiRoute
from fota.adapters.http.dependencies import CallerDep, ServicesDep
from fota.adapters.http.errors import ERROR_RESPONSES, ROLLOUT_RESPONSES, STATE_CONFLICT_RESPONSES
from fota.adapters.http.presenters import blackout_override, campaign_read, firmware_campaign
from fota.adapters.http.schemas import (
    AuditEntryRead,
    BlackoutOverrideBody,
    BlackoutOverrideRead,
    CampaignCreate,
    CampaignDatesUpdate,
    CampaignDevicesChangeRead,
    CampaignDevicesUpdate,
    CampaignRead,
    DeviceChangeRead,
    FirmwareCampaignRead,
    RolloutCallBody,
    SuccessRead,
    TimeWindowBody,
)
from fota.domain.bandwidth import BandwidthBudget
from fota.domain.campaign import Campaign
from fota.domain.rollout import parse_rollout
from fota.domain.upgrade import RetryPolicy
from fota.domain.windows import TimeWindow
from fota.domain.zones import parse_window_zone
from fota.services import campaigns as service
from fota.services import rollouts
from fota.services.auth import Caller
from fota.services.blackout_override import override_blackouts
from fota.services.context import ServiceContext

router = APIRouter(prefix="/api/fota/v3", tags=["v3 campaigns"], responses=ERROR_RESPONSES, route_class=ApiRoute)


def _windows(body: list[TimeWindowBody] | None) -> list[TimeWindow]:
    return [TimeWindow(w.start_time, w.end_time) for w in body or []]


@router.post("/campaigns/firmware/{account}", response_model_exclude_none=True)
def schedule_campaign(account: str, body: CampaignCreate, services: ServicesDep, _: CallerDep) -> FirmwareCampaignRead:
    """Schedules a firmware upgrade campaign for the account's devices."""
    campaign = service.create_campaign(
        uow=services.uow(),
        clock=services.clock,
        account_name=account,
        request=create_request(body),
        signing_required=services.require_signed_firmware,
    )
    if campaign.rollout is None:
        return firmware_campaign(campaign)
    read = rollouts.campaign_with_rollout(uow=services.uow(), account_name=account, campaign_id=campaign.id)
    return firmware_campaign(read.campaign, read.view)


def create_request(body: CampaignCreate) -> service.CampaignCreate:
    """The service's request from the v3 create body (the dry-run preview's body extends it)."""
    return service.CampaignCreate(
        firmware_name=body.firmware_name,
        firmware_from=body.firmware_from,
        firmware_to=body.firmware_to,
        protocol=body.protocol,
        start_date=body.start_date,
        end_date=body.end_date,
        device_ids=body.device_list,
        auto_assign_license=body.auto_assign_license_flag,
        auto_add_devices=body.auto_add_devices_flag,
        campaign_name=body.campaign_name,
        windows=_windows(body.campaign_time_window_list),
        time_zone=body.time_zone,
        retry_policy=None if body.retry_policy is None else RetryPolicy.from_plain(body.retry_policy),
        window_zone=None if body.window_zone is None else parse_window_zone(body.window_zone),
        blackouts=body.blackouts,
        bandwidth=None if body.bandwidth is None else BandwidthBudget.from_plain(body.bandwidth),
        rollout=None if body.rollout is None else parse_rollout(body.rollout),
    )


@router.put("/campaigns/firmware/{account}/{campaign_id}")
def update_campaign_devices(
    account: str, campaign_id: str, body: CampaignDevicesUpdate, services: ServicesDep, _: CallerDep
) -> CampaignDevicesChangeRead:
    """Adds devices to a campaign, or removes devices that are still waiting."""
    change = service.add_devices if body.type == "append" else service.remove_devices
    results = change(
        uow=services.uow(),
        clock=services.clock,
        account_name=account,
        campaign_id=campaign_id,
        device_ids=body.device_list,
    )
    return CampaignDevicesChangeRead(
        account_name=account,
        campaign_id=campaign_id,
        device_list=[DeviceChangeRead(device_id=r.device_id, status=r.status, reason=r.reason) for r in results],
    )


@router.put("/campaigns/firmware/{account}/{campaign_id}/dates", response_model_exclude_none=True)
def update_campaign_dates(
    account: str, campaign_id: str, body: CampaignDatesUpdate, services: ServicesDep, _: CallerDep
) -> FirmwareCampaignRead:
    """Changes a campaign's dates and time windows."""
    campaign = service.change_dates(
        uow=services.uow(),
        clock=services.clock,
        account_name=account,
        campaign_id=campaign_id,
        start_date=body.start_date,
        end_date=body.end_date,
        windows=_windows(body.campaign_time_window_list),
    )
    return firmware_campaign(campaign)


@router.get("/campaigns/{account}/{campaign_id}", response_model_exclude_none=True)
def get_campaign_information(account: str, campaign_id: str, services: ServicesDep, _: CallerDep) -> CampaignRead:
    """The campaign's settings and status."""
    read = rollouts.campaign_with_rollout(uow=services.reader(), account_name=account, campaign_id=campaign_id)
    return campaign_read(read.campaign, read.view)


@router.delete("/campaigns/{account}/{campaign_id}")
def cancel_campaign(account: str, campaign_id: str, services: ServicesDep, _: CallerDep) -> SuccessRead:
    """Cancels a campaign; its waiting devices leave it."""
    service.cancel_campaign(uow=services.uow(), clock=services.clock, account_name=account, campaign_id=campaign_id)
    return SuccessRead(success=True)


@router.post("/campaigns/{account}/{campaign_id}/blackouts/override", responses=STATE_CONFLICT_RESPONSES)
def override_campaign_blackouts(
    account: str, campaign_id: str, body: BlackoutOverrideBody, services: ServicesDep, caller: CallerDep
) -> BlackoutOverrideRead:
    """Lets upgrades start during the campaign's blackouts until a local time, for a stated reason."""
    recorded = override_blackouts(
        uow=services.uow(),
        clock=services.clock,
        account_name=account,
        campaign_id=campaign_id,
        until=body.until,
        reason=body.reason,
        user=caller.username,
    )
    return blackout_override(recorded)


def _rollout_call(
    operation: Callable[..., Campaign],
    account: str,
    campaign_id: str,
    body: RolloutCallBody | None,
    services: ServiceContext,
    caller: Caller,
) -> CampaignRead:
    operation(
        uow=services.uow(),
        clock=services.clock,
        account_name=account,
        campaign_id=campaign_id,
        actor=caller.username,
        reason=body.reason if body is not None else None,
    )
    read = rollouts.campaign_with_rollout(uow=services.uow(), account_name=account, campaign_id=campaign_id)
    return campaign_read(read.campaign, read.view)


@router.post(
    "/campaigns/{account}/{campaign_id}/rollout/pause", response_model_exclude_none=True, responses=ROLLOUT_RESPONSES
)
def pause_rollout(
    account: str, campaign_id: str, services: ServicesDep, caller: CallerDep, body: RolloutCallBody | None = None
) -> CampaignRead:
    """Pauses the campaign's rollout: no new device is offered the upgrade."""
    return _rollout_call(rollouts.pause_rollout, account, campaign_id, body, services, caller)


@router.post(
    "/campaigns/{account}/{campaign_id}/rollout/resume", response_model_exclude_none=True, responses=ROLLOUT_RESPONSES
)
def resume_rollout(
    account: str, campaign_id: str, services: ServicesDep, caller: CallerDep, body: RolloutCallBody | None = None
) -> CampaignRead:
    """Resumes a paused rollout; after an automatic pause a reason is required."""
    return _rollout_call(rollouts.resume_rollout, account, campaign_id, body, services, caller)


@router.post(
    "/campaigns/{account}/{campaign_id}/rollout/approve", response_model_exclude_none=True, responses=ROLLOUT_RESPONSES
)
def approve_rollout(
    account: str, campaign_id: str, services: ServicesDep, caller: CallerDep, body: RolloutCallBody | None = None
) -> CampaignRead:
    """Opens the next wave of a rollout that waits for approval."""
    return _rollout_call(rollouts.approve_rollout, account, campaign_id, body, services, caller)


@router.get("/campaigns/{account}/{campaign_id}/audit")
def get_campaign_audit(account: str, campaign_id: str, services: ServicesDep, _: CallerDep) -> list[AuditEntryRead]:
    """The campaign's audit: every pause, resume, approval, override, follow-up and automatic decision, oldest first."""
    records = rollouts.campaign_audit(uow=services.reader(), account_name=account, campaign_id=campaign_id)
    return [
        AuditEntryRead(
            at=r.at, actor=r.actor, action=r.action, reason=r.reason, detail=dict(r.detail) if r.detail else None
        )
        for r in records
    ]
