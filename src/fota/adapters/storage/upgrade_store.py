"""SQL repositories for device upgrades in progress, LwM2M registrations and per-device download links.

Every step change is a conditional UPDATE: it succeeds only from the expected state, so two workers (or a worker
and a time-out) can never both advance the same upgrade.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Select, and_, bindparam, delete, insert, or_, select, update

from fota.adapters.storage.bulk import KEYS, key_chunks, keys_in, keys_json
from fota.adapters.storage.campaign_store import _row, campaign_columns, joined_campaign
from fota.adapters.storage.tables import (
    campaign_devices,
    campaigns,
    devices,
    download_tokens,
    registrations,
    unknown_endpoints,
)
from fota.domain.bandwidth import BandwidthBudget
from fota.domain.campaign import Campaign
from fota.domain.statuses import DeviceStatus
from fota.domain.upgrade import Step
from fota.services.ports import CampaignDeviceRow, DownloadLink, Registration

IN_PROGRESS = DeviceStatus.IN_PROGRESS.value
PENDING = DeviceStatus.PENDING.value


# Built once, like the other statements of a device's check-in: building these (fifty labelled columns) cost more
# than running them. Each row carries its campaign's columns, so that one statement reads both; a device's first
# active row is its oldest campaign's.
_ACTIVE = (
    select(campaign_devices, devices.c.time_zone.label("device__time_zone"), *campaign_columns())
    .join(campaigns, campaigns.c.id == campaign_devices.c.campaign_id)
    .outerjoin(devices, devices.c.device_id == campaign_devices.c.device_id)  # by primary key
    .where(campaign_devices.c.active.is_(True))
)


@cache
def _active_rows(dialect: str) -> Select[Any]:
    return _ACTIVE.where(keys_in(dialect, campaign_devices.c.device_id)).order_by(
        campaign_devices.c.device_id, campaigns.c.created_at, campaigns.c.id
    )


_ACTIVE_FOR_DEVICE = (
    _ACTIVE.where(campaign_devices.c.device_id == bindparam("device_id"))
    .order_by(campaigns.c.created_at, campaigns.c.id)
    .limit(1)
)


class SqlUpgradeRepository:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def active_for_device(self, device_id: str) -> tuple[CampaignDeviceRow, Campaign] | None:
        found = self.c.execute(_ACTIVE_FOR_DEVICE, {"device_id": device_id}).first()
        if found is None:
            return None
        return _row(found, device_zone=found._mapping["device__time_zone"]), joined_campaign(found)

    def active_for_devices(self, device_ids: Sequence[str]) -> dict[str, tuple[CampaignDeviceRow, Campaign]]:
        dialect = self.c.dialect.name
        found: dict[str, tuple[CampaignDeviceRow, Campaign]] = {}
        made: dict[str, Campaign] = {}
        for chunk in key_chunks(device_ids):
            for row in self.c.execute(_active_rows(dialect), {KEYS: keys_json(chunk)}):
                if row.device_id in found:
                    continue  # a later campaign's row: the earliest created is the device's
                # Made once per campaign, not per row: its columns are the larger part of each, JSON included.
                campaign = made.get(row.campaign_id)
                if campaign is None:
                    campaign = made[row.campaign_id] = joined_campaign(row)
                found[row.device_id] = (_row(row, device_zone=row.device__time_zone), campaign)
        return found

    def claim(
        self,
        campaign_id: str,
        device_id: str,
        *,
        step: Step,
        reason: str,
        now: datetime,
        deadline: datetime,
        bandwidth_hour: datetime | None = None,
    ) -> bool:
        statement = (
            update(campaign_devices)
            .where(
                campaign_devices.c.campaign_id == campaign_id,
                campaign_devices.c.device_id == device_id,
                campaign_devices.c.status == PENDING,
                or_(campaign_devices.c.next_attempt_at.is_(None), campaign_devices.c.next_attempt_at <= now),
            )
            .values(
                status=IN_PROGRESS,
                reason=reason,
                active=True,
                step=step.value,
                step_deadline=deadline,
                attempts=campaign_devices.c.attempts + 1,
                recent_attempt_at=now,
                next_attempt_at=None,
                update_executed_at=None,
                delivery=None,
                bandwidth_hour=bandwidth_hour,
                updated_at=now,
            )
        )
        return self.c.execute(statement).rowcount == 1

    def defer(self, campaign_id: str, device_id: str, *, reason: str, until: datetime, now: datetime) -> bool:
        statement = (
            update(campaign_devices)
            .where(
                campaign_devices.c.campaign_id == campaign_id,
                campaign_devices.c.device_id == device_id,
                campaign_devices.c.status == PENDING,
                or_(campaign_devices.c.next_attempt_at.is_(None), campaign_devices.c.next_attempt_at <= now),
            )
            .values(reason=reason, next_attempt_at=until, updated_at=now)
        )
        return self.c.execute(statement).rowcount == 1

    def take_start_grant(self, campaign_id: str, device_id: str, *, hour: datetime) -> bool:
        statement = (
            update(campaign_devices)
            .where(
                campaign_devices.c.campaign_id == campaign_id,
                campaign_devices.c.device_id == device_id,
                campaign_devices.c.bandwidth_hour == hour,
            )
            .values(bandwidth_hour=None)
        )
        return self.c.execute(statement).rowcount == 1

    def set_step(
        self,
        campaign_id: str,
        device_id: str,
        *,
        from_steps: Sequence[Step],
        step: Step,
        reason: str,
        now: datetime,
        deadline: datetime,
        delivery: str | None = None,
        executed_at: datetime | None = None,
    ) -> bool:
        values: dict[str, Any] = {"step": step.value, "reason": reason, "step_deadline": deadline, "updated_at": now}
        if delivery is not None:
            values["delivery"] = delivery
        if executed_at is not None:
            values["update_executed_at"] = executed_at
        statement = (
            update(campaign_devices)
            .where(
                campaign_devices.c.campaign_id == campaign_id,
                campaign_devices.c.device_id == device_id,
                campaign_devices.c.status == IN_PROGRESS,
                campaign_devices.c.step.in_([s.value for s in from_steps]),
            )
            .values(**values)
        )
        return self.c.execute(statement).rowcount == 1

    def conclude(
        self,
        campaign_id: str,
        device_id: str,
        *,
        status: DeviceStatus,
        reason: str,
        now: datetime,
        next_attempt_at: datetime | None,
        expected_step: Step | None = None,
        expired_by: datetime | None = None,
    ) -> bool:
        conditions = [
            campaign_devices.c.campaign_id == campaign_id,
            campaign_devices.c.device_id == device_id,
            campaign_devices.c.status == IN_PROGRESS,
        ]
        if expected_step is not None:
            conditions.append(campaign_devices.c.step == expected_step.value)
        if expired_by is not None:
            # A time-out only ends the attempt it read: a newer attempt has a later deadline and is left alone.
            conditions.append(campaign_devices.c.step_deadline <= expired_by)
        statement = (
            update(campaign_devices)
            .where(and_(*conditions))
            .values(
                status=status.value,
                reason=reason,
                active=status.is_active,
                step=None,
                step_deadline=None,
                next_attempt_at=next_attempt_at,
                update_executed_at=None,
                updated_at=now,
            )
        )
        return self.c.execute(statement).rowcount == 1

    def expired(self, now: datetime, limit: int) -> list[CampaignDeviceRow]:
        query = (
            select(campaign_devices)
            .where(campaign_devices.c.step_deadline <= now, campaign_devices.c.status == IN_PROGRESS)
            .order_by(campaign_devices.c.step_deadline)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_row(r) for r in self.c.execute(query)]


def _registration(row: Any) -> Registration:
    r = row._mapping
    return Registration(
        location=r["location"],
        endpoint=r["endpoint"],
        device_id=r["device_id"],
        lifetime=r["lifetime"],
        lwm2m_version=r["lwm2m_version"],
        binding=r["binding"],
        address=r["address"],
        objects=r["objects"],
        node=r["node"],
        registered_at=r["registered_at"],
        updated_at=r["updated_at"],
        expires_at=r["expires_at"],
    )


# An UPDATE's parameters cannot take its columns' names.
_TOUCH_REGISTRATION = (
    update(registrations)
    .where(registrations.c.location == bindparam("b_location"))
    .values(
        updated_at=bindparam("b_now"),
        expires_at=bindparam("b_expires"),
        address=bindparam("b_address"),
        lifetime=bindparam("b_lifetime"),
    )
)


@cache
def _registrations_at(dialect: str) -> Select[Any]:
    return select(registrations).where(keys_in(dialect, registrations.c.location))


class SqlRegistrationRepository:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def save(self, registration: Registration) -> None:
        """Replaces any earlier registration of the same endpoint (a device that re-registers starts afresh)."""
        self.c.execute(delete(registrations).where(registrations.c.endpoint == registration.endpoint))
        self.c.execute(insert(registrations).values(**registration.__dict__))

    def get(self, location: str) -> Registration | None:
        row = self.c.execute(select(registrations).where(registrations.c.location == location)).first()
        return _registration(row) if row else None

    def for_device(self, device_id: str) -> Registration | None:
        row = self.c.execute(
            select(registrations)
            .where(registrations.c.device_id == device_id)
            .order_by(registrations.c.updated_at.desc())
        ).first()
        return _registration(row) if row else None

    def get_many(self, locations: Sequence[str]) -> dict[str, Registration]:
        found: dict[str, Registration] = {}
        statement = _registrations_at(self.c.dialect.name)
        for chunk in key_chunks(locations):
            for row in self.c.execute(statement, {KEYS: keys_json(chunk)}):
                registration = _registration(row)
                found[registration.location] = registration
        return found

    def touch_many(self, refreshed: Sequence[Registration]) -> None:
        if refreshed:  # one statement run for each, in order; psycopg pipelines them
            values = [
                {
                    "b_location": r.location,
                    "b_now": r.updated_at,
                    "b_expires": r.expires_at,
                    "b_address": r.address,
                    "b_lifetime": r.lifetime,
                }
                for r in refreshed
            ]
            self.c.execute(_TOUCH_REGISTRATION, values)

    def delete(self, location: str) -> bool:
        return bool(self.c.execute(delete(registrations).where(registrations.c.location == location)).rowcount)

    def purge_expired(self, now: datetime) -> int:
        return self.c.execute(delete(registrations).where(registrations.c.expires_at <= now)).rowcount

    def count_unknown(self, endpoint: str, *, address: str, now: datetime) -> None:
        changed = self.c.execute(
            update(unknown_endpoints)
            .where(unknown_endpoints.c.endpoint == endpoint)
            .values(attempts=unknown_endpoints.c.attempts + 1, last_address=address, last_seen_at=now)
        ).rowcount
        if not changed:
            self.c.execute(
                insert(unknown_endpoints).values(
                    endpoint=endpoint, attempts=1, last_address=address, first_seen_at=now, last_seen_at=now
                )
            )


class SqlDownloadRepository:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def add(self, token_hash: str, link: DownloadLink) -> None:
        self.c.execute(
            insert(download_tokens).values(
                token_hash=token_hash,
                device_id=link.device_id,
                campaign_id=link.campaign_id,
                firmware_name=link.firmware_name,
                created_at=link.created_at,
                expires_at=link.expires_at,
            )
        )

    def get(self, token_hash: str) -> DownloadLink | None:
        # The campaign's budget comes with the link (its primary key, one row): a download needs nothing else.
        row = self.c.execute(
            select(download_tokens, campaigns.c.bandwidth_bytes_per_hour)
            .outerjoin(campaigns, campaigns.c.id == download_tokens.c.campaign_id)
            .where(download_tokens.c.token_hash == token_hash)
        ).first()
        if row is None:
            return None
        r = row._mapping
        limit = r["bandwidth_bytes_per_hour"]
        return DownloadLink(
            r["device_id"],
            r["campaign_id"],
            r["firmware_name"],
            r["created_at"],
            r["expires_at"],
            BandwidthBudget(int(limit)) if limit is not None else None,
        )

    def purge_expired(self, now: datetime) -> int:
        return self.c.execute(delete(download_tokens).where(download_tokens.c.expires_at <= now)).rowcount
