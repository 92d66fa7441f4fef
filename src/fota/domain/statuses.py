"""Status strings of campaigns and of devices in campaigns; they are part of the wire contract."""

from __future__ import annotations

from enum import StrEnum


class CampaignStatus(StrEnum):
    REQUEST_PENDING = "CampaignRequestPending"
    REQUEST_FAILED = "CampaignRequestFailed"
    QUEUED = "CampaignQueued"
    PRE_SCHEDULED = "CampaignPreScheduled"
    SCHEDULED = "CampaignScheduled"
    ENDED = "CampaignEnded"
    CANCELLED = "CampaignCancelled"
    ABORTED = "CampaignAborted"
    FAILED = "CampaignFailed"

    @property
    def is_final(self) -> bool:
        return self in FINAL_CAMPAIGN_STATUSES

    @classmethod
    def parse(cls, text: str) -> CampaignStatus:
        """Accepts our spelling and the SDK enum's `CampaignRequestQueued` for the queued state."""
        if text == "CampaignRequestQueued":
            return cls.QUEUED
        return cls(text)


FINAL_CAMPAIGN_STATUSES = frozenset(
    {
        CampaignStatus.ENDED,
        CampaignStatus.CANCELLED,
        CampaignStatus.ABORTED,
        CampaignStatus.REQUEST_FAILED,
        CampaignStatus.FAILED,
    }
)


class DeviceStatus(StrEnum):
    """Status of one device in one campaign."""

    PENDING = "UpgradePending"
    IN_PROGRESS = "UpgradeInProgress"
    SUCCESS = "UpgradeSuccess"
    FAILED = "UpgradeFailed"
    REJECTED = "DeviceRejected"
    REMOVED = "DeviceRemoved"
    CAMPAIGN_CANCELLED = "CampaignCancelled"
    CAMPAIGN_ABORTED = "CampaignAborted"
    CAMPAIGN_ENDED = "CampaignEnded"

    @property
    def is_active(self) -> bool:
        """Active rows hold the device: it may not join another campaign meanwhile."""
        return self in (DeviceStatus.PENDING, DeviceStatus.IN_PROGRESS)


# What a campaign's still-pending devices become when the campaign reaches a final status.
PENDING_DEVICES_ON_FINAL = {
    CampaignStatus.ENDED: DeviceStatus.CAMPAIGN_ENDED,
    CampaignStatus.CANCELLED: DeviceStatus.CAMPAIGN_CANCELLED,
    CampaignStatus.ABORTED: DeviceStatus.CAMPAIGN_ABORTED,
    CampaignStatus.FAILED: DeviceStatus.CAMPAIGN_ABORTED,
}
