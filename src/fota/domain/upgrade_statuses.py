"""The v1 API's upgrade statuses (`UpgradeStatusEnum`) and how a campaign reads in them.

A v1 upgrade is a campaign; v1 spells its lifecycle differently and, unlike v3, says when the upgrade is over for
all its devices (`Finished`) or ran without upgrading any (`UpgradeFailed`), so its devices' outcomes count too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from fota.domain.campaign import Campaign
from fota.domain.statuses import CampaignStatus, DeviceStatus


class UpgradeStatus(StrEnum):
    REQUEST_PENDING = "RequestPending"
    QUEUED = "Queued"
    REQUEST_FAILED = "RequestFailed"
    IN_PROGRESS = "InProgress"
    FINISHED = "Finished"
    UPGRADE_FAILED = "UpgradeFailed"


@dataclass(frozen=True)
class DeviceTally:
    """How many of the upgrade's devices still wait or run, run now, reached the new firmware, or failed.

    The rules only ask whether a count is zero (and compare `in_progress` with a small number), so a caller may cut
    each count short: at least that many, or all of them when fewer.
    """

    active: int
    in_progress: int
    succeeded: int
    failed: int

    @classmethod
    def of(cls, counts: Mapping[DeviceStatus, int]) -> DeviceTally:
        return cls(
            active=sum(n for status, n in counts.items() if status.is_active),
            in_progress=counts.get(DeviceStatus.IN_PROGRESS, 0),
            succeeded=counts.get(DeviceStatus.SUCCESS, 0),
            failed=counts.get(DeviceStatus.FAILED, 0),
        )

    @property
    def concluded(self) -> int:
        """Devices whose upgrade ran to an outcome (both happen only after the start)."""
        return self.succeeded + self.failed


# The campaign statuses each upgrade status can come from; `upgrade_status` decides between them.
CAMPAIGN_STATUSES_OF: dict[UpgradeStatus, tuple[CampaignStatus, ...]] = {
    UpgradeStatus.REQUEST_PENDING: (CampaignStatus.REQUEST_PENDING,),
    UpgradeStatus.REQUEST_FAILED: (CampaignStatus.REQUEST_FAILED,),
    UpgradeStatus.QUEUED: (CampaignStatus.QUEUED, CampaignStatus.PRE_SCHEDULED, CampaignStatus.SCHEDULED),
    UpgradeStatus.IN_PROGRESS: (CampaignStatus.SCHEDULED,),
    UpgradeStatus.FINISHED: (
        CampaignStatus.SCHEDULED,
        CampaignStatus.ENDED,
        CampaignStatus.CANCELLED,
        CampaignStatus.ABORTED,
    ),
    UpgradeStatus.UPGRADE_FAILED: (CampaignStatus.SCHEDULED, CampaignStatus.ENDED, CampaignStatus.FAILED),
}

_DIRECT = {
    CampaignStatus.REQUEST_PENDING: UpgradeStatus.REQUEST_PENDING,
    CampaignStatus.REQUEST_FAILED: UpgradeStatus.REQUEST_FAILED,
    CampaignStatus.QUEUED: UpgradeStatus.QUEUED,
    CampaignStatus.PRE_SCHEDULED: UpgradeStatus.QUEUED,
    # Stopped by the account: over, whatever its devices reached.
    CampaignStatus.CANCELLED: UpgradeStatus.FINISHED,
    CampaignStatus.ABORTED: UpgradeStatus.FINISHED,
    CampaignStatus.FAILED: UpgradeStatus.UPGRADE_FAILED,
}


def upgrade_status(status: CampaignStatus, campaign: Campaign, now: datetime, tally: DeviceTally) -> UpgradeStatus:
    """The v1 status of `campaign` when it has `status` at `now` and its devices are as `tally` counts them.

    fota lays a campaign out (CampaignScheduled) a day before its start, but v1 promises `Queued` until the upgrade
    has started. From the start, the upgrade is `InProgress` while a device waits or runs; once none does, or the
    end date has passed, it is over: `Finished` if a device was upgraded, `UpgradeFailed` if none was.
    """
    direct = _DIRECT.get(status)
    if direct is not None:
        return direct
    if status is CampaignStatus.SCHEDULED and now < campaign.schedule.starts_at:
        return UpgradeStatus.QUEUED
    if status is CampaignStatus.SCHEDULED and tally.active:
        return UpgradeStatus.IN_PROGRESS
    return UpgradeStatus.FINISHED if tally.succeeded else UpgradeStatus.UPGRADE_FAILED
