"""The ports services depend on: repositories inside a unit of work, a password hasher and a callback sender.

Storage adapters implement these; the signatures are the whole contract between the layers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from fota.domain.accounts import Account, Token, TokenKind
from fota.domain.bandwidth import BandwidthBudget
from fota.domain.bootstrap import BootstrapSettings
from fota.domain.campaign import Campaign, Firmware
from fota.domain.devices import Device, DeviceKind
from fota.domain.outbound import Target
from fota.domain.protocols import Protocol as DeviceProtocol
from fota.domain.rollout import RolloutState, WaveTally
from fota.domain.security import DeviceSecurity, SecurityMode
from fota.domain.signing import SignatureAlgorithm, SigningKey
from fota.domain.statuses import CampaignStatus, DeviceStatus
from fota.domain.upgrade import Step


@dataclass(frozen=True, slots=True)
class CampaignDeviceRow:
    campaign_id: str
    device_id: str
    account_name: str
    status: DeviceStatus
    reason: str | None
    updated_at: datetime
    recent_attempt_at: datetime | None = None
    next_attempt_at: datetime | None = None
    step: Step | None = None
    step_deadline: datetime | None = None
    attempts: int = 0
    delivery: str | None = None
    update_executed_at: datetime | None = None
    # The device's own time zone, where the query read it with the row (`UpgradeRepository.active_for_device`):
    # the zone its windows are read in under windowZone device.
    device_zone: str | None = None
    carried_reason: str | None = None  # in a follow-up: how the device ended the campaign it was carried from
    wave: int | None = None  # a rollout campaign's member: its wave (0-based); None without a rollout


@dataclass(frozen=True, slots=True)
class LicensedDevice:
    """A line of the license summary: a licensed device and when its license was assigned."""

    device_id: str
    license_assigned_at: datetime


@dataclass(frozen=True, slots=True)
class CheckInFacts:
    """What recording a device's check-in needs to know of it, read for a whole batch of check-ins at once."""

    firmware: str
    key_hash: str | None  # of its HTTP device key, if it has one
    soaking: bool  # a campaign membership in its soak without a verdict, which the check-in may judge
    logging_account: str | None  # the account its log entries go to, while its logging is on
    security: SecurityMode = SecurityMode.NOSEC  # its LwM2M security record's mode (NOSEC without one)


@dataclass(frozen=True)
class WrittenItems:
    """A page's items as the wire's JSON, written by the store: the campaign device report's (docs/adr/0034), the
    license summary's."""

    items: str  # the page's items, comma-separated, without the enclosing brackets
    count: int
    last_device_id: str | None
    has_more: bool


@dataclass(frozen=True)
class ReportVersion:
    """A campaign's device report at one moment: how often its rows changed (docs/adr/0043) and how many it holds."""

    changes: int
    devices: int


@dataclass(frozen=True)
class NewCampaignDevices:
    """New rows of one campaign that differ only in their device, as a fleet enrolled at once makes them."""

    campaign_id: str
    account_name: str
    status: DeviceStatus
    reason: str | None
    updated_at: datetime
    device_ids: Sequence[str]
    carried_reason: str | None = None
    wave: int | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    account_name: str
    campaign_id: str | None
    device_id: str | None
    status: str
    reason: str | None
    at: datetime


@dataclass(frozen=True)
class DevicesHistory:
    """The same status change of many devices (a fleet's enrolment): a HistoryEntry per device, not spelt out."""

    account_name: str
    campaign_id: str | None
    status: str
    reason: str | None
    at: datetime
    device_ids: Sequence[str]

    def entries(self) -> Iterator[HistoryEntry]:
        for device_id in self.device_ids:
            yield HistoryEntry(self.account_name, self.campaign_id, device_id, self.status, self.reason, self.at)


@dataclass(frozen=True)
class Registration:
    """An LwM2M client's current registration (RFC 6690 link list kept as text)."""

    location: str
    endpoint: str
    device_id: str
    lifetime: int
    lwm2m_version: str
    binding: str
    address: str
    objects: str
    node: str
    registered_at: datetime
    updated_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class DownloadLink:
    device_id: str
    campaign_id: str
    firmware_name: str
    created_at: datetime
    expires_at: datetime
    # The campaign's budget, read with the link (not stored with it): None, and the download does no budget work.
    bandwidth: BandwidthBudget | None = None


