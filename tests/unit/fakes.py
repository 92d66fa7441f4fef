"""In-memory fakes of the unit of work and the ports its use cases touch (services/ports.py), for service tests.

One `FakeStore` holds the data every `FakeUnitOfWork` of a test shares. A unit of work sees the store as it was at
`__enter__` plus its own writes; `commit()` keeps them, leaving without commit restores the snapshot, as a rolled
back transaction would. Only what the service tests in tests/unit/services/ reach is implemented: a use case that
needs another repository fails with AttributeError, which says which fake to extend.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from fota.domain.accounts import Account
from fota.domain.campaign import Campaign, Firmware, due_transition
from fota.domain.devices import Device, DeviceKind
from fota.domain.rollout import RolloutState, Unhealthy, WaveTally
from fota.domain.statuses import DeviceStatus
from fota.domain.upgrade import Step
from fota.services.ports import (
    HEALTHY,
    AuditRecord,
    CallbackRegistration,
    CampaignDeviceRow,
    ClaimedEvent,
    DeliveryAttempt,
    DevicesHistory,
    HistoryEntry,
    NewCampaignDevices,
    OutboxEvent,
    SoakingDevice,
)


@dataclass
class OutboxRow:
    id: int
    event: OutboxEvent
    next_attempt_at: datetime | None
    attempts: int = 0
    delivered_at: datetime | None = None
    given_up_at: datetime | None = None
    last_error: str | None = None

    @property
    def finished(self) -> bool:
        return self.delivered_at is not None or self.given_up_at is not None


@dataclass
class FakeStore:
    accounts: dict[str, Account] = field(default_factory=dict)
    firmware: dict[str, Firmware] = field(default_factory=dict)
    devices: dict[str, Device] = field(default_factory=dict)
    campaigns: dict[str, Campaign] = field(default_factory=dict)
    campaign_devices: dict[tuple[str, str], CampaignDeviceRow] = field(default_factory=dict)
    history: list[HistoryEntry] = field(default_factory=list)
    callbacks: dict[str, CallbackRegistration] = field(default_factory=dict)
    outbox: dict[int, OutboxRow] = field(default_factory=dict)
    deliveries: list[DeliveryAttempt] = field(default_factory=list)
    start_grants: dict[tuple[str, str], datetime] = field(default_factory=dict)  # campaign_devices.bandwidth_hour
    bandwidth: dict[tuple[str, datetime], int] = field(default_factory=dict)  # campaign_bandwidth
    audit: list[AuditRecord] = field(default_factory=list)
    # A rollout member's health columns, by (campaign, device): succeeded_at, lifetime, health.
    soaks: dict[tuple[str, str], tuple[datetime, int, str | None]] = field(default_factory=dict)
    rollout_check_at: dict[str, datetime | None] = field(default_factory=dict)
    commits: int = 0


class FakeAccounts:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def get(self, name: str) -> Account | None:
        return self.store.accounts.get(name)

    def lock(self, name: str) -> Account | None:
        return self.store.accounts.get(name)

    def add(self, account: Account, *, created_at: datetime) -> None:
        self.store.accounts[account.name] = account

    def add_licenses_used(self, name: str, delta: int, *, at: datetime) -> None:
        account = self.store.accounts[name]
        self.store.accounts[name] = replace(account, licenses_used=account.licenses_used + delta, updated_at=at)


class FakeFirmware:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def get(self, name: str) -> Firmware | None:
        return self.store.firmware.get(name)

    def add(self, firmware: Firmware) -> None:
        self.store.firmware[firmware.name] = firmware


class FakeDevices:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def get(self, device_id: str) -> Device | None:
        return self.store.devices.get(device_id)

    def get_many(self, device_ids: Sequence[str]) -> dict[str, Device]:
        return {d: self.store.devices[d] for d in device_ids if d in self.store.devices}

    def kinds(self, device_ids: Sequence[str]) -> dict[str, DeviceKind]:
        return {
            d: DeviceKind(x.account_name, x.make, x.model, x.firmware, x.protocol, x.license_assigned)
            for d, x in self.get_many(device_ids).items()
        }

    def add_many(self, devices: Sequence[Device]) -> None:
        self.store.devices.update({d.device_id: d for d in devices})

    def set_licensed(self, account_name: str, device_ids: Sequence[str], licensed: bool, *, at: datetime) -> None:
        for device_id in device_ids:
            device = self.store.devices[device_id]
            self.store.devices[device_id] = replace(
                device, license_assigned=licensed, license_assigned_at=at if licensed else None, updated_at=at
            )


class FakeCampaigns:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def add(self, campaign: Campaign, *, at: datetime) -> None:
        self.store.campaigns[campaign.id] = campaign

    def get(self, account_name: str, campaign_id: str) -> Campaign | None:
        campaign = self.store.campaigns.get(campaign_id)
        return campaign if campaign is not None and campaign.account_name == account_name else None

    def get_for_update(self, account_name: str, campaign_id: str) -> Campaign | None:
        return self.get(account_name, campaign_id)

    def update(self, campaign: Campaign, *, at: datetime) -> None:
        self.store.campaigns[campaign.id] = campaign

    def due(self, now: datetime, limit: int) -> list[Campaign]:
        # The SQL repository keeps each campaign's next transition time in a column; the domain computes the same.
        due = [c for c in self.store.campaigns.values() if due_transition(c, now) is not None]
        return due[:limit]


class FakeCampaignDevices:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def get_many(self, campaign_id: str, device_ids: Sequence[str]) -> dict[str, CampaignDeviceRow]:
        rows = self.store.campaign_devices
        return {d: rows[(campaign_id, d)] for d in device_ids if (campaign_id, d) in rows}

    def insert(self, rows: Iterable[CampaignDeviceRow]) -> None:
        for row in rows:
            key = (row.campaign_id, row.device_id)
            assert key not in self.store.campaign_devices, f"duplicate campaign device {key}"
            self.store.campaign_devices[key] = row

    def insert_groups(self, groups: Iterable[NewCampaignDevices]) -> None:
        self.insert(
            CampaignDeviceRow(
                g.campaign_id,
                d,
                g.account_name,
                g.status,
                g.reason,
                g.updated_at,
                carried_reason=g.carried_reason,
                wave=g.wave,
            )
            for g in groups
            for d in g.device_ids
        )

    def update(self, rows: Iterable[CampaignDeviceRow]) -> None:
        for row in rows:
            self.store.campaign_devices[(row.campaign_id, row.device_id)] = row

    def active_elsewhere(self, device_ids: Sequence[str], campaign_id: str) -> set[str]:
        wanted = set(device_ids)
        return {
            row.device_id
            for row in self.store.campaign_devices.values()
            if row.device_id in wanted
            and row.campaign_id != campaign_id
            and row.status.is_active
            and not self.store.campaigns[row.campaign_id].status.is_final
        }

    def page(self, campaign_id: str, *, after: str | None, limit: int) -> list[CampaignDeviceRow]:
        rows = sorted(
            (r for r in self.store.campaign_devices.values() if r.campaign_id == campaign_id),
            key=lambda r: r.device_id,
        )
        return [r for r in rows if after is None or r.device_id > after][:limit]

    def count(self, campaign_id: str) -> int:
        return sum(1 for r in self.store.campaign_devices.values() if r.campaign_id == campaign_id)

    def fold_report_changes(self) -> int:
        return 0  # the fake keeps no report versions: nothing to fold

    def finish_pending(self, campaign_id: str, status: DeviceStatus, reason: str, *, at: datetime) -> list[str]:
        moved = []
        for key, row in sorted(self.store.campaign_devices.items()):
            if row.campaign_id == campaign_id and row.status is DeviceStatus.PENDING:
                self.store.campaign_devices[key] = replace(row, status=status, reason=reason, updated_at=at)
                moved.append(row.device_id)
        return moved


class FakeUpgrades:
    """The conditional claim and conclusion, and the bandwidth budget's two statements on upgrade rows."""

    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def _due(self, campaign_id: str, device_id: str, now: datetime) -> CampaignDeviceRow | None:
        row = self.store.campaign_devices.get((campaign_id, device_id))
        if row is None or row.status is not DeviceStatus.PENDING:
            return None
        return row if row.next_attempt_at is None or row.next_attempt_at <= now else None

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
        row = self._due(campaign_id, device_id, now)
        if row is None:
            return False
        self.store.campaign_devices[(campaign_id, device_id)] = replace(
            row,
            status=DeviceStatus.IN_PROGRESS,
            reason=reason,
            step=step,
            step_deadline=deadline,
            attempts=row.attempts + 1,
            recent_attempt_at=now,
            next_attempt_at=None,
            updated_at=now,
        )
        if bandwidth_hour is None:
            self.store.start_grants.pop((campaign_id, device_id), None)
        else:
            self.store.start_grants[(campaign_id, device_id)] = bandwidth_hour
        return True

    def defer(self, campaign_id: str, device_id: str, *, reason: str, until: datetime, now: datetime) -> bool:
        row = self._due(campaign_id, device_id, now)
        if row is None:
            return False
        self.store.campaign_devices[(campaign_id, device_id)] = replace(
            row, reason=reason, next_attempt_at=until, updated_at=now
        )
        return True

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
        row = self.store.campaign_devices.get((campaign_id, device_id))
        if row is None or row.status is not DeviceStatus.IN_PROGRESS:
            return False
        if expected_step is not None and row.step is not expected_step:
            return False
        if expired_by is not None and (row.step_deadline is None or row.step_deadline > expired_by):
            return False
        self.store.campaign_devices[(campaign_id, device_id)] = replace(
            row,
            status=status,
            reason=reason,
            step=None,
            step_deadline=None,
            next_attempt_at=next_attempt_at,
            update_executed_at=None,
            updated_at=now,
        )
        return True

    def take_start_grant(self, campaign_id: str, device_id: str, *, hour: datetime) -> bool:
        if self.store.start_grants.get((campaign_id, device_id)) != hour:
            return False
        del self.store.start_grants[(campaign_id, device_id)]
        return True


