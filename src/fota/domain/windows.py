"""Hourly time windows in which a campaign may start upgrades, and the live period between its dates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fota.domain.errors import InvalidRequest

MIN_WINDOW_HOURS = 4


@dataclass(frozen=True, order=True)
class TimeWindow:
    """Open while start_hour <= local hour < end_hour."""

    start_hour: int
    end_hour: int

    def contains_hour(self, hour: int) -> bool:
        return self.start_hour <= hour < self.end_hour


def validate_windows(windows: Sequence[TimeWindow]) -> tuple[TimeWindow, ...]:
    """Checks ranges, the 4-hour minimum and overlaps; returns the windows sorted."""
    for w in windows:
        if not 0 <= w.start_hour <= 23:
            raise InvalidRequest(f"time window startTime {w.start_hour} is out of range 0-23")
        if not 1 <= w.end_hour <= 24:
            raise InvalidRequest(f"time window endTime {w.end_hour} is out of range 1-24")
        if w.end_hour < w.start_hour + MIN_WINDOW_HOURS:
            raise InvalidRequest(
                f"time window {w.start_hour}-{w.end_hour} is shorter than {MIN_WINDOW_HOURS} hours: "
                f"endTime must be at least startTime + {MIN_WINDOW_HOURS}"
            )
    ordered = tuple(sorted(windows))
    for earlier, later in pairwise(ordered):
        if later.start_hour < earlier.end_hour:
            raise InvalidRequest(
                f"time windows {earlier.start_hour}-{earlier.end_hour} and {later.start_hour}-{later.end_hour} overlap"
            )
    return ordered


def parse_time_zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRequest(f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin") from None


# The latest instant an end may be: 24:00 of 9999-12-31 is past what a datetime holds, and an instant must still be
# representable in every zone (up to 14 hours ahead of UTC). A campaign that ends on 9999-12-30 or later ends here.
END_OF_TIME = datetime(9999, 12, 30, tzinfo=UTC)


def ends_at_end_of_time(day: date) -> bool:
    """Whether a period ending with `day` ends at `END_OF_TIME`: its 24:00 may lie past it in some zone. Earlier
    days end before it even at UTC-12."""
    return day >= END_OF_TIME.date() - timedelta(days=1)


def day_end(day: date, zone: ZoneInfo) -> datetime:
    """24:00 of `day` in `zone`, as UTC; never later than `END_OF_TIME`."""
    if ends_at_end_of_time(day):
        return END_OF_TIME
    return datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC)


@dataclass(frozen=True)
class Schedule:
    """A campaign's dates, windows and zone: when it is live and when a window is open."""

    start_date: date
    end_date: date
    windows: tuple[TimeWindow, ...]
    time_zone: str = "UTC"

    @property
    def zone(self) -> ZoneInfo:
        return parse_time_zone(self.time_zone)

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.start_date, time(), self.zone).astimezone(UTC)

    @property
    def ends_at(self) -> datetime:
        """24:00 of the end date in the campaign's zone (`END_OF_TIME` for the calendar's last days)."""
        return day_end(self.end_date, self.zone)

    def local_today(self, now: datetime) -> date:
        return now.astimezone(self.zone).date()

    def is_live(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def window_open(self, now: datetime) -> bool:
        if not self.is_live(now):
            return False
        if not self.windows:
            return True
        hour = now.astimezone(self.zone).hour
        return any(w.contains_hour(hour) for w in self.windows)

    def next_opening(self, now: datetime) -> datetime | None:
        """The first instant at or after `now` when a window is open, or None if none is left."""
        moment = max(now, self.starts_at)
        if moment >= self.ends_at:
            return None
        if self.window_open(moment):
            return moment
        local = moment.astimezone(self.zone)
        day = local.date()
        while True:
            for w in self.windows:
                candidate = datetime.combine(day, time(w.start_hour), self.zone).astimezone(UTC)
                if candidate >= moment and candidate < self.ends_at:
                    return candidate
            if day_end(day, self.zone) >= self.ends_at:
                return None
            day += timedelta(days=1)
