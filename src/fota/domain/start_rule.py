"""When a new upgrade may start for a device: the campaign's live period, its windows read in the device's zone,
its blackouts and an override; and the next such instant, the `next_open_at` the engine finds devices by.

Everything here but the zone is the campaign's, so `next_open_at` is one value per distinct zone (a few dozen in
any fleet), computed per zone and stored on the devices of that zone, never per device.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import TypeVar
from zoneinfo import ZoneInfo

from fota.domain.blackouts import NO_BLACKOUTS, Blackout, BlackoutCalendar, BlackoutOverride
from fota.domain.local_windows import LivePeriod, next_closing, next_opening, window_open
from fota.domain.wall_clock import format_local_minute
from fota.domain.windows import Schedule, TimeWindow
from fota.domain.zones import WindowZone, effective_zone

T = TypeVar("T")


class HoldKind(StrEnum):
    NOT_LIVE = "notLive"
    OUTSIDE_WINDOW = "outsideWindow"
    BLACKOUT = "blackout"


@dataclass(frozen=True)
class Hold:
    """Why a device may not start now, and when it may (`next_open_at`; None: not again in this campaign)."""

    kind: HoldKind
    zone: str
    next_open_at: datetime | None
    blackout: Blackout | None = None

    @property
    def reason(self) -> str:
        """A `resultReason` for a device left UpgradePending."""
        if self.kind is HoldKind.BLACKOUT and self.blackout is not None:
            why = f": {self.blackout.reason}" if self.blackout.reason else ""
            return f"in a blackout until {format_local_minute(self.blackout.local_to)}{why}"
        if self.kind is HoldKind.NOT_LIVE:
            return "the campaign is not live"
        when = f"; next opens {self.next_open_at.isoformat()}" if self.next_open_at else "; none is left"
        return f"no time window is open in {self.zone}{when}"


@dataclass(frozen=True)
class OpenStretch:
    """[opens_at, closes_at): new upgrades may start throughout, and not just before it."""

    opens_at: datetime
    closes_at: datetime


@dataclass(frozen=True)
class StartRule:
    """A campaign's rule for starting new upgrades; each method takes the zone its windows are read in."""

    windows: tuple[TimeWindow, ...]
    period: LivePeriod
    blackouts: BlackoutCalendar = NO_BLACKOUTS
    override: BlackoutOverride | None = None
    campaign_zone: str = "UTC"
    window_zone: WindowZone = WindowZone.CAMPAIGN

    @classmethod
    def of_schedule(
        cls,
        schedule: Schedule,
        *,
        window_zone: WindowZone = WindowZone.CAMPAIGN,
        blackouts: BlackoutCalendar = NO_BLACKOUTS,
        override: BlackoutOverride | None = None,
        download_after: date | None = None,
    ) -> StartRule:
        period = LivePeriod.of_schedule(schedule, download_after)
        return cls(schedule.windows, period, blackouts, override, schedule.time_zone, window_zone)

    def zone_for(self, device_zone: str | None) -> ZoneInfo:
        """The zone a device's windows are read in: see `effective_zone`."""
        return ZoneInfo(effective_zone(self.window_zone, device_zone, self.campaign_zone))

    def blocking_blackout(self, now: datetime) -> Blackout | None:
        """The blackout that stops a start at `now`: none while the override is in force."""
        if self.override is not None and self.override.in_force(now):
            return None
        return self.blackouts.covering(now)

    def may_start(self, zone: ZoneInfo, now: datetime) -> bool:
        """No new upgrade starts outside the live period or a window, nor in a blackout unless overridden."""
        return (
            self.period.contains(now) and window_open(self.windows, zone, now) and self.blocking_blackout(now) is None
        )

    def next_open_at(self, zone: ZoneInfo, now: datetime) -> datetime | None:
        """The first instant at or after `now` at which `may_start`; None when the campaign has none left."""
        moment = max(now, self.period.starts_at)
        while moment < self.period.ends_at:
            opening = next_opening(self.windows, zone, moment, self.period.ends_at)
            if opening is None or self.blocking_blackout(opening) is None:
                return opening
            # The override has lapsed by `opening` and cannot come back, so the whole blackout is closed.
            moment = self.blackouts.clear_at(opening)
        return None

    def open_stretch(self, zone: ZoneInfo, now: datetime) -> OpenStretch | None:
        """The next stretch (or the current one) in which upgrades may start: when it opens and when it closes."""
        opens_at = self.next_open_at(zone, now)
        if opens_at is None:
            return None
        closes_at = next_closing(self.windows, zone, opens_at, self.period.ends_at)
        blocked_at = self._first_blocked_after(opens_at)
        return OpenStretch(opens_at, closes_at if blocked_at is None else min(closes_at, blocked_at))

    def _first_blocked_after(self, moment: datetime) -> datetime | None:
        # A block begins only where a blackout begins or where the override lapses inside one.
        candidates = [b.starts_at for b in self.blackouts.blackouts if b.starts_at > moment]
        if self.override is not None and self.override.until > moment:
            candidates.append(self.override.until)
        return min((c for c in candidates if self.blocking_blackout(c) is not None), default=None)

    def hold(self, zone: ZoneInfo, now: datetime) -> Hold | None:
        """Why a device in `zone` may not start at `now`, or None when it may."""
        if self.may_start(zone, now):
            return None
        next_open_at = self.next_open_at(zone, now)
        if not self.period.contains(now):
            return Hold(HoldKind.NOT_LIVE, zone.key, next_open_at)
        blackout = self.blocking_blackout(now)
        if blackout is not None:
            return Hold(HoldKind.BLACKOUT, zone.key, next_open_at, blackout)
        return Hold(HoldKind.OUTSIDE_WINDOW, zone.key, next_open_at)


def next_open_by_zone(
    rule: StartRule, device_zones: Iterable[str | None], now: datetime
) -> dict[str | None, datetime | None]:
    """`next_open_at` for each distinct device zone as stored (None: the device has none), computed once per zone
    its windows are read in: under `windowZone: campaign` that is one computation for the whole campaign."""
    return _per_effective_zone(rule, device_zones, lambda zone: rule.next_open_at(zone, now))


def holds_by_zone(rule: StartRule, device_zones: Iterable[str | None], now: datetime) -> dict[str | None, Hold | None]:
    """`hold` at `now` for each distinct device zone as stored, computed once per zone its windows are read in."""
    return _per_effective_zone(rule, device_zones, lambda zone: rule.hold(zone, now))


def _per_effective_zone(
    rule: StartRule, device_zones: Iterable[str | None], compute: Callable[[ZoneInfo], T]
) -> dict[str | None, T]:
    by_effective: dict[str, T] = {}
    result: dict[str | None, T] = {}
    for device_zone in set(device_zones):
        zone = rule.zone_for(device_zone)
        if zone.key not in by_effective:
            by_effective[zone.key] = compute(zone)
        result[device_zone] = by_effective[zone.key]
    return result
