"""The v1 API's upgrade statuses (`UpgradeStatusEnum`) and how a campaign's status reads in them.

A v1 upgrade is a campaign; v1 only spells its lifecycle differently, and splits a scheduled campaign at its start.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from fota.domain.campaign import Campaign
from fota.domain.errors import InvalidRequest
from fota.domain.statuses import CampaignStatus


class UpgradeStatus(StrEnum):
    REQUEST_PENDING = "RequestPending"
    QUEUED = "Queued"
    REQUEST_FAILED = "RequestFailed"
    IN_PROGRESS = "InProgress"
    FINISHED = "Finished"
    UPGRADE_FAILED = "UpgradeFailed"

    @classmethod
    def parse(cls, text: str) -> UpgradeStatus:
        try:
            return cls(text)
        except ValueError:
            known = ", ".join(s.value for s in cls)
            raise InvalidRequest(f"unknown upgradeStatus {text!r}; expected one of {known}") from None


# The campaign statuses each upgrade status can come from; CampaignScheduled is split by `upgrade_status`.
CAMPAIGN_STATUSES_OF: dict[UpgradeStatus, tuple[CampaignStatus, ...]] = {
    UpgradeStatus.REQUEST_PENDING: (CampaignStatus.REQUEST_PENDING,),
    UpgradeStatus.REQUEST_FAILED: (CampaignStatus.REQUEST_FAILED,),
    UpgradeStatus.QUEUED: (CampaignStatus.QUEUED, CampaignStatus.PRE_SCHEDULED, CampaignStatus.SCHEDULED),
    UpgradeStatus.IN_PROGRESS: (CampaignStatus.SCHEDULED,),
    UpgradeStatus.FINISHED: (CampaignStatus.ENDED, CampaignStatus.CANCELLED, CampaignStatus.ABORTED),
    UpgradeStatus.UPGRADE_FAILED: (CampaignStatus.FAILED,),
}


def upgrade_status(status: CampaignStatus, campaign: Campaign, now: datetime) -> UpgradeStatus:
    """The v1 status of `campaign` when it has `status` at `now`.

    A scheduled campaign is laid out a day before its start (SCHEDULING_LEAD), but v1 promises `Queued` until the
    upgrade has started, so the start instant decides between Queued and InProgress.
    """
    if status is CampaignStatus.SCHEDULED:
        return UpgradeStatus.IN_PROGRESS if now >= campaign.schedule.starts_at else UpgradeStatus.QUEUED
    for upgrade, sources in CAMPAIGN_STATUSES_OF.items():
        if upgrade is not UpgradeStatus.IN_PROGRESS and status in sources:
            return upgrade
    raise AssertionError(f"campaign status {status} has no v1 spelling")  # every CampaignStatus is mapped above


def current_upgrade_status(campaign: Campaign, now: datetime) -> UpgradeStatus:
    return upgrade_status(campaign.status, campaign, now)
