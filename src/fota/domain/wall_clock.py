"""Local wall time against UTC instants in a zone that changes its offset (daylight saving).

One rule for every local time fota is given (window hours, blackout and override times): a wall time names its
first occurrence, and a wall time the clock skips names the instant the clock jumps over it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fota.domain.errors import InvalidRequest

LOCAL_MINUTE_FORMAT = "%Y-%m-%dT%H:%M"
_LOCAL_MINUTE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")

# Offsets change months apart; no zone changes twice within this, so sampling at it finds every change.
_SAMPLE = timedelta(hours=1)


def wall_time(instant: datetime, zone: ZoneInfo) -> datetime:
    """The naive local time `instant` shows in `zone` (on the second pass of a repeated hour too)."""
    return instant.astimezone(zone).replace(tzinfo=None, fold=0)


def is_repeat(instant: datetime, zone: ZoneInfo) -> bool:
    """`instant` is on the second pass of a wall time the clock showed before (the repeated hour of a fall-back)."""
    return instant.astimezone(zone).fold == 1


def instant_of(local: datetime, zone: ZoneInfo) -> datetime:
    """The first UTC instant at which the wall clock in `zone` shows `local` (naive) or a later time."""
    first = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if wall_time(first, zone) == local:
        return first  # a wall time that exists; fold 0 is its first occurrence when it repeats
    # Skipped: fold 0 reads `local` with the offset before the jump, which lands after it; fold 1, with the offset
    # after, lands before it. The jump is the first instant in between whose wall time has reached `local`.
    before = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return _first_reaching(local, zone, before, first)


def _first_reaching(local: datetime, zone: ZoneInfo, lo: datetime, hi: datetime) -> datetime:
    """Bisection to the microsecond: the wall time at `lo` is before `local`, at `hi` it is not."""
    low, high = 0, (hi - lo) // timedelta(microseconds=1)
    while high - low > 1:
        middle = (low + high) // 2
        if wall_time(lo + timedelta(microseconds=middle), zone) >= local:
            high = middle
        else:
            low = middle
    return lo + timedelta(microseconds=high)


def repeated_stretches(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The UTC intervals [from, to) starting in [start, end) in which the wall clock repeats times it showed."""
    stretches: list[tuple[datetime, datetime]] = []
    earlier = start
    earlier_offset = _offset(earlier, zone)
    while earlier < end:
        later = min(earlier + _SAMPLE, end)
        later_offset = _offset(later, zone)
        if later_offset < earlier_offset:  # the clock was set back in (earlier, later]
            change = _first_with_offset(zone, earlier, later, later_offset)
            stretches.append((change, change + (earlier_offset - later_offset)))
        earlier, earlier_offset = later, later_offset
    return stretches


def _offset(instant: datetime, zone: ZoneInfo) -> timedelta:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None  # a ZoneInfo always has one
    return offset


def _first_with_offset(zone: ZoneInfo, lo: datetime, hi: datetime, offset: timedelta) -> datetime:
    low, high = 0, (hi - lo) // timedelta(microseconds=1)
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(lo + timedelta(microseconds=middle), zone) == offset:
            high = middle
        else:
            low = middle
    return lo + timedelta(microseconds=high)


def parse_local_minute(value: object, field: str) -> datetime:
    """A request's local time 'YYYY-MM-DDTHH:MM' (no offset: the campaign's zone says where), as a naive time."""
    if not isinstance(value, str) or not _LOCAL_MINUTE.fullmatch(value):
        raise InvalidRequest(f"{field} {value!r} must be a local time YYYY-MM-DDTHH:MM")
    try:
        return datetime.strptime(value, LOCAL_MINUTE_FORMAT)
    except ValueError:
        raise InvalidRequest(f"{field} {value!r} is not a valid local time YYYY-MM-DDTHH:MM") from None


def format_local_minute(local: datetime) -> str:
    return local.strftime(LOCAL_MINUTE_FORMAT)
