"""SQL repositories for staged rollouts: a campaign's rollout state and when to settle it, its members' waves and
health, and the campaign audit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, or_, select, update

from fota.adapters.storage.campaign_store import _campaign, campaign_columns, joined_campaign, rollout_state_values
from fota.adapters.storage.tables import campaign_audit, campaign_devices, campaigns, devices
from fota.domain.campaign import Campaign
from fota.domain.rollout import DeviceOutcome, RolloutState, Unhealthy, WaveTally, outcome_of
from fota.domain.statuses import DeviceStatus
from fota.services.ports import HEALTHY, AuditRecord, SoakingDevice

UNHEALTHY = frozenset(u.value for u in Unhealthy)
SUCCESS = DeviceStatus.SUCCESS.value
PENDING = DeviceStatus.PENDING.value
SOAKING = and_(campaign_devices.c.succeeded_at.is_not(None), campaign_devices.c.health.is_(None))


class _Counts:
    """A wave's tally built up from (status, health, count) groups."""

    def __init__(self) -> None:
        self.devices = self.succeeded = self.soaked = self.failed = self.unhealthy = 0

    def add(self, status: str, health: str | None, count: int) -> None:
        outcome = outcome_of(DeviceStatus(status), unhealthy=health in UNHEALTHY)
        if outcome is None:
            return
        self.devices += count
        if outcome is DeviceOutcome.SUCCEEDED:
            self.succeeded += count
            if health == HEALTHY:
                self.soaked += count
        elif outcome is DeviceOutcome.FAILED:
            self.failed += count
        elif outcome is DeviceOutcome.UNHEALTHY:
            self.unhealthy += count

    def tally(self) -> WaveTally:
        return WaveTally(self.devices, self.succeeded, self.soaked, self.failed, self.unhealthy)


def _soaking(row: Any) -> SoakingDevice:
    r = row._mapping
    return SoakingDevice(
        r["campaign_id"],
        r["device_id"],
        r["wave"],
        r["succeeded_at"],
        r["health_lifetime"],
        r["last_seen_at"],
        r["firmware"],
    )


SOAKING_COLUMNS = (
    campaign_devices.c.campaign_id,
    campaign_devices.c.device_id,
    campaign_devices.c.wave,
    campaign_devices.c.succeeded_at,
    campaign_devices.c.health_lifetime,
    devices.c.last_seen_at,
    devices.c.firmware,
)


# Built once: every check-in that reads the firmware asks it (building it cost more than running it).
_SOAKING_FOR_DEVICE = (
    select(*SOAKING_COLUMNS, *campaign_columns())
    .join(devices, devices.c.device_id == campaign_devices.c.device_id)
    .join(campaigns, campaigns.c.id == campaign_devices.c.campaign_id)
    .where(campaign_devices.c.device_id == bindparam("device_id"), campaign_devices.c.status == SUCCESS, SOAKING)
)