class PasswordHasher(Protocol):
    def hash(self, secret: str) -> str: ...
    def verify(self, hashed: str, secret: str) -> bool: ...


class AccountRepository(Protocol):
    def get(self, name: str) -> Account | None: ...
    def lock(self, name: str) -> Account | None:
        """Reads the account and holds its row until commit: license changes go through here."""
        ...

    def add(self, account: Account, *, created_at: datetime) -> None: ...
    def set_license_count(self, name: str, license_count: int, *, at: datetime) -> None: ...
    def add_licenses_used(self, name: str, delta: int, *, at: datetime) -> None: ...
    def set_require_signed_firmware(self, name: str, required: bool, *, at: datetime) -> None: ...


class CredentialRepository(Protocol):
    def add_client(self, account_name: str, client_id: str, secret_hash: str, *, at: datetime) -> None: ...
    def client(self, client_id: str) -> tuple[str, str] | None:
        """(account_name, secret_hash) of an API client."""
        ...

    def remove_client(self, client_id: str) -> None: ...

    def add_user(self, account_name: str, username: str, password_hash: str, *, at: datetime) -> None: ...
    def user_password_hash(self, account_name: str, username: str) -> str | None: ...
    def set_user_password(self, account_name: str, username: str, password_hash: str, *, at: datetime) -> None: ...


class TokenRepository(Protocol):
    def add(self, token_hash: str, token: Token) -> None: ...
    def get(self, token_hash: str) -> Token | None: ...
    def revoke(self, token_hash: str, *, at: datetime) -> None: ...
    def revoke_subject(self, kind: TokenKind, account_name: str, subject: str, *, at: datetime) -> int:
        """Revokes every live token of this kind issued to `subject`; returns how many."""
        ...


class DeviceRepository(Protocol):
    def get(self, device_id: str) -> Device | None: ...
    def get_many(self, device_ids: Sequence[str]) -> dict[str, Device]: ...
    def kinds(self, device_ids: Sequence[str]) -> dict[str, DeviceKind]:
        """Each found device's kind; devices of one kind share one object."""
        ...

    def add_many(self, devices: Sequence[Device]) -> None: ...
    def update(self, device: Device) -> None: ...
    def page(
        self, account_name: str, *, protocol: DeviceProtocol | None, after: str | None, limit: int
    ) -> list[Device]: ...
    def licensed_page(
        self, account_name: str, *, after: str | None, limit: int, offset: int = 0
    ) -> list[LicensedDevice]: ...
    def licensed_items(self, account_name: str, *, after: str | None, limit: int) -> WrittenItems:
        """`licensed_page` as the v2/v3 summary's `deviceList` items (deviceId, assignmentTime in milliseconds)."""
        ...

    def set_licensed(self, account_name: str, device_ids: Sequence[str], licensed: bool, *, at: datetime) -> None:
        """Assigns or releases the licenses of these distinct devices of the account, whose license changes."""
        ...

    def touch(self, device_id: str, *, at: datetime) -> None:
        """Records that the device was heard from."""
        ...

    def touch_many(self, device_ids: Sequence[str], *, at: datetime) -> None:
        """`touch` for each device, in the order given (the order their row locks are taken in)."""
        ...

    def set_key(self, device_id: str, key_hash: str, *, at: datetime) -> None: ...
    def key_hash(self, device_id: str) -> str | None: ...
    def check_in_facts(self, device_ids: Sequence[str], *, now: datetime) -> dict[str, CheckInFacts]:
        """The facts of each of these devices that exists, in one read."""
        ...

    def matching(
        self,
        account_name: str,
        *,
        make: str,
        model: str,
        firmware: str,
        protocol: DeviceProtocol,
        after: str | None,
        limit: int,
    ) -> list[Device]:
        """Devices of the account with this make, model, firmware and protocol, by id, after `after`."""
        ...


class FirmwareRepository(Protocol):
    def get(self, name: str) -> Firmware | None: ...
    def add(self, firmware: Firmware) -> None: ...
    def list(
        self, protocol: DeviceProtocol | None, *, kind: str = "firmware", owner_account: str | None = None
    ) -> list[Firmware]:
        """Catalogue entries of one kind by name; `owner_account` narrows files to one account's."""
        ...

    def set_image(
        self, name: str, data: bytes, *, sha256: str, signature: str | None = None, key_id: str | None = None
    ) -> None:
        """Stores the image; a new image replaces the old one's signature too (None: unsigned)."""
        ...

    def image(self, name: str) -> bytes | None: ...