class FakeBandwidth:
    """The counter's conditional upsert, as the domain's `BandwidthBudget.reserve` states it."""

    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def reserve(self, campaign_id: str, hour: datetime, wanted: int, *, bytes_per_hour: int) -> bool:
        served = self.store.bandwidth.get((campaign_id, hour), 0)
        if served + wanted > bytes_per_hour:
            return False
        self.store.bandwidth[(campaign_id, hour)] = served + wanted
        return True

    def give_back(self, campaign_id: str, hour: datetime, amount: int) -> None:
        if (campaign_id, hour) in self.store.bandwidth:
            self.store.bandwidth[(campaign_id, hour)] -= amount

    def reserved(self, campaign_id: str, hour: datetime) -> int:
        return self.store.bandwidth.get((campaign_id, hour), 0)

    def prune(self, before: datetime) -> int:
        old = [key for key in self.store.bandwidth if key[1] < before]
        for key in old:
            del self.store.bandwidth[key]
        return len(old)


class FakeHistory:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def append(self, entries: Iterable[HistoryEntry]) -> None:
        self.store.history.extend(entries)

    def append_devices(self, changes: Sequence[DevicesHistory]) -> None:
        for change in changes:
            self.store.history.extend(change.entries())

    def for_device(self, account_name: str, device_id: str) -> list[HistoryEntry]:
        return [e for e in self.store.history if e.account_name == account_name and e.device_id == device_id]

    def for_campaign(self, campaign_id: str) -> list[HistoryEntry]:
        return [e for e in self.store.history if e.campaign_id == campaign_id]


