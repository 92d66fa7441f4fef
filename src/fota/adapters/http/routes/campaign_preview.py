"""v3's dry-run preview of a campaign (fota-extensions.md §2): create's body and checks, writing nothing."""

from __future__ import annotations

from fastapi import APIRouter

from fota.adapters.http.api_route import ApiRoute
from fota.adapters.http.dependencies import CallerDep, ServicesDep
from fota.adapters.http.errors import ERROR_RESPONSES
from fota.adapters.http.extension_schemas import (
    CampaignPreviewRead,
    GroupCountRead,
    RejectionCountRead,
    WavePlanRead,
)
from fota.adapters.http.routes.campaigns import create_request
from fota.adapters.http.schemas import CampaignCreate
from fota.services.preview import CampaignPreview, preview_campaign

router = APIRouter(prefix="/api/fota/v3", tags=["v3 campaigns"], responses=ERROR_RESPONSES, route_class=ApiRoute)


@router.post("/campaigns/firmware/{account}/preview")
def preview_campaign_creation(
    account: str, body: CampaignCreate, services: ServicesDep, _: CallerDep
) -> CampaignPreviewRead:
    """The dry run of campaign creation: devices, licenses, waves and completion, writing nothing."""
    request = create_request(body)
    preview = preview_campaign(
        uow=services.reader(),
        clock=services.clock,
        account_name=account,
        request=request,
        signing_required=services.require_signed_firmware,
    )
    return preview_read(preview)


def preview_read(preview: CampaignPreview) -> CampaignPreviewRead:
    completes_at = preview.estimate.completes_at
    return CampaignPreviewRead(
        eligible_devices=preview.eligible,
        rejected_devices=[RejectionCountRead(reason=r, count=n) for r, n in preview.rejection_reasons],
        licenses_consumed=preview.licenses_needed,
        estimated_completion=completes_at,
        waves=[
            WavePlanRead(
                name=w.name,
                devices=w.devices,
                groups=[
                    GroupCountRead(
                        make=g.group.make,
                        model=g.group.model,
                        firmware=g.group.firmware,
                        time_zone=g.group.time_zone,
                        count=g.count,
                    )
                    for g in w.groups
                ],
            )
            for w in preview.waves
        ],
    )