class CampaignRepository(Protocol):
    def add(self, campaign: Campaign, *, at: datetime) -> None: ...
    def get(self, account_name: str, campaign_id: str) -> Campaign | None: ...
    def get_for_update(self, account_name: str, campaign_id: str) -> Campaign | None: ...
    def update(self, campaign: Campaign, *, at: datetime) -> None: ...
    def page_by_status(
        self, account_name: str, status: CampaignStatus, *, after: str | None, limit: int
    ) -> list[Campaign]: ...
    def due(self, now: datetime, limit: int) -> list[Campaign]:
        """Campaigns whose next time-driven transition is at or before `now`, locked, skipping locked ones."""
        ...

    def auto_add_targets(
        self, account_name: str, *, make: str, model: str, firmware_from: str, protocol: DeviceProtocol
    ) -> list[Campaign]:
        """Non-final campaigns with autoAddDevicesFlag that a device of this kind would join, oldest first."""
        ...


class CampaignDeviceRepository(Protocol):
    def get_many(self, campaign_id: str, device_ids: Sequence[str]) -> dict[str, CampaignDeviceRow]: ...
    def insert(self, rows: Iterable[CampaignDeviceRow]) -> None: ...
    def insert_groups(self, groups: Iterable[NewCampaignDevices]) -> None:
        """`insert` of rows that differ only in their device, a group at a time."""
        ...

    def update(self, rows: Iterable[CampaignDeviceRow]) -> None: ...
    def active_elsewhere(self, device_ids: Sequence[str], campaign_id: str) -> set[str]:
        """Which of these devices hold an active row in another campaign."""
        ...

    def page(self, campaign_id: str, *, after: str | None, limit: int) -> list[CampaignDeviceRow]: ...
    def report_items(
        self, campaign_id: str, *, after: str | None, limit: int, next_opening: datetime | None
    ) -> WrittenItems:
        """`page`'s rows as the v3 device report's JSON items, a pending row without a back-off of its own given
        `next_opening` as its next attempt."""
        ...

    def report_version(self, campaign_id: str) -> ReportVersion:
        """What the campaign's device report is at: equal versions mean equal pages (docs/adr/0043)."""
        ...

    def fold_report_changes(self) -> int:
        """Folds the rows `report_version` sums into one per campaign, keeping every sum; returns the rows gone."""
        ...

    def count(self, campaign_id: str) -> int: ...
    def count_up_to(self, campaign_id: str, status: DeviceStatus, limit: int) -> int:
        """How many of the campaign's devices have `status`, counting no further than `limit`."""
        ...

    def finish_pending(self, campaign_id: str, status: DeviceStatus, reason: str, *, at: datetime) -> list[str]:
        """Moves every still-pending device to `status`; returns their ids."""
        ...


class HistoryRepository(Protocol):
    def append(self, entries: Iterable[HistoryEntry]) -> None: ...
    def append_devices(self, changes: Sequence[DevicesHistory]) -> None:
        """Appends each change's entries, in order (ids ascending, as `append`)."""
        ...

    def for_device(self, account_name: str, device_id: str) -> list[HistoryEntry]: ...
    def for_campaign(self, campaign_id: str) -> list[HistoryEntry]:
        """The campaign's own status changes (not its devices'), oldest first."""
        ...


@dataclass(frozen=True)
class AuditRecord:
    """One entry of a campaign's audit: an operator's call or an automatic decision. `action` is the operation's
    name (the rollout's AuditAction values, and whatever later operations add); `detail` what the action needs
    beyond its reason (for example the wave it opened)."""

    campaign_id: str
    account_name: str
    at: datetime
    actor: str
    action: str
    reason: str | None
    detail: Mapping[str, Any] | None = None


class AuditRepository(Protocol):
    def add(self, records: Iterable[AuditRecord]) -> None: ...
    def for_campaign(self, campaign_id: str) -> list[AuditRecord]:
        """Oldest first."""
        ...


# The health verdict of a member whose soak passed without one; the others are `Unhealthy` values.
HEALTHY = "healthy"