class FakeCallbacks:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def get(self, account_name: str) -> str | None:
        registration = self.store.callbacks.get(account_name)
        return registration.url if registration else None

    def registration(self, account_name: str) -> CallbackRegistration | None:
        return self.store.callbacks.get(account_name)

    def registrations(self, account_names: Iterable[str]) -> dict[str, CallbackRegistration]:
        return {n: self.store.callbacks[n] for n in account_names if n in self.store.callbacks}

    def set_signing_secret(self, account_name: str, secret: str) -> None:
        self.store.callbacks[account_name] = replace(self.store.callbacks[account_name], signing_secret=secret)

    def delete(self, account_name: str) -> bool:
        return self.store.callbacks.pop(account_name, None) is not None


class FakeOutbox:
    """The SQL store's leasing rules: a claim takes due, unfinished events and moves them to the lease's end; a retry
    or give-up counts only for the attempt that holds the lease (fenced by attempt), a 2xx always counts."""

    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def add(self, events: Iterable[OutboxEvent]) -> None:
        for event in events:
            row_id = len(self.store.outbox) + 1
            self.store.outbox[row_id] = OutboxRow(row_id, event, next_attempt_at=event.created_at)

    def claim(self, now: datetime, limit: int, *, lease_until: datetime) -> list[ClaimedEvent]:
        due = sorted(
            (
                r
                for r in self.store.outbox.values()
                if not r.finished and r.next_attempt_at is not None and r.next_attempt_at <= now
            ),
            key=lambda r: (r.next_attempt_at, r.id),
        )[:limit]
        for row in due:
            row.attempts += 1
            row.next_attempt_at = lease_until
        return [ClaimedEvent(r.id, r.event.event_id, r.event.account_name, r.event.payload, r.attempts) for r in due]

    def mark_delivered(self, outbox_id: int, *, at: datetime) -> None:
        row = self.store.outbox[outbox_id]
        if row.delivered_at is None:
            row.delivered_at, row.next_attempt_at, row.given_up_at, row.last_error = at, None, None, None

    def _holds_lease(self, outbox_id: int, attempt: int) -> OutboxRow | None:
        row = self.store.outbox[outbox_id]
        return row if row.attempts == attempt and not row.finished else None

    def schedule_retry(self, outbox_id: int, attempt: int, *, at: datetime, error: str) -> None:
        if (row := self._holds_lease(outbox_id, attempt)) is not None:
            row.next_attempt_at, row.last_error = at, error

    def give_up(self, outbox_id: int, attempt: int, *, at: datetime, error: str) -> None:
        if (row := self._holds_lease(outbox_id, attempt)) is not None:
            row.given_up_at, row.next_attempt_at, row.last_error = at, None, error

    def log_attempts(self, attempts: Sequence[DeliveryAttempt]) -> None:
        self.store.deliveries.extend(attempts)


