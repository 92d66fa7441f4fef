"""The v1 shape of callback events, for accounts whose callback was registered as v1's `Fota` service.

ThingSpace v1 sends one message structure for every callback: `type` names the part that is filled, the other parts
stay empty, and the username and password given at registration are echoed back.
"""

from __future__ import annotations

from typing import Any

from fota.domain.campaign import Campaign
from fota.domain.statuses import CampaignStatus
from fota.domain.upgrade_statuses import UpgradeStatus, upgrade_status
from fota.services.ports import CallbackRegistration, HistoryEntry

UPGRADE_SCHEDULED = "upgradeScheduled"  # the upgrade passed its checks and waits for its start
UPGRADE_STATUS = "upgradeStatus"  # any later status of the upgrade as a whole
UPGRADE_PROGRESS = "upgradeProgress"  # one device's status in the upgrade
PARTS = (UPGRADE_SCHEDULED, UPGRADE_STATUS, UPGRADE_PROGRESS)


def v1_payload(
    event_id: str, entry: HistoryEntry, campaign: Campaign, registration: CallbackRegistration, time: str
) -> dict[str, Any] | None:
    """The v1 message for one history entry; None when v1 has nothing new to say about it."""
    if entry.device_id is not None:
        kind = UPGRADE_PROGRESS
        part: dict[str, Any] = {
            "upgradeId": campaign.id,
            "deviceId": entry.device_id,
            "status": entry.status,
            "reason": entry.reason or "",
            "time": time,
        }
    else:
        status = upgrade_status(CampaignStatus(entry.status), campaign, entry.at)
        # Being laid out (PreScheduled, then Scheduled before the start) is still `Queued` to v1: already said.
        if status is UpgradeStatus.QUEUED and entry.status != CampaignStatus.QUEUED:
            return None
        kind = UPGRADE_SCHEDULED if status is UpgradeStatus.QUEUED else UPGRADE_STATUS
        part = {
            "upgradeId": campaign.id,
            "firmwareName": campaign.firmware_name,
            "firmwareTo": campaign.firmware_to,
            "startDate": campaign.schedule.start_date.isoformat(),
            "status": status.value,
            "reason": entry.reason or "",
            "time": time,
        }
    payload: dict[str, Any] = {
        "eventId": event_id,
        "accountName": entry.account_name,
        "participantName": "",
        "type": kind,
        "username": registration.username or "",
        "password": registration.password or "",
        "firmwareList": [],
    }
    payload.update({name: part if name == kind else {} for name in PARTS})
    return payload