@dataclass(frozen=True, slots=True)
class SoakingDevice:
    """A member that reached UpgradeSuccess and has no health verdict yet, with what the verdict is judged on."""

    campaign_id: str
    device_id: str
    wave: int | None
    succeeded_at: datetime
    lifetime: int  # seconds: the registration lifetime it had when it succeeded
    last_check_in_at: datetime | None
    reported_firmware: str | None


class RolloutRepository(Protocol):
    """A rollout campaign's state, its members' waves and health; every read is a range of one wave or one device."""

    def set_state(self, campaign_id: str, state: RolloutState, *, check_at: datetime | None) -> None: ...
    def due(self, now: datetime, limit: int) -> list[Campaign]:
        """Rollout campaigns whose `check_at` is at or before `now`, soonest first."""
        ...

    def mark_due(self, campaign_id: str, at: datetime) -> None:
        """Moves the campaign's next check to `at` unless one is due sooner (a no-op without a rollout)."""
        ...

    def assign_waves(self, campaign_id: str, waves: Sequence[tuple[str, int]]) -> None:
        """Sets each (device, wave) of the campaign."""
        ...

    def hold_pending(self, campaign_id: str, *, first_wave: int, last_wave: int, reason: str) -> None:
        """The resultReason of every pending member of waves `first_wave`..`last_wave` without a back-off of its own
        (`next_attempt_at` NULL), in one statement. A retry's or a bandwidth wait's reason is the device's: the row
        has room for one reason only, and a hold written over it could not give it back when the hold ends."""
        ...

    def tally(self, campaign_id: str, wave: int) -> WaveTally:
        """One wave's members by outcome (one grouped query over the wave's index range)."""
        ...

    def tallies(self, campaign_id: str, waves: int) -> list[WaveTally]:
        """Every wave's tally, for a campaign read (one grouped query over the campaign)."""
        ...

    def start_soak(self, campaign_id: str, device_id: str, *, at: datetime, lifetime: int) -> None: ...
    def soaking(self, campaign_id: str, wave: int) -> list[SoakingDevice]:
        """The wave's members in their soak without a verdict."""
        ...

    def soaking_for_device(self, device_id: str) -> list[tuple[SoakingDevice, Campaign]]:
        """The device's memberships in their soak without a verdict (a partial index: few rows, if any)."""
        ...

    def set_health(self, campaign_id: str, device_id: str, health: str) -> None:
        """Keeps a verdict (HEALTHY once the soak passed, or an `Unhealthy` value); only over no verdict."""
        ...


@dataclass(frozen=True)
class CallbackRegistration:
    url: str
    signing_secret: str | None  # None only for rows registered before secrets existed
    api_version: str = "v3"  # the wire version it was registered through: the shape of its events
    username: str | None = None  # v1 echoes these back in every message
    password: str | None = None