class FakeRollouts:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def set_state(self, campaign_id: str, state: RolloutState, *, check_at: datetime | None) -> None:
        self.store.campaigns[campaign_id] = replace(self.store.campaigns[campaign_id], rollout_state=state)
        self.store.rollout_check_at[campaign_id] = check_at

    def due(self, now: datetime, limit: int) -> list[Campaign]:
        due = [c for c, at in self.store.rollout_check_at.items() if at is not None and at <= now]
        return [self.store.campaigns[c] for c in sorted(due, key=lambda c: self.store.rollout_check_at[c])][:limit]

    def mark_due(self, campaign_id: str, at: datetime) -> None:
        current = self.store.rollout_check_at.get(campaign_id)
        if self.store.campaigns[campaign_id].rollout is not None and (current is None or current > at):
            self.store.rollout_check_at[campaign_id] = at

    def assign_waves(self, campaign_id: str, waves: Sequence[tuple[str, int]]) -> None:
        for device_id, wave in waves:
            key = (campaign_id, device_id)
            self.store.campaign_devices[key] = replace(self.store.campaign_devices[key], wave=wave)

    def hold_pending(self, campaign_id: str, *, first_wave: int, last_wave: int, reason: str) -> None:
        for key, row in self.store.campaign_devices.items():
            held = row.campaign_id == campaign_id and row.status is DeviceStatus.PENDING and row.next_attempt_at is None
            if held and row.wave is not None and first_wave <= row.wave <= last_wave:
                self.store.campaign_devices[key] = replace(row, reason=reason)

    def _tally(self, rows: Iterable[CampaignDeviceRow]) -> WaveTally:
        devices = succeeded = soaked = failed = unhealthy = 0
        for row in rows:
            if row.status in (DeviceStatus.REJECTED, DeviceStatus.REMOVED):
                continue
            devices += 1
            health = self.store.soaks.get((row.campaign_id, row.device_id), (None, 0, None))[2]
            if row.status is DeviceStatus.SUCCESS and health in {u.value for u in Unhealthy}:
                unhealthy += 1
            elif row.status is DeviceStatus.SUCCESS:
                succeeded += 1
                soaked += health == HEALTHY
            elif row.status is DeviceStatus.FAILED:
                failed += 1
        return WaveTally(devices, succeeded, soaked, failed, unhealthy)

    def tally(self, campaign_id: str, wave: int) -> WaveTally:
        rows = self.store.campaign_devices.values()
        return self._tally(r for r in rows if r.campaign_id == campaign_id and r.wave == wave)

    def tallies(self, campaign_id: str, waves: int) -> list[WaveTally]:
        return [self.tally(campaign_id, w) for w in range(waves)]

    def start_soak(self, campaign_id: str, device_id: str, *, at: datetime, lifetime: int) -> None:
        self.store.soaks[(campaign_id, device_id)] = (at, lifetime, None)

    def _soaking(self, campaign_id: str, device_id: str) -> SoakingDevice | None:
        soak = self.store.soaks.get((campaign_id, device_id))
        row = self.store.campaign_devices[(campaign_id, device_id)]
        if soak is None or soak[2] is not None or row.status is not DeviceStatus.SUCCESS:
            return None
        device = self.store.devices[device_id]
        return SoakingDevice(campaign_id, device_id, row.wave, soak[0], soak[1], device.last_seen_at, device.firmware)

    def soaking(self, campaign_id: str, wave: int) -> list[SoakingDevice]:
        found = [self._soaking(c, d) for (c, d), row in self.store.campaign_devices.items() if c == campaign_id]
        return [s for s in found if s is not None and s.wave == wave]

    def soaking_for_device(self, device_id: str) -> list[tuple[SoakingDevice, Campaign]]:
        found = [(self._soaking(c, d), self.store.campaigns[c]) for (c, d) in self.store.soaks if d == device_id]
        return [(s, c) for s, c in found if s is not None]

    def set_health(self, campaign_id: str, device_id: str, health: str) -> None:
        at, lifetime, current = self.store.soaks[(campaign_id, device_id)]
        if current is None:
            self.store.soaks[(campaign_id, device_id)] = (at, lifetime, health)


