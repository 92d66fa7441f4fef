"""v1's reading of a campaign (docs/behaviour.md, v1): upgrade statuses, and which of them v1 callbacks announce."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from fota.domain.campaign import Campaign
from fota.domain.protocols import Protocol
from fota.domain.statuses import CampaignStatus, DeviceStatus
from fota.domain.upgrade import Step
from fota.domain.upgrade_statuses import CAMPAIGN_STATUSES_OF, DeviceTally, UpgradeStatus, upgrade_status
from fota.domain.windows import Schedule
from fota.services.ports import HistoryEntry
from fota.services.v1_events import announcements

S, U = CampaignStatus, UpgradeStatus
STARTS_AT = datetime(2026, 12, 1, tzinfo=UTC)
BEFORE, DURING = STARTS_AT - timedelta(hours=1), STARTS_AT + timedelta(hours=1)
UPGRADE = Campaign(
    id="u-1",
    account_name="0000123456-00001",
    name=None,
    firmware_name="fw",
    firmware_from="1.0.0",
    firmware_to="2.0.0",
    protocol=Protocol.LWM2M,
    make="SimCo",
    model="SIM-1",
    schedule=Schedule(date(2026, 12, 1), date(2026, 12, 2), (), "UTC"),
    auto_assign_license=False,
    auto_add_devices=False,
    status=S.SCHEDULED,
)


def tally(active: int = 0, in_progress: int = 0, succeeded: int = 0, failed: int = 0) -> DeviceTally:
    return DeviceTally(active, in_progress, succeeded, failed)


@pytest.mark.parametrize(
    ("status", "now", "devices", "expected"),
    [
        (S.REQUEST_PENDING, BEFORE, tally(), U.REQUEST_PENDING),
        (S.REQUEST_FAILED, BEFORE, tally(), U.REQUEST_FAILED),
        (S.QUEUED, BEFORE, tally(active=2), U.QUEUED),
        (S.PRE_SCHEDULED, BEFORE, tally(active=2), U.QUEUED),
        (S.SCHEDULED, BEFORE, tally(active=2), U.QUEUED),  # laid out a day early: v1 waits for the start
        (S.SCHEDULED, STARTS_AT, tally(active=2), U.IN_PROGRESS),
        (S.SCHEDULED, DURING, tally(active=1, succeeded=1), U.IN_PROGRESS),
        (S.SCHEDULED, DURING, tally(succeeded=1, failed=1), U.FINISHED),  # over for every device
        (S.SCHEDULED, DURING, tally(failed=2), U.UPGRADE_FAILED),
        (S.SCHEDULED, DURING, tally(), U.UPGRADE_FAILED),  # nothing to upgrade
        (S.ENDED, DURING, tally(active=1, succeeded=1), U.FINISHED),
        (S.ENDED, DURING, tally(active=3), U.UPGRADE_FAILED),  # it ran, and upgraded nobody
        (S.CANCELLED, BEFORE, tally(active=3), U.FINISHED),
        (S.ABORTED, DURING, tally(active=3), U.FINISHED),
        (S.FAILED, DURING, tally(succeeded=1), U.UPGRADE_FAILED),
    ],
)
def test_upgrade_status_reads_the_campaign_and_its_devices(
    status: CampaignStatus, now: datetime, devices: DeviceTally, expected: UpgradeStatus
) -> None:
    assert upgrade_status(status, UPGRADE, now, devices) is expected
    assert status in CAMPAIGN_STATUSES_OF[expected], "listing by status must look where the status comes from"


def test_every_campaign_status_has_a_v1_reading() -> None:
    for status in CampaignStatus:
        assert upgrade_status(status, UPGRADE, DURING, tally()) in set(UpgradeStatus)


def test_tally_counts_active_and_concluded_devices() -> None:
    counts = {DeviceStatus.PENDING: 2, DeviceStatus.IN_PROGRESS: 1, DeviceStatus.SUCCESS: 3, DeviceStatus.FAILED: 1}
    assert DeviceTally.of(counts) == tally(active=3, in_progress=1, succeeded=3, failed=1)
    assert DeviceTally.of(counts).concluded == 4


def campaign_entry(status: CampaignStatus, at: datetime) -> HistoryEntry:
    return HistoryEntry(UPGRADE.account_name, UPGRADE.id, None, status.value, "why", at)


def device_entry(device: str, status: DeviceStatus, at: datetime = DURING, reason: str = "r") -> HistoryEntry:
    return HistoryEntry(UPGRADE.account_name, UPGRADE.id, device, status.value, reason, at)


def announced(entries: list[HistoryEntry], devices: DeviceTally, campaign: Campaign = UPGRADE) -> list[UpgradeStatus]:
    return [status for _, status in announcements(campaign, entries, devices)]


def test_v1_announces_each_upgrade_status_once() -> None:
    queued = replace(UPGRADE, status=S.QUEUED)
    assert announced([campaign_entry(S.QUEUED, BEFORE)], tally(), queued) == [U.QUEUED]
    # Laid out before the start: still Queued, nothing new to say.
    assert announced([campaign_entry(S.PRE_SCHEDULED, BEFORE)], tally(active=2), queued) == []
    assert announced([campaign_entry(S.SCHEDULED, BEFORE)], tally(active=2)) == []
    # The first devices to start start the upgrade; later starts do not announce it again.
    starts = [device_entry(d, DeviceStatus.IN_PROGRESS, reason=Step.STARTING.reason) for d in ("a", "b")]
    assert announced(starts, tally(active=2, in_progress=2)) == [U.IN_PROGRESS]
    assert announced(starts[1:], tally(active=2, in_progress=2)) == []
    assert announced([device_entry("a", DeviceStatus.IN_PROGRESS, reason="Downloaded")], tally(active=2)) == []
    # The last device to conclude ends it, and the end date then adds nothing.
    assert announced([device_entry("a", DeviceStatus.SUCCESS)], tally(active=1, succeeded=1)) == []
    assert announced([device_entry("b", DeviceStatus.FAILED)], tally(succeeded=1, failed=1)) == [U.FINISHED]
    ended = replace(UPGRADE, status=S.ENDED)
    assert announced([campaign_entry(S.ENDED, DURING)], tally(succeeded=1, failed=1), ended) == []


def test_v1_announces_the_end_date_when_devices_were_still_waiting() -> None:
    ended = replace(UPGRADE, status=S.ENDED)
    assert announced([campaign_entry(S.ENDED, DURING)], tally(active=2), ended) == [U.UPGRADE_FAILED]
    assert announced([campaign_entry(S.ENDED, DURING)], tally(active=1, succeeded=1), ended) == [U.FINISHED]
    # Device changes before the start, or of a final campaign, announce nothing of the upgrade.
    assert announced([device_entry("a", DeviceStatus.REMOVED, BEFORE)], tally()) == []
    assert announced([device_entry("a", DeviceStatus.CAMPAIGN_ENDED)], tally(), ended) == []
