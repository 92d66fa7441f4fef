"""SQL read queries of the operator console: campaign listings, status counts, keyset device pages, check-ins."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, func, select

from fota.adapters.storage.bulk import key_chunks, member_of
from fota.adapters.storage.campaign_store import _campaign, _row
from fota.adapters.storage.tables import campaign_devices, campaigns, devices, history, registrations
from fota.domain.statuses import DeviceStatus
from fota.services.ports import CampaignDeviceRow, CampaignListing, CheckIn

OUTCOMES = [DeviceStatus.SUCCESS.value, DeviceStatus.FAILED.value]


class SqlInsightRepository:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def campaigns(self, account_name: str, *, limit: int) -> list[CampaignListing]:
        query = (
            select(campaigns)
            .where(campaigns.c.account_name == account_name)
            .order_by(campaigns.c.created_at.desc(), campaigns.c.id)
            .limit(limit)
        )
        return [CampaignListing(_campaign(r), r._mapping["created_at"]) for r in self.c.execute(query)]

    def listing(self, account_name: str, campaign_id: str) -> CampaignListing | None:
        row = self.c.execute(
            select(campaigns).where(campaigns.c.id == campaign_id, campaigns.c.account_name == account_name)
        ).first()
        return CampaignListing(_campaign(row), row._mapping["created_at"]) if row else None

    def status_counts(self, campaign_ids: Sequence[str]) -> dict[str, dict[DeviceStatus, int]]:
        counts: dict[str, dict[DeviceStatus, int]] = {c: {} for c in campaign_ids}
        for chunk in key_chunks(campaign_ids):
            query = (
                select(campaign_devices.c.campaign_id, campaign_devices.c.status, func.count())
                .where(member_of(self.c, campaign_devices.c.campaign_id, chunk))
                .group_by(campaign_devices.c.campaign_id, campaign_devices.c.status)
            )
            for campaign_id, status, count in self.c.execute(query):
                counts[campaign_id][DeviceStatus(status)] = int(count)
        return counts

    def device_page(
        self, campaign_id: str, *, status: DeviceStatus | None, after: str | None, limit: int
    ) -> list[CampaignDeviceRow]:
        # Walks the (campaign_id, device_id) primary key from `after`: the cost is the page, not the campaign.
        query = select(campaign_devices).where(campaign_devices.c.campaign_id == campaign_id)
        if status is not None:
            query = query.where(campaign_devices.c.status == status.value)
        if after:
            query = query.where(campaign_devices.c.device_id > after)
        return [_row(r) for r in self.c.execute(query.order_by(campaign_devices.c.device_id).limit(limit))]

    def outcomes(self, campaign_id: str) -> list[tuple[datetime, DeviceStatus]]:
        query = (
            select(history.c.at, history.c.status)
            .where(
                history.c.campaign_id == campaign_id,
                history.c.device_id.is_not(None),
                history.c.status.in_(OUTCOMES),
            )
            .order_by(history.c.id)
        )
        return [(at, DeviceStatus(status)) for at, status in self.c.execute(query)]

    def checkins(self, device_ids: Sequence[str]) -> dict[str, CheckIn]:
        found: dict[str, CheckIn] = {}
        for chunk in key_chunks(device_ids):
            query = (
                select(
                    devices.c.device_id,
                    devices.c.last_seen_at,
                    registrations.c.lifetime,
                    registrations.c.expires_at,
                )
                .select_from(devices.outerjoin(registrations, registrations.c.device_id == devices.c.device_id))
                .where(member_of(self.c, devices.c.device_id, chunk))
            )
            for device_id, last_seen_at, lifetime, expires_at in self.c.execute(query):
                found[device_id] = CheckIn(device_id, last_seen_at, lifetime, expires_at)
        return found
