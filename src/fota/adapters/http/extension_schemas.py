"""Bodies of the fota extension operations on v3 campaigns (fota-extensions.md §2): the dry-run preview's answer
(its request is the create body) and the follow-up campaign."""

from __future__ import annotations

from datetime import datetime

from pydantic import AliasChoices, Field, StrictStr

from fota.adapters.http.schemas import (
    CampaignRead,
    RequestBody,
    ResponseBody,
    TimeWindowBody,
    WireDate,
)


class RejectionCountRead(ResponseBody):
    reason: str
    count: int


class GroupCountRead(ResponseBody):
    make: str
    model: str
    firmware: str
    time_zone: str
    count: int


class WavePlanRead(ResponseBody):
    name: str
    devices: int
    groups: list[GroupCountRead]


class CampaignPreviewRead(ResponseBody):
    eligible_devices: int
    rejected_devices: list[RejectionCountRead] = Field(description="by reason, the most frequent first")
    licenses_consumed: int = Field(description="licenses the campaign would auto-assign")
    estimated_completion: datetime | None = Field(
        description="when the last device should have upgraded; null when not before the campaign's end"
    )
    waves: list[WavePlanRead] = Field(description="the waves the rollout would form; empty without a rollout")


class FollowUpCreate(RequestBody):
    campaign_name: StrictStr | None = Field(default=None, max_length=255)
    start_date: WireDate
    end_date: WireDate
    campaign_time_window_list: list[TimeWindowBody] | None = Field(
        default=None,
        validation_alias=AliasChoices("campaignTimeWindowList", "timeWindowList"),
        description="left out: the source campaign's windows; an empty list: any hour",
    )


class FollowUpRead(CampaignRead):
    follow_up_of: str
    carried_devices: int = Field(description="devices of the source campaign enrolled in this one")
    not_carried: list[RejectionCountRead] = Field(
        description="devices that missed the source campaign but cannot take this one, by reason"
    )