class FakeAudit:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def add(self, records: Iterable[AuditRecord]) -> None:
        self.store.audit.extend(records)

    def for_campaign(self, campaign_id: str) -> list[AuditRecord]:
        return [r for r in self.store.audit if r.campaign_id == campaign_id]


class FakeRegistrations:
    """No device of these tests is registered over LwM2M."""

    def for_device(self, device_id: str) -> None:
        return None


class FakeActivity:
    """No device of these tests has logging on."""

    def logging_in(self, account_names: Sequence[str], *, now: datetime) -> set[str]:
        return set()


class FakeUnitOfWork:
    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self.committed = False
        self._snapshot: FakeStore | None = None
        self.accounts = FakeAccounts(store)
        self.firmware = FakeFirmware(store)
        self.devices = FakeDevices(store)
        self.campaigns = FakeCampaigns(store)
        self.campaign_devices = FakeCampaignDevices(store)
        self.history = FakeHistory(store)
        self.callbacks = FakeCallbacks(store)
        self.outbox = FakeOutbox(store)
        self.activity = FakeActivity()
        self.upgrades = FakeUpgrades(store)
        self.bandwidth = FakeBandwidth(store)
        self.rollouts = FakeRollouts(store)
        self.registrations = FakeRegistrations()
        self.audit = FakeAudit(store)

    def __enter__(self) -> Self:
        self._snapshot = copy.deepcopy(self.store)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self.committed and self._snapshot is not None:
            self.store.__dict__.update(self._snapshot.__dict__)
        self._snapshot = None

    def commit(self) -> None:
        self.committed = True
        self.store.commits += 1

    def rollback(self) -> None:
        if self._snapshot is not None:
            self.store.__dict__.update(copy.deepcopy(self._snapshot).__dict__)


class FakeUnitOfWorkFactory:
    def __init__(self, store: FakeStore | None = None) -> None:
        self.store = store or FakeStore()

    def __call__(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store)

    def reader(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store)


@dataclass
class RecordingSender:
    """A callback sender that answers `statuses` in turn (the last one from then on) and records every request."""

    statuses: Sequence[int | None] = (200,)
    sent: list[tuple[str, bytes, Mapping[str, str]]] = field(default_factory=list)

    def send(self, target: Any, body: bytes, headers: Mapping[str, str]) -> tuple[int | None, str | None]:
        status = self.statuses[min(len(self.sent), len(self.statuses) - 1)]
        self.sent.append((str(getattr(target, "url", target)), body, dict(headers)))
        return (status, None) if status is not None else (None, "connection refused")
