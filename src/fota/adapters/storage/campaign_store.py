"""SQL repositories for campaigns and the devices in each campaign (the status history: history_store.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, literal, select, update

from fota.adapters.storage import sqlite_campaign_reads
from fota.adapters.storage.bulk import ANALYZE_FROM, GROUP_FROM, insert_keyed, insert_rows, key_chunks, member_of
from fota.adapters.storage.campaign_start_rule import (
    blackouts_json,
    blackouts_of,
    override_json,
    override_of,
    window_zone_of,
)
from fota.adapters.storage.device_report_json import report_items
from fota.adapters.storage.notifications import ENGINE_CHANNEL, notify
from fota.adapters.storage.report_changes import fold_report_changes, report_version
from fota.adapters.storage.tables import campaign_devices, campaigns
from fota.domain.bandwidth import BandwidthBudget
from fota.domain.campaign import Campaign
from fota.domain.phases import Phases
from fota.domain.protocols import Protocol
from fota.domain.rollout import RolloutState, RolloutStatus, parse_rollout
from fota.domain.statuses import FINAL_CAMPAIGN_STATUSES, CampaignStatus, DeviceStatus
from fota.domain.upgrade import RetryPolicy, Step
from fota.domain.windows import Schedule, TimeWindow
from fota.services.ports import CampaignDeviceRow, NewCampaignDevices, ReportVersion, WrittenItems

FINAL = [s.value for s in FINAL_CAMPAIGN_STATUSES]


def _windows(stored: Any) -> tuple[TimeWindow, ...]:
    return tuple(TimeWindow(w["startTime"], w["endTime"]) for w in stored)


def _windows_json(windows: Iterable[TimeWindow]) -> list[dict[str, int]]:
    return [{"startTime": w.start_hour, "endTime": w.end_hour} for w in windows]


def _campaign(row: Any) -> Campaign:
    return campaign_of(row._mapping)


# A query that reads a campaign beside another table's row labels the campaign's columns with this prefix
# (`campaign_columns`), and `joined_campaign` makes the campaign from them.
_JOINED = "campaign__"


def campaign_columns() -> list[Any]:
    return [c.label(f"{_JOINED}{c.name}") for c in campaigns.c]


def joined_campaign(row: Any) -> Campaign:
    """The campaign of a row whose query selected `campaign_columns()`."""
    return campaign_of({k.removeprefix(_JOINED): v for k, v in row._mapping.items() if k.startswith(_JOINED)})


def campaign_of(r: Mapping[str, Any]) -> Campaign:
    """The campaign of a `campaigns` row's values, as the driver's result processors give them."""
    windows = _windows(r["windows"])
    install_windows = r["install_windows"]
    retry_policy = r["retry_policy"]
    schedule = Schedule(r["start_date"], r["end_date"], windows, r["time_zone"])
    return Campaign(
        id=r["id"],
        account_name=r["account_name"],
        name=r["campaign_name"],
        firmware_name=r["firmware_name"],
        firmware_from=r["firmware_from"],
        firmware_to=r["firmware_to"],
        protocol=Protocol(r["protocol"]),
        make=r["make"],
        model=r["model"],
        schedule=schedule,
        auto_assign_license=r["auto_assign_license"],
        auto_add_devices=r["auto_add_devices"],
        status=CampaignStatus(r["status"]),
        status_reason=r["status_reason"],
        package_kind=r["package_kind"],
        phases=Phases(
            r["download_after"],
            r["install_after"],
            _windows(install_windows) if install_windows is not None else None,
        ),
        retry_policy=RetryPolicy.from_plain(retry_policy) if retry_policy is not None else None,
        window_zone=window_zone_of(r["window_zone"]),
        blackouts=blackouts_of(r["blackouts"], schedule.zone),
        blackout_override=override_of(r["blackout_override"], schedule.zone),
        bandwidth=_bandwidth(r["bandwidth_bytes_per_hour"]),
        follow_up_of=r["follow_up_of"],
        rollout=parse_rollout(r["rollout"]) if r["rollout"] is not None else None,
        rollout_state=rollout_state_of(r),
    )


def _bandwidth(bytes_per_hour: int | None) -> BandwidthBudget | None:
    return BandwidthBudget(int(bytes_per_hour)) if bytes_per_hour is not None else None


def rollout_state_of(r: Any) -> RolloutState | None:
    if r["rollout_status"] is None:
        return None
    return RolloutState(
        RolloutStatus(r["rollout_status"]), r["rollout_wave"], r["rollout_paused_reason"], r["rollout_excused"]
    )


def rollout_state_values(state: RolloutState | None) -> dict[str, Any]:
    """The campaign columns of a rollout state (all NULL without a rollout)."""
    if state is None:
        return {"rollout_status": None, "rollout_wave": None, "rollout_paused_reason": None, "rollout_excused": None}
    return {
        "rollout_status": state.status.value,
        "rollout_wave": state.current_wave,
        "rollout_paused_reason": state.paused_reason,
        "rollout_excused": state.excused_failures,
    }


def _mutable_values(campaign: Campaign) -> dict[str, Any]:
    return {
        "start_date": campaign.schedule.start_date,
        "end_date": campaign.schedule.end_date,
        "time_zone": campaign.schedule.time_zone,
        "windows": _windows_json(campaign.schedule.windows),
        "download_after": campaign.phases.download_after,
        "install_after": campaign.phases.install_after,
        "install_windows": (
            _windows_json(campaign.phases.install_windows) if campaign.phases.install_windows is not None else None
        ),
        "status": campaign.status.value,
        "status_reason": campaign.status_reason,
        "next_transition_at": campaign.next_transition_at(),
        "blackout_override": override_json(campaign.blackout_override),
    }


# Built once: the GET campaign route reads by this on every call, and building a statement costs more than running it.
_CAMPAIGN_BY_ID = select(campaigns).where(
    campaigns.c.id == bindparam("id"), campaigns.c.account_name == bindparam("account")
)


class SqlCampaignRepository:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def add(self, campaign: Campaign, *, at: datetime) -> None:
        self.c.execute(
            insert(campaigns).values(
                id=campaign.id,
                account_name=campaign.account_name,
                campaign_name=campaign.name,
                firmware_name=campaign.firmware_name,
                firmware_from=campaign.firmware_from,
                firmware_to=campaign.firmware_to,
                protocol=campaign.protocol.value,
                make=campaign.make,
                model=campaign.model,
                auto_assign_license=campaign.auto_assign_license,
                auto_add_devices=campaign.auto_add_devices,
                package_kind=campaign.package_kind,
                retry_policy=campaign.retry_policy.to_plain() if campaign.retry_policy is not None else None,
                window_zone=campaign.window_zone.value if campaign.window_zone is not None else None,
                blackouts=blackouts_json(campaign.blackouts),
                bandwidth_bytes_per_hour=campaign.bandwidth.bytes_per_hour if campaign.bandwidth is not None else None,
                follow_up_of=campaign.follow_up_of,
                rollout=campaign.rollout.as_dict() if campaign.rollout is not None else None,
                **rollout_state_values(campaign.rollout_state),
                created_at=at,
                updated_at=at,
                **_mutable_values(campaign),
            )
        )
        notify(self.c, ENGINE_CHANNEL)

    def get(self, account_name: str, campaign_id: str) -> Campaign | None:
        if self.c.dialect.name == "sqlite":
            return sqlite_campaign_reads.campaign_by_id(self.c, _CAMPAIGN_BY_ID, account_name, campaign_id, campaign_of)
        row = self.c.execute(_CAMPAIGN_BY_ID, {"id": campaign_id, "account": account_name}).first()
        return _campaign(row) if row else None

    def get_for_update(self, account_name: str, campaign_id: str) -> Campaign | None:
        row = self.c.execute(
            select(campaigns)
            .where(campaigns.c.id == campaign_id, campaigns.c.account_name == account_name)
            .with_for_update(key_share=True)  # NO KEY UPDATE: device rows referencing it may still be inserted
        ).first()
        return _campaign(row) if row else None

    def update(self, campaign: Campaign, *, at: datetime) -> None:
        self.c.execute(
            update(campaigns).where(campaigns.c.id == campaign.id).values(updated_at=at, **_mutable_values(campaign))
        )

    def page_by_status(
        self, account_name: str, status: CampaignStatus, *, after: str | None, limit: int
    ) -> list[Campaign]:
        query = select(campaigns).where(campaigns.c.account_name == account_name, campaigns.c.status == status.value)
        if after:
            query = query.where(campaigns.c.id > after)
        return [_campaign(r) for r in self.c.execute(query.order_by(campaigns.c.id).limit(limit))]

    def due(self, now: datetime, limit: int) -> list[Campaign]:
        query = (
            select(campaigns)
            .where(campaigns.c.next_transition_at <= now)
            .order_by(campaigns.c.next_transition_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_campaign(r) for r in self.c.execute(query)]

    def auto_add_targets(
        self, account_name: str, *, make: str, model: str, firmware_from: str, protocol: Protocol
    ) -> list[Campaign]:
        query = (
            select(campaigns)
            .where(
                campaigns.c.account_name == account_name,
                campaigns.c.auto_add_devices.is_(True),
                campaigns.c.make == make,
                campaigns.c.model == model,
                campaigns.c.firmware_from == firmware_from,
                campaigns.c.protocol == protocol.value,
                campaigns.c.status.not_in(FINAL),
            )
            .order_by(campaigns.c.created_at, campaigns.c.id)
        )
        return [_campaign(r) for r in self.c.execute(query)]


# Calling an Enum to look a value up is slow in a loop over a report page; these dictionaries are not.
_STATUS_OF = {status.value: status for status in DeviceStatus}
_STEP_OF = {step.value: step for step in Step}


def _row(row: Any, *, device_zone: str | None = None) -> CampaignDeviceRow:
    r = row._mapping
    return CampaignDeviceRow(
        r["campaign_id"],
        r["device_id"],
        r["account_name"],
        _STATUS_OF[r["status"]],
        r["reason"],
        r["updated_at"],
        r["recent_attempt_at"],
        r["next_attempt_at"],
        _STEP_OF[r["step"]] if r["step"] else None,
        r["step_deadline"],
        r["attempts"],
        r["delivery"],
        r["update_executed_at"],
        device_zone=device_zone,
        carried_reason=r["carried_reason"],
        wave=r["wave"],
    )


# Enum member attributes are slow to read in a loop over a whole fleet; these are read once.
_STATUS_COLUMNS = {status: (status.value, status.is_active) for status in DeviceStatus}


def _row_values(row: CampaignDeviceRow) -> dict[str, Any]:
    status, active = _STATUS_COLUMNS[row.status]
    return {
        "campaign_id": row.campaign_id,
        "device_id": row.device_id,
        "account_name": row.account_name,
        "status": status,
        "reason": row.reason,
        "active": active,
        "updated_at": row.updated_at,
        "recent_attempt_at": row.recent_attempt_at,
        "next_attempt_at": row.next_attempt_at,
        "carried_reason": row.carried_reason,
        "wave": row.wave,
    }


class SqlCampaignDeviceRepository:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def get_many(self, campaign_id: str, device_ids: Sequence[str]) -> dict[str, CampaignDeviceRow]:
        found: dict[str, CampaignDeviceRow] = {}
        for chunk in key_chunks(device_ids):
            query = select(campaign_devices).where(
                campaign_devices.c.campaign_id == campaign_id, member_of(self.c, campaign_devices.c.device_id, chunk)
            )
            for r in self.c.execute(query):
                row = _row(r)
                found[row.device_id] = row
        return found

    def insert(self, rows: Iterable[CampaignDeviceRow]) -> None:
        self.insert_groups(
            NewCampaignDevices(
                r.campaign_id, r.account_name, r.status, r.reason, r.updated_at, [r.device_id], r.carried_reason, r.wave
            )
            for r in rows
        )

    def insert_groups(self, groups: Iterable[NewCampaignDevices]) -> None:
        """A large group is one `INSERT ... SELECT` from its device ids; the rest go row by row (COPY)."""
        added: Counter[str] = Counter()
        rows: list[dict[str, Any]] = []
        for group in groups:
            if not group.device_ids:
                continue
            added[group.campaign_id] += len(group.device_ids)
            status, active = _STATUS_COLUMNS[group.status]
            shared = {
                "campaign_id": group.campaign_id,
                "account_name": group.account_name,
                "status": status,
                "reason": group.reason,
                "active": active,
                "updated_at": group.updated_at,
                "carried_reason": group.carried_reason,
                "wave": group.wave,
            }
            if len(group.device_ids) >= GROUP_FROM:
                insert_keyed(self.c, campaign_devices, "device_id", group.device_ids, shared)
            else:
                rows.extend({"device_id": device_id, **shared} for device_id in group.device_ids)
        insert_rows(self.c, campaign_devices, rows)
        if not added:
            return
        if sum(added.values()) >= ANALYZE_FROM and self.c.dialect.name == "postgresql":
            # Until autovacuum gets to it, the planner would take a just-loaded campaign for a few hundred rows
            # and sort all of them for every page of its report (docs/adr/0011).
            self.c.exec_driver_sql("ANALYZE campaign_devices")
        self.c.execute(
            update(campaigns)
            .where(campaigns.c.id == bindparam("b_id"))
            .values(device_count=campaigns.c.device_count + bindparam("b_added")),
            [{"b_id": campaign_id, "b_added": n} for campaign_id, n in added.items()],
        )

    def update(self, rows: Iterable[CampaignDeviceRow]) -> None:
        # carried_reason is written once, with the row; an update never changes it.
        values = [{f"b_{k}": v for k, v in _row_values(r).items() if k != "carried_reason"} for r in rows]
        if not values:
            return
        statement = (
            update(campaign_devices)
            .where(
                campaign_devices.c.campaign_id == bindparam("b_campaign_id"),
                campaign_devices.c.device_id == bindparam("b_device_id"),
            )
            .values(
                status=bindparam("b_status"),
                reason=bindparam("b_reason"),
                active=bindparam("b_active"),
                updated_at=bindparam("b_updated_at"),
                recent_attempt_at=bindparam("b_recent_attempt_at"),
                next_attempt_at=bindparam("b_next_attempt_at"),
                wave=bindparam("b_wave"),
            )
        )
        self.c.execute(statement, values)

    def active_elsewhere(self, device_ids: Sequence[str], campaign_id: str) -> set[str]:
        busy: set[str] = set()
        for chunk in key_chunks(device_ids):
            busy.update(
                self.c.execute(
                    select(campaign_devices.c.device_id).where(
                        member_of(self.c, campaign_devices.c.device_id, chunk),
                        campaign_devices.c.active.is_(True),
                        campaign_devices.c.campaign_id != campaign_id,
                    )
                ).scalars()
            )
        return busy

    def page(self, campaign_id: str, *, after: str | None, limit: int) -> list[CampaignDeviceRow]:
        query = select(campaign_devices).where(campaign_devices.c.campaign_id == campaign_id)
        if after:
            query = query.where(campaign_devices.c.device_id > after)
        return [_row(r) for r in self.c.execute(query.order_by(campaign_devices.c.device_id).limit(limit))]

    def report_items(
        self, campaign_id: str, *, after: str | None, limit: int, next_opening: datetime | None
    ) -> WrittenItems:
        return report_items(self.c, campaign_id, after=after, limit=limit, next_opening=next_opening)

    def report_version(self, campaign_id: str) -> ReportVersion:
        return report_version(self.c, campaign_id)

    def fold_report_changes(self) -> int:
        return fold_report_changes(self.c)

    def count(self, campaign_id: str) -> int:
        found = self.c.execute(select(campaigns.c.device_count).where(campaigns.c.id == campaign_id)).scalar()
        return int(found or 0)

    def count_up_to(self, campaign_id: str, status: DeviceStatus, limit: int) -> int:
        # A range of ix_campaign_devices_campaign_status, cut at `limit`: the cost is the limit, not the campaign.
        matching = (
            select(literal(1))
            .select_from(campaign_devices)
            .where(campaign_devices.c.campaign_id == campaign_id, campaign_devices.c.status == status.value)
            .limit(limit)
            .subquery()
        )
        return int(self.c.execute(select(func.count()).select_from(matching)).scalar_one())

    def finish_pending(self, campaign_id: str, status: DeviceStatus, reason: str, *, at: datetime) -> list[str]:
        pending = list(
            self.c.execute(
                select(campaign_devices.c.device_id).where(
                    campaign_devices.c.campaign_id == campaign_id,
                    campaign_devices.c.status == DeviceStatus.PENDING.value,
                )
            ).scalars()
        )
        if pending:
            self.c.execute(
                update(campaign_devices)
                .where(
                    campaign_devices.c.campaign_id == campaign_id,
                    campaign_devices.c.status == DeviceStatus.PENDING.value,
                )
                .values(status=status.value, reason=reason, active=status.is_active, updated_at=at)
            )
        return pending
