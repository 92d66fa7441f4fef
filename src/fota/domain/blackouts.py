"""A campaign's blackout calendar (local intervals in its `timeZone` in which no new upgrade starts) and the
audited override that lets upgrades start during one until a local time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from fota.domain.errors import InvalidRequest
from fota.domain.wall_clock import format_local_minute, instant_of, parse_local_minute

MAX_BLACKOUTS = 100
MAX_REASON = 500


@dataclass(frozen=True, order=True)
class Blackout:
    """[starts_at, ends_at) in UTC, from the local `from`/`to` as given (kept to echo them back)."""

    starts_at: datetime
    ends_at: datetime
    local_from: datetime
    local_to: datetime
    reason: str | None = None

    @classmethod
    def of_local(
        cls, local_from: datetime, local_to: datetime, reason: str | None, zone: ZoneInfo, field: str = "blackouts"
    ) -> Blackout:
        """A blackout from naive local times in the campaign's zone (a stored one is rebuilt this way too)."""
        if local_to <= local_from:
            raise InvalidRequest(
                f"{field}.to {format_local_minute(local_to)} must be after from {format_local_minute(local_from)}"
            )
        try:
            starts_at, ends_at = instant_of(local_from, zone), instant_of(local_to, zone)
        except OverflowError:  # late on 9999-12-31 in a zone behind UTC: past the last instant a datetime holds
            raise InvalidRequest(f"{field} reaches past 9999-12-31 in UTC, the last day an instant can hold") from None
        if ends_at <= starts_at:
            raise InvalidRequest(f"{field} lies entirely in the hour that {zone.key}'s clock skips")
        return cls(starts_at, ends_at, local_from, local_to, reason)

    def contains(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    @property
    def local_fields(self) -> dict[str, str | None]:
        """The contract's fields, as a response echoes them."""
        local_from, local_to = format_local_minute(self.local_from), format_local_minute(self.local_to)
        return {"from": local_from, "to": local_to, "reason": self.reason}


def parse_blackouts(items: object, zone: ZoneInfo) -> tuple[Blackout, ...]:
    """The request's `blackouts` (a list of {from, to, reason}); absent means none. Returned in order of start."""
    if items is None:
        return ()
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise InvalidRequest("blackouts must be a list of {from, to, reason}")
    if len(items) > MAX_BLACKOUTS:
        raise InvalidRequest(f"blackouts has {len(items)} entries; at most {MAX_BLACKOUTS} are allowed")
    parsed = []
    for index, item in enumerate(items):
        field = f"blackouts[{index}]"
        if not isinstance(item, Mapping):
            raise InvalidRequest(f"{field} must be an object {{from, to, reason}}")
        local_from = parse_local_minute(item.get("from"), f"{field}.from")
        local_to = parse_local_minute(item.get("to"), f"{field}.to")
        reason = item.get("reason")
        checked_reason = None if reason is None else _reason(reason, f"{field}.reason")
        parsed.append(Blackout.of_local(local_from, local_to, checked_reason, zone, field))
    return tuple(sorted(parsed))


def _reason(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"{field} is required: a non-empty text saying why")
    if len(value) > MAX_REASON:
        raise InvalidRequest(f"{field} is longer than {MAX_REASON} characters")
    return value.strip()


@dataclass(frozen=True)
class BlackoutCalendar:
    """A campaign's blackouts, sorted by start; they may overlap or touch, and then count as one."""

    blackouts: tuple[Blackout, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "blackouts", tuple(sorted(self.blackouts)))

    def covering(self, now: datetime) -> Blackout | None:
        """The first blackout in force at `now`, if any (its reason is the one to report)."""
        return next((b for b in self.blackouts if b.contains(now)), None)

    def in_blackout(self, now: datetime) -> bool:
        return self.covering(now) is not None

    def clear_at(self, now: datetime) -> datetime:
        """The first instant at or after `now` outside every blackout: `now` itself when none is in force."""
        moment = now
        for b in self.blackouts:  # by start, so one pass follows a chain of overlapping or touching blackouts
            if b.starts_at <= moment < b.ends_at:
                moment = b.ends_at
        return moment

    def next_start_after(self, now: datetime) -> datetime | None:
        """The next instant after `now` at which a blackout begins."""
        return next((b.starts_at for b in self.blackouts if b.starts_at > now), None)

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return any(b.starts_at < end and start < b.ends_at for b in self.blackouts)


NO_BLACKOUTS = BlackoutCalendar()


@dataclass(frozen=True)
class BlackoutOverride:
    """Upgrades may start during a blackout until `until` (UTC; `local_until` as given in the campaign's zone)."""

    until: datetime
    local_until: datetime
    reason: str

    def in_force(self, now: datetime) -> bool:
        return now < self.until


@dataclass(frozen=True)
class RecordedOverride:
    """An override as the campaign keeps it: who set it (`by`, the session's user) and when (`at`), for its audit."""

    override: BlackoutOverride
    by: str
    at: datetime


def parse_blackout_override(until: object, reason: object, zone: ZoneInfo, now: datetime) -> BlackoutOverride:
    """The body of `POST .../blackouts/override`: `until` a local time after `now`, `reason` required."""
    local_until = parse_local_minute(until, "until")
    checked_reason = _reason(reason, "reason")
    at = instant_of(local_until, zone)
    if at <= now:
        raise InvalidRequest(f"until {format_local_minute(local_until)} ({zone.key}) is not in the future")
    return BlackoutOverride(at, local_until, checked_reason)
