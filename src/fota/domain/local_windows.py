"""A campaign's hourly windows read in any IANA zone, daylight-saving correct, and the campaign's live period.

A window is hours of local wall time. The hour a spring-forward skips does not exist (a 02:00-06:00 window opens
when the clock jumps to 03:00); the hour a fall-back repeats is open on its first pass only, so every wall time
of a window is open exactly once (ADR 23). No windows at all means open at any time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fota.domain.wall_clock import instant_of, repeated_stretches
from fota.domain.windows import END_OF_TIME, Schedule, TimeWindow, ends_at_end_of_time, parse_time_zone

_DAY = timedelta(days=1)


def window_open(windows: Sequence[TimeWindow], zone: ZoneInfo, now: datetime) -> bool:
    """A window is open at `now` on the wall clock of `zone`."""
    if not windows:
        return True
    local = now.astimezone(zone)
    if local.fold:  # the second pass of a repeated hour: its wall times were open on the first
        return False
    return any(w.contains_hour(local.hour) for w in windows)


def next_opening(windows: Sequence[TimeWindow], zone: ZoneInfo, now: datetime, until: datetime) -> datetime | None:
    """The first instant in [now, until) at which a window is open in `zone`; None when there is none."""
    if now >= until:
        return None
    if window_open(windows, zone, now):
        return now

    def openings(day: date, day_start: datetime, next_day_start: datetime) -> list[datetime]:
        # A window opens where its start hour comes, or where the repeated hour it was closed for ends.
        starts = [_instant_at_hour(day, w.start_hour, zone) for w in windows]
        return starts + [end for _, end in repeated_stretches(zone, day_start, next_day_start)]

    return _first_instant(zone, now, until, openings, lambda t: window_open(windows, zone, t))


def next_closing(windows: Sequence[TimeWindow], zone: ZoneInfo, now: datetime, until: datetime) -> datetime:
    """The first instant in [now, until) at which no window is open in `zone`; `until` when they stay open."""
    if now >= until:
        return until
    if not window_open(windows, zone, now):
        return now
    if not windows:
        return until

    def closings(day: date, day_start: datetime, next_day_start: datetime) -> list[datetime]:
        ends = [_instant_at_hour(day, w.end_hour, zone) for w in windows]
        return ends + [start for start, _ in repeated_stretches(zone, day_start, next_day_start)]

    found = _first_instant(zone, now, until, closings, lambda t: not window_open(windows, zone, t))
    return until if found is None else found


def _instant_at_hour(day: date, hour: int, zone: ZoneInfo) -> datetime:
    """Where `hour` (0-24) of local `day` begins: its first occurrence, or the jump when the clock skips it."""
    return instant_of(datetime.combine(day, time()) + timedelta(hours=hour), zone)


def _first_instant(
    zone: ZoneInfo,
    now: datetime,
    until: datetime,
    candidates_of: Callable[[date, datetime, datetime], list[datetime]],
    wanted: Callable[[datetime], bool],
) -> datetime | None:
    """The earliest wanted instant in (now, until) among the candidates of each local day, day by day.

    The local days cut the timeline into consecutive spans; each day's candidates lie in its span or at the next
    day's start, so the first day with a wanted candidate holds the earliest one. The day before `now`'s is
    searched too: a repeated hour can carry one day's wall times past the start of the next.
    """
    day = now.astimezone(zone).date() - _DAY
    day_start = _instant_at_hour(day, 0, zone)
    while day_start < until:
        next_day_start = _instant_at_hour(day + _DAY, 0, zone)
        found = sorted(c for c in candidates_of(day, day_start, next_day_start) if now < c < until and wanted(c))
        if found:
            return found[0]
        day, day_start = day + _DAY, next_day_start
    return None


@dataclass(frozen=True)
class LivePeriod:
    """[starts_at, ends_at) in UTC: from 00:00 of the start date to 24:00 of the end date, in the campaign's zone."""

    starts_at: datetime
    ends_at: datetime

    @classmethod
    def of_dates(cls, start_date: date, end_date: date, time_zone: str) -> LivePeriod:
        zone = parse_time_zone(time_zone)
        ends_at = END_OF_TIME if ends_at_end_of_time(end_date) else _instant_at_hour(end_date + _DAY, 0, zone)
        return cls(_instant_at_hour(start_date, 0, zone), ends_at)

    @classmethod
    def of_schedule(cls, schedule: Schedule, download_after: date | None = None) -> LivePeriod:
        """The schedule's period, starting no earlier than a v2 download-after date (also in the campaign's zone)."""
        period = cls(schedule.starts_at, schedule.ends_at)
        if download_after is None:
            return period
        later = _instant_at_hour(download_after, 0, schedule.zone)
        return cls(max(period.starts_at, later), period.ends_at)

    def contains(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at