class SqlRolloutRepository:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def set_state(self, campaign_id: str, state: RolloutState, *, check_at: datetime | None) -> None:
        self.c.execute(
            update(campaigns)
            .where(campaigns.c.id == campaign_id)
            .values(rollout_check_at=check_at, **rollout_state_values(state))
        )

    def due(self, now: datetime, limit: int) -> list[Campaign]:
        query = (
            select(campaigns)
            .where(campaigns.c.rollout_check_at <= now)
            .order_by(campaigns.c.rollout_check_at)
            .limit(limit)
        )
        return [_campaign(r) for r in self.c.execute(query)]

    def mark_due(self, campaign_id: str, at: datetime) -> None:
        # Conditional, so that the many conclusions of one tick's interval write the campaign row once.
        self.c.execute(
            update(campaigns)
            .where(
                campaigns.c.id == campaign_id,
                campaigns.c.rollout.is_not(None),
                or_(campaigns.c.rollout_check_at.is_(None), campaigns.c.rollout_check_at > at),
            )
            .values(rollout_check_at=at)
        )

    def assign_waves(self, campaign_id: str, waves: Sequence[tuple[str, int]]) -> None:
        if not waves:
            return
        self.c.execute(
            update(campaign_devices)
            .where(
                campaign_devices.c.campaign_id == bindparam("b_campaign_id"),
                campaign_devices.c.device_id == bindparam("b_device_id"),
            )
            .values(wave=bindparam("b_wave")),
            [{"b_campaign_id": campaign_id, "b_device_id": d, "b_wave": w} for d, w in waves],
        )

    def hold_pending(self, campaign_id: str, *, first_wave: int, last_wave: int, reason: str) -> None:
        self.c.execute(
            update(campaign_devices)
            .where(
                campaign_devices.c.campaign_id == campaign_id,
                campaign_devices.c.wave >= first_wave,
                campaign_devices.c.wave <= last_wave,
                campaign_devices.c.status == PENDING,
                campaign_devices.c.next_attempt_at.is_(None),
            )
            .values(reason=reason)
        )

    def tally(self, campaign_id: str, wave: int) -> WaveTally:
        counts = _Counts()
        query = (
            select(campaign_devices.c.status, campaign_devices.c.health, func.count())
            .where(campaign_devices.c.campaign_id == campaign_id, campaign_devices.c.wave == wave)
            .group_by(campaign_devices.c.status, campaign_devices.c.health)
        )
        for status, health, count in self.c.execute(query):
            counts.add(status, health, count)
        return counts.tally()

    def tallies(self, campaign_id: str, waves: int) -> list[WaveTally]:
        counts = [_Counts() for _ in range(waves)]
        query = (
            select(campaign_devices.c.wave, campaign_devices.c.status, campaign_devices.c.health, func.count())
            .where(campaign_devices.c.campaign_id == campaign_id, campaign_devices.c.wave.is_not(None))
            .group_by(campaign_devices.c.wave, campaign_devices.c.status, campaign_devices.c.health)
        )
        for wave, status, health, count in self.c.execute(query):
            if 0 <= wave < waves:
                counts[wave].add(status, health, count)
        return [c.tally() for c in counts]

    def start_soak(self, campaign_id: str, device_id: str, *, at: datetime, lifetime: int) -> None:
        self.c.execute(
            update(campaign_devices)
            .where(campaign_devices.c.campaign_id == campaign_id, campaign_devices.c.device_id == device_id)
            .values(succeeded_at=at, health_lifetime=lifetime, health=None)
        )

    def soaking(self, campaign_id: str, wave: int) -> list[SoakingDevice]:
        query = (
            select(*SOAKING_COLUMNS)
            .join(devices, devices.c.device_id == campaign_devices.c.device_id)
            .where(
                campaign_devices.c.campaign_id == campaign_id,
                campaign_devices.c.wave == wave,
                campaign_devices.c.status == SUCCESS,
                SOAKING,
            )
        )
        return [_soaking(r) for r in self.c.execute(query)]

    def soaking_for_device(self, device_id: str) -> list[tuple[SoakingDevice, Campaign]]:
        found: list[tuple[SoakingDevice, Campaign]] = []
        for row in self.c.execute(_SOAKING_FOR_DEVICE, {"device_id": device_id}):
            found.append((_soaking(row), joined_campaign(row)))
        return found

    def set_health(self, campaign_id: str, device_id: str, health: str) -> None:
        self.c.execute(
            update(campaign_devices)
            .where(
                campaign_devices.c.campaign_id == campaign_id,
                campaign_devices.c.device_id == device_id,
                campaign_devices.c.health.is_(None),
            )
            .values(health=health)
        )


def _record(row: Any) -> AuditRecord:
    r = row._mapping
    return AuditRecord(r["campaign_id"], r["account_name"], r["at"], r["actor"], r["action"], r["reason"], r["detail"])


class SqlAuditRepository:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def add(self, records: Iterable[AuditRecord]) -> None:
        # A few entries per call, with a JSON column: a plain executemany rather than the bulk path.
        values = [
            {
                "campaign_id": r.campaign_id,
                "account_name": r.account_name,
                "at": r.at,
                "actor": r.actor,
                "action": r.action,
                "reason": r.reason,
                "detail": dict(r.detail) if r.detail is not None else None,
            }
            for r in records
        ]
        if values:
            self.c.execute(insert(campaign_audit), values)

    def for_campaign(self, campaign_id: str) -> list[AuditRecord]:
        query = select(campaign_audit).where(campaign_audit.c.campaign_id == campaign_id).order_by(campaign_audit.c.id)
        return [_record(r) for r in self.c.execute(query)]
