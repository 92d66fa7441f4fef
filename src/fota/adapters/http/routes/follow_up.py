"""v3 follow-up campaigns (fota-extensions.md §2): a finished campaign's missed devices, carried into a new one."""

from __future__ import annotations

from fastapi import APIRouter

from fota.adapters.http.api_route import ApiRoute
from fota.adapters.http.dependencies import CallerDep, ServicesDep
from fota.adapters.http.errors import ERROR_RESPONSES, STATE_CONFLICT_RESPONSES
from fota.adapters.http.extension_schemas import FollowUpCreate, FollowUpRead, RejectionCountRead
from fota.adapters.http.presenters import campaign_read
from fota.domain.windows import TimeWindow
from fota.services import follow_up as service

router = APIRouter(prefix="/api/fota/v3", tags=["v3 campaigns"], responses=ERROR_RESPONSES, route_class=ApiRoute)


@router.post(
    "/campaigns/{account}/{campaign_id}/follow-up", response_model_exclude_none=True, responses=STATE_CONFLICT_RESPONSES
)
def create_follow_up_campaign(
    account: str, campaign_id: str, body: FollowUpCreate, services: ServicesDep, caller: CallerDep
) -> FollowUpRead:
    """A new campaign of a finished campaign's firmware for its devices that did not upgrade and still can."""
    windows = body.campaign_time_window_list
    result = service.create_follow_up(
        uow=services.uow(),
        clock=services.clock,
        account_name=account,
        campaign_id=campaign_id,
        request=service.FollowUpRequest(
            start_date=body.start_date,
            end_date=body.end_date,
            windows=None if windows is None else [TimeWindow(w.start_time, w.end_time) for w in windows],
            campaign_name=body.campaign_name,
        ),
        actor=caller.username,
        signing_required=services.require_signed_firmware,
    )
    return FollowUpRead(
        **campaign_read(result.campaign).model_dump(exclude={"follow_up_of"}),
        follow_up_of=result.source_id,
        carried_devices=result.carried,
        not_carried=[RejectionCountRead(reason=r, count=n) for r, n in result.not_carried],
    )