class CallbackRepository(Protocol):
    def get(self, account_name: str) -> str | None: ...
    def registration(self, account_name: str) -> CallbackRegistration | None: ...
    def registrations(self, account_names: Iterable[str]) -> dict[str, CallbackRegistration]: ...
    def set(
        self,
        account_name: str,
        url: str,
        *,
        at: datetime,
        api_version: str = "v3",
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        """Creates or changes the URL, its version and v1 credentials; an existing signing secret is kept."""
        ...

    def set_signing_secret(self, account_name: str, secret: str) -> None: ...
    def delete(self, account_name: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    event_id: str
    account_name: str
    kind: str
    payload: Mapping[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class ClaimedEvent:
    """An outbox row leased to one delivery pass; `attempt` (1-based) also fences the lease."""

    id: int
    event_id: str
    account_name: str
    payload: Mapping[str, Any]
    attempt: int


@dataclass(frozen=True)
class DeliveryAttempt:
    event_id: str
    account_name: str
    url: str
    attempt: int
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    id: int | None = None


class OutboxRepository(Protocol):
    def add(self, events: Iterable[OutboxEvent]) -> None:
        """Bulk-inserts events, due at once."""
        ...

    def claim(self, now: datetime, limit: int, *, lease_until: datetime) -> list[ClaimedEvent]:
        """Due, undelivered rows (skipping rows locked by others), pushed to `lease_until`, attempts counted."""
        ...

    def mark_delivered(self, outbox_id: int, *, at: datetime) -> None: ...
    def schedule_retry(self, outbox_id: int, attempt: int, *, at: datetime, error: str) -> None:
        """Moves the next attempt to `at`, unless another pass has claimed the row since `attempt`."""
        ...

    def give_up(self, outbox_id: int, attempt: int, *, at: datetime, error: str) -> None: ...
    def log_attempts(self, attempts: Sequence[DeliveryAttempt]) -> None: ...
    def deliveries(self, account_name: str, *, before_id: int | None, limit: int) -> list[DeliveryAttempt]:
        """The account's delivery log, newest first."""
        ...

    def prune(self, finished_before: datetime, limit: int) -> int:
        """Deletes up to `limit` events delivered or given up before the instant, with their delivery log."""
        ...


class CallbackSender(Protocol):
    def send(self, target: Target, body: bytes, headers: Mapping[str, str]) -> tuple[int | None, str | None]:
        """POSTs once to the target's URL, connecting only to its checked addresses and following no redirect;
        (status code, None) when the receiver answered, (None, error) when it could not be reached.

        A non-2xx answer may come with an error text describing it.
        """
        ...


class LicenseCancelListRepository(Protocol):
    def page(self, account_name: str, *, offset: int, limit: int) -> list[str]: ...
    def count(self, account_name: str) -> int: ...
    def last_change(self, account_name: str) -> datetime | None: ...
    def add(self, account_name: str, device_ids: Sequence[str], *, at: datetime) -> None: ...
    def clear(self, account_name: str) -> int: ...


class FirmwareReportRequestRepository(Protocol):
    def add(self, request_id: str, account_name: str, device_id: str, *, at: datetime) -> None: ...


class UpgradeRepository(Protocol):
    """Upgrades in progress: claims and step changes are conditional, so exactly one actor wins each."""

    def active_for_device(self, device_id: str) -> tuple[CampaignDeviceRow, Campaign] | None:
        """The device's active row (with its `device_zone`) and its campaign, in one query."""
        ...

    def active_for_devices(self, device_ids: Sequence[str]) -> dict[str, tuple[CampaignDeviceRow, Campaign]]:
        """`active_for_device` for each of these devices that has an active row; devices of one campaign share
        its object."""
        ...

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
        """`bandwidth_hour`: the hour of a budgeted campaign's start grant, kept for the first block to take over."""
        ...

    def defer(self, campaign_id: str, device_id: str, *, reason: str, until: datetime, now: datetime) -> bool:
        """A pending device that may start now waits until `until` instead, with `reason` (the bandwidth budget's
        wait): no attempt is spent. False when it was not pending or not due."""
        ...

    def take_start_grant(self, campaign_id: str, device_id: str, *, hour: datetime) -> bool:
        """Clears the claim's start grant if it is `hour`'s: True once, for the first block served in that hour."""
        ...

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
    ) -> bool: ...
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
    ) -> bool: ...
    def expired(self, now: datetime, limit: int) -> list[CampaignDeviceRow]: ...


class RegistrationRepository(Protocol):
    def save(self, registration: Registration) -> None: ...
    def get(self, location: str) -> Registration | None: ...
    def for_device(self, device_id: str) -> Registration | None: ...
    def get_many(self, locations: Sequence[str]) -> dict[str, Registration]:
        """The registrations found, by location."""
        ...

    def touch_many(self, refreshed: Sequence[Registration]) -> None:
        """Writes each registration's `updated_at`, `expires_at`, `address` and `lifetime` (a check-in that changes
        nothing else), in order."""
        ...

    def delete(self, location: str) -> bool: ...
    def purge_expired(self, now: datetime) -> int: ...
    def count_unknown(self, endpoint: str, *, address: str, now: datetime) -> None: ...


class BandwidthRepository(Protocol):
    """Image bytes reserved per budgeted campaign and UTC clock hour (domain/bandwidth.py, docs/adr/0024)."""

    def reserve(self, campaign_id: str, hour: datetime, wanted: int, *, bytes_per_hour: int) -> bool:
        """Adds `wanted` bytes to the hour's counter if the sum stays within `bytes_per_hour`, in one conditional
        statement every process shares; whether it did."""
        ...

    def give_back(self, campaign_id: str, hour: datetime, amount: int) -> None:
        """Takes back bytes a reservation counted and nothing will send (a claim that lost its race)."""
        ...

    def reserved(self, campaign_id: str, hour: datetime) -> int: ...
    def prune(self, before: datetime) -> int: ...


class DownloadRepository(Protocol):
    def add(self, token_hash: str, link: DownloadLink) -> None: ...
    def get(self, token_hash: str) -> DownloadLink | None: ...
    def purge_expired(self, now: datetime) -> int: ...


@dataclass(frozen=True)
class CampaignListing:
    campaign: Campaign
    created_at: datetime


@dataclass(frozen=True)
class CheckIn:
    """What fota has observed of a device's check-ins: when it was last heard, and its registration's lifetime."""

    device_id: str
    last_seen_at: datetime | None
    lifetime: int | None  # seconds within which the LwM2M client promised its next Update
    registration_expires_at: datetime | None


class InsightRepository(Protocol):
    """Read-only queries of the operator console; every one is bounded by an index or a limit."""

    def campaigns(self, account_name: str, *, limit: int) -> list[CampaignListing]:
        """The account's campaigns of every status, newest first."""
        ...

    def listing(self, account_name: str, campaign_id: str) -> CampaignListing | None: ...
    def status_counts(self, campaign_ids: Sequence[str]) -> dict[str, dict[DeviceStatus, int]]:
        """Devices per status of each campaign (GROUP BY on the campaign's primary-key prefix)."""
        ...

    def device_page(
        self, campaign_id: str, *, status: DeviceStatus | None, after: str | None, limit: int
    ) -> list[CampaignDeviceRow]:
        """Keyset page by device id, optionally of one status."""
        ...

    def outcomes(self, campaign_id: str) -> list[tuple[datetime, DeviceStatus]]:
        """When each device of the campaign reached UpgradeSuccess or UpgradeFailed, oldest first."""
        ...

    def checkins(self, device_ids: Sequence[str]) -> dict[str, CheckIn]: ...


@dataclass(frozen=True, slots=True)
class CheckInRecord:
    """One registration, registration update or HTTP check-in fota received (v2 `checkInHistory`)."""

    device_id: str
    client_type: str  # LWM2M or HTTP
    result: str  # Success or Failure
    failure_type: str  # "None" on success
    completed_at: datetime


@dataclass(frozen=True, slots=True)
class DeviceLogEntry:
    account_name: str
    device_id: str
    log_time: datetime
    log_type: str
    event_log: str
    binary_log_file_base64: str = ""
    binary_log_filename: str = ""


@dataclass(frozen=True, slots=True)
class LoggingStatus:
    device_id: str
    account_name: str
    expires_at: datetime


class DeviceActivityRepository(Protocol):
    """Check-in history of every device, and the logs of the (few) devices with logging enabled."""

    def add_check_ins(self, records: Sequence[CheckInRecord]) -> None: ...
    def check_ins(self, device_id: str, *, limit: int) -> list[CheckInRecord]:
        """Newest first."""
        ...

    def logging(self, account_name: str, *, now: datetime) -> list[LoggingStatus]:
        """The account's devices whose logging has not expired, by device id."""
        ...

    def logging_of(self, device_id: str, *, now: datetime) -> LoggingStatus | None: ...

    def logging_in(self, account_names: Sequence[str], *, now: datetime) -> set[str]:
        """Ids of the devices of these accounts whose logging is on (a few per account)."""
        ...

    def enable_logging(self, statuses: Sequence[LoggingStatus], *, at: datetime) -> None:
        """Creates or extends each device's logging."""
        ...

    def disable_logging(self, account_name: str, device_ids: Sequence[str]) -> int: ...
    def add_logs(self, entries: Sequence[DeviceLogEntry], *, received_at: datetime) -> None: ...
    def logs(self, account_name: str, device_id: str, *, limit: int) -> list[DeviceLogEntry]:
        """Oldest first, the last `limit` entries."""
        ...

    def prune(self, before: datetime, limit: int) -> int:
        """Deletes up to `limit` check-ins and up to `limit` log entries older than the instant."""
        ...


class KeyCipher(Protocol):
    """Encrypts secrets the server must read back (DTLS pre-shared keys); `context` binds a ciphertext to its row."""

    def encrypt(self, plaintext: bytes, *, context: bytes) -> bytes: ...
    def decrypt(self, ciphertext: bytes, *, context: bytes) -> bytes: ...


class DeviceSecurityRepository(Protocol):
    def get(self, device_id: str) -> DeviceSecurity | None: ...
    def owner_of_identity(self, identity: str) -> str | None:
        """The device that holds this PSK identity, if any."""
        ...

    def encrypted_key(self, identity: str) -> tuple[str, bytes] | None:
        """(device_id, encrypted key) of a PSK identity whose device is in psk mode."""
        ...

    def put(self, security: DeviceSecurity, encrypted_key: bytes | None, *, at: datetime) -> None: ...


class BootstrapRepository(Protocol):
    def get(self, device_id: str) -> BootstrapSettings | None: ...
    def owner_of_identity(self, identity: str) -> str | None:
        """The device that holds this bootstrap PSK identity, if any."""
        ...

    def encrypted_key(self, identity: str) -> tuple[str, bytes] | None:
        """(device_id, encrypted bootstrap key) of a bootstrap identity whose device bootstraps in psk mode."""
        ...

    def put(self, settings: BootstrapSettings, encrypted_key: bytes | None, *, at: datetime) -> None: ...
    def delete(self, device_id: str) -> bool: ...
    def bootstrapped(self, device_id: str, *, at: datetime) -> None:
        """Counts one finished bootstrap of the device."""
        ...


class SigningKeyRepository(Protocol):
    def add(self, key: SigningKey) -> None: ...
    def get(self, key_id: str) -> SigningKey | None: ...
    def list(self) -> list[SigningKey]: ...
    def revoke(self, key_id: str, *, at: datetime) -> None: ...


class RefusalLedger(Protocol):
    def exchange(self, counts: dict[str, int]) -> set[str]:
        """Adds one process's refused CoAP requests per remote address; returns the addresses over the budget that
        every LwM2M process of the deployment shares."""
        ...


class SignatureVerifier(Protocol):
    def algorithm_of(self, public_key_pem: str) -> SignatureAlgorithm:
        """The algorithm of a PEM public key (SubjectPublicKeyInfo); ValueError when it is not Ed25519 or P-256."""
        ...

    def verify(self, key: SigningKey, signature: bytes, digest: bytes) -> bool:
        """Whether `signature` is the key's signature over the 32-byte SHA-256 `digest` of an image."""
        ...


class UnitOfWork(Protocol):
    @property
    def accounts(self) -> AccountRepository: ...
    @property
    def credentials(self) -> CredentialRepository: ...
    @property
    def tokens(self) -> TokenRepository: ...
    @property
    def devices(self) -> DeviceRepository: ...
    @property
    def firmware(self) -> FirmwareRepository: ...
    @property
    def campaigns(self) -> CampaignRepository: ...
    @property
    def campaign_devices(self) -> CampaignDeviceRepository: ...
    @property
    def history(self) -> HistoryRepository: ...
    @property
    def callbacks(self) -> CallbackRepository: ...
    @property
    def outbox(self) -> OutboxRepository: ...
    @property
    def cancel_list(self) -> LicenseCancelListRepository: ...
    @property
    def firmware_reports(self) -> FirmwareReportRequestRepository: ...
    @property
    def upgrades(self) -> UpgradeRepository: ...
    @property
    def registrations(self) -> RegistrationRepository: ...
    @property
    def downloads(self) -> DownloadRepository: ...
    @property
    def bandwidth(self) -> BandwidthRepository: ...
    @property
    def insight(self) -> InsightRepository: ...
    @property
    def device_security(self) -> DeviceSecurityRepository: ...
    @property
    def bootstrap(self) -> BootstrapRepository: ...
    @property
    def signing_keys(self) -> SigningKeyRepository: ...
    @property
    def activity(self) -> DeviceActivityRepository: ...
    @property
    def rollouts(self) -> RolloutRepository: ...
    @property
    def audit(self) -> AuditRepository: ...

    def __enter__(self) -> Self: ...
    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


class Exclusive(Protocol):
    """Enters a section that one process at a time may run for `key`: yields False, without waiting, when another
    process is in it (a PostgreSQL advisory lock; always True where one process serves everything)."""

    def __call__(self, key: str) -> AbstractContextManager[bool]: ...


@contextmanager
def always_alone(key: str) -> Iterator[bool]:
    """The `Exclusive` of a single-process deployment (SQLite, unit tests): nobody else can be in the section."""
    yield True
