"""Device-local windows (fota-extensions §1 `timeZone`, `windowZone`): zone names, wall time against UTC, windows
read in a zone across the daylight-saving changes, the live period, and the properties of the next opening."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fota.domain.errors import InvalidRequest
from fota.domain.local_windows import LivePeriod, next_closing, next_opening, window_open
from fota.domain.wall_clock import (
    format_local_minute,
    instant_of,
    is_repeat,
    parse_local_minute,
    repeated_stretches,
    wall_time,
)
from fota.domain.windows import MIN_WINDOW_HOURS, Schedule, TimeWindow, validate_windows
from fota.domain.zones import (
    WindowZone,
    effective_zone,
    parse_window_zone,
    parse_zone_name,
    reported_zone,
    zone_or_none,
)

LA = ZoneInfo("America/Los_Angeles")
BERLIN = ZoneInfo("Europe/Berlin")
KOLKATA = ZoneInfo("Asia/Kolkata")
NIGHT = (TimeWindow(2, 6),)

# The 2026 change days: US second Sunday of March and first of November, EU last Sundays of March and October.
US_SPRING, US_FALL = date(2026, 3, 8), date(2026, 11, 1)
EU_SPRING, EU_FALL = date(2026, 3, 29), date(2026, 10, 25)

# Zones without DST, with 1-hour DST both sides of the equator, a 30-minute DST (Lord Howe), a change at local
# midnight (Havana, Santiago), a 2-hour DST (Troll) and a +12:45 zone (Chatham).
ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "America/Santiago",
    "America/Havana",
    "Antarctica/Troll",
    "Pacific/Chatham",
]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    return instant_of(datetime(day.year, day.month, day.day), zone), instant_of(
        datetime(day.year, day.month, day.day) + timedelta(days=1), zone
    )


def open_intervals(windows: tuple[TimeWindow, ...], zone: ZoneInfo, start: datetime, end: datetime) -> list:
    """The open stretches in [start, end), walked with next_opening and next_closing."""
    found = []
    moment = start
    while (opening := next_opening(windows, zone, moment, end)) is not None:
        closing = next_closing(windows, zone, opening, end)
        found.append((opening, closing))
        moment = closing
    return found


def minute_scan(windows: tuple[TimeWindow, ...], zone: ZoneInfo, start: datetime, end: datetime) -> list:
    """The same stretches found by asking window_open at every minute."""
    found: list[list[datetime]] = []
    moment = start
    while moment < end:
        if window_open(windows, zone, moment):
            if found and found[-1][1] == moment:
                found[-1][1] = moment + timedelta(minutes=1)
            else:
                found.append([moment, moment + timedelta(minutes=1)])
        moment += timedelta(minutes=1)
    return [tuple(pair) for pair in found]


# --- zone names -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata", "UTC", "Etc/GMT+5"])
def test_iana_names_are_accepted(name: str) -> None:
    assert parse_zone_name(name, "timeZone") == name


@pytest.mark.parametrize(
    "name", ["Mars/Olympus_Mons", "europe/berlin", "", "localtime", "posixrules", "Factory", "/etc/passwd", "../x"]
)
def test_names_that_are_not_iana_places_are_rejected_naming_the_field(name: str) -> None:
    with pytest.raises(InvalidRequest, match=r"^timeZone .* is not an IANA time zone name"):
        parse_zone_name(name, "timeZone")


@pytest.mark.parametrize("value", [None, 5, ["Europe/Berlin"], "x" * 65])
def test_zone_fields_that_are_not_short_strings_are_rejected(value: object) -> None:
    with pytest.raises(InvalidRequest, match=r"^devices\[0\]\.timeZone "):
        parse_zone_name(value, "devices[0].timeZone")


def test_a_zone_a_device_reports_is_kept_only_when_it_is_an_iana_name() -> None:
    assert reported_zone(" Europe/Berlin ") == "Europe/Berlin"
    assert reported_zone("GMT+01:00") is None  # some devices report an offset, which says nothing about DST
    assert reported_zone("") is None
    assert reported_zone(None) is None
    assert zone_or_none("Asia/Kolkata") == KOLKATA


def test_window_zone_defaults_to_campaign_and_accepts_the_contract_values_only() -> None:
    assert parse_window_zone(None) is WindowZone.CAMPAIGN
    assert parse_window_zone("campaign") is WindowZone.CAMPAIGN
    assert parse_window_zone("device") is WindowZone.DEVICE
    for bad in ["Device", "devices", "", 1]:
        with pytest.raises(InvalidRequest, match=r"windowZone .* must be 'campaign' or 'device'"):
            parse_window_zone(bad)


def test_a_device_zone_counts_only_under_window_zone_device() -> None:
    assert effective_zone(WindowZone.DEVICE, "Asia/Kolkata", "Europe/Berlin") == "Asia/Kolkata"
    assert effective_zone(WindowZone.DEVICE, None, "Europe/Berlin") == "Europe/Berlin"
    assert effective_zone(WindowZone.CAMPAIGN, "Asia/Kolkata", "Europe/Berlin") == "Europe/Berlin"


# --- wall time ----------------------------------------------------------------------------------------------------


def test_a_wall_time_that_exists_once_is_its_instant() -> None:
    assert instant_of(datetime(2026, 7, 1, 2), BERLIN) == utc(2026, 7, 1, 0)
    assert instant_of(datetime(2026, 7, 1, 2), KOLKATA) == utc(2026, 6, 30, 20, 30)


def test_a_skipped_wall_time_is_the_instant_the_clock_jumps() -> None:
    jump = utc(2026, 3, 29, 1)  # Berlin 02:00 CET -> 03:00 CEST
    assert instant_of(datetime(2026, 3, 29, 2), BERLIN) == jump
    assert instant_of(datetime(2026, 3, 29, 2, 59), BERLIN) == jump
    assert instant_of(datetime(2026, 3, 29, 3), BERLIN) == jump
    assert instant_of(datetime(2026, 3, 8, 2, 30), LA) == utc(2026, 3, 8, 10)


def test_a_repeated_wall_time_is_its_first_occurrence() -> None:
    assert instant_of(datetime(2026, 10, 25, 2, 30), BERLIN) == utc(2026, 10, 25, 0, 30)  # CEST, not CET
    assert instant_of(datetime(2026, 11, 1, 1, 30), LA) == utc(2026, 11, 1, 8, 30)  # PDT, not PST
    assert instant_of(datetime(2026, 11, 1, 2), LA) == utc(2026, 11, 1, 10)  # 02:00 PST: after the repeat


def test_repeated_stretches_are_the_second_passes_of_fall_back_days() -> None:
    year = (utc(2026, 1, 1), utc(2027, 1, 1))
    assert repeated_stretches(BERLIN, *year) == [(utc(2026, 10, 25, 1), utc(2026, 10, 25, 2))]
    assert repeated_stretches(LA, *year) == [(utc(2026, 11, 1, 9), utc(2026, 11, 1, 10))]
    assert repeated_stretches(KOLKATA, *year) == []
    lord_howe = repeated_stretches(ZoneInfo("Australia/Lord_Howe"), *year)
    assert [end - start for start, end in lord_howe] == [timedelta(minutes=30)]


def test_local_minutes_parse_strictly() -> None:
    assert parse_local_minute("2030-12-24T00:00", "from") == datetime(2030, 12, 24)
    assert format_local_minute(datetime(2030, 12, 24, 6, 5)) == "2030-12-24T06:05"
    for bad in ["2030-12-24", "2030-12-24T00:00:00", "2030-12-24T00:00+01:00", "2030-12-24 00:00", 20301224, None]:
        with pytest.raises(InvalidRequest, match=r"^blackouts\[1\]\.from .* must be a local time YYYY-MM-DDTHH:MM"):
            parse_local_minute(bad, "blackouts[1].from")
    with pytest.raises(InvalidRequest, match="not a valid local time"):
        parse_local_minute("2030-02-30T25:00", "until")


# --- 02:00-06:00 in three zones on the US and EU change days --------------------------------------------------------

# For each (zone, local date): the UTC stretches in which a 02:00-06:00 window is open.
NIGHT_STRETCHES = {
    # US spring forward: 02:00 PST -> 03:00 PDT at 10:00 UTC, so the window is 03:00-06:00 PDT.
    (LA, US_SPRING): [(utc(2026, 3, 8, 10), utc(2026, 3, 8, 13))],
    # US fall back: 02:00 PDT -> 01:00 PST at 09:00 UTC; the repeated hour 01:00-02:00 is outside the window.
    (LA, US_FALL): [(utc(2026, 11, 1, 10), utc(2026, 11, 1, 14))],
    (LA, EU_SPRING): [(utc(2026, 3, 29, 9), utc(2026, 3, 29, 13))],
    (LA, EU_FALL): [(utc(2026, 10, 25, 9), utc(2026, 10, 25, 13))],
    (BERLIN, US_SPRING): [(utc(2026, 3, 8, 1), utc(2026, 3, 8, 5))],
    (BERLIN, US_FALL): [(utc(2026, 11, 1, 1), utc(2026, 11, 1, 5))],
    # EU spring forward: 02:00 CET -> 03:00 CEST at 01:00 UTC: open 03:00-06:00 CEST.
    (BERLIN, EU_SPRING): [(utc(2026, 3, 29, 1), utc(2026, 3, 29, 4))],
    # EU fall back: 03:00 CEST -> 02:00 CET at 01:00 UTC. 02:00-03:00 is open on its first pass (CEST) only, then
    # 03:00-06:00 CET: four hours of wall time, each open once.
    (BERLIN, EU_FALL): [(utc(2026, 10, 25, 0), utc(2026, 10, 25, 1)), (utc(2026, 10, 25, 2), utc(2026, 10, 25, 5))],
    # Kolkata (+05:30, no DST): 02:00-06:00 IST is 20:30-00:30 UTC whatever the rest of the world does.
    (KOLKATA, US_SPRING): [(utc(2026, 3, 7, 20, 30), utc(2026, 3, 8, 0, 30))],
    (KOLKATA, US_FALL): [(utc(2026, 10, 31, 20, 30), utc(2026, 11, 1, 0, 30))],
    (KOLKATA, EU_SPRING): [(utc(2026, 3, 28, 20, 30), utc(2026, 3, 29, 0, 30))],
    (KOLKATA, EU_FALL): [(utc(2026, 10, 24, 20, 30), utc(2026, 10, 25, 0, 30))],
}


@pytest.mark.parametrize(("zone", "day"), list(NIGHT_STRETCHES), ids=lambda v: str(v))
def test_a_night_window_opens_in_each_zone_at_its_own_local_hours(zone: ZoneInfo, day: date) -> None:
    start, end = day_bounds(day, zone)
    expected = NIGHT_STRETCHES[(zone, day)]
    assert open_intervals(NIGHT, zone, start, end) == expected
    assert minute_scan(NIGHT, zone, start, end) == expected
    for opening, closing in expected:
        assert window_open(NIGHT, zone, opening)
        assert not window_open(NIGHT, zone, opening - timedelta(microseconds=1))
        assert window_open(NIGHT, zone, closing - timedelta(microseconds=1))
        assert not window_open(NIGHT, zone, closing)


def test_the_night_window_is_three_hours_long_on_a_spring_forward_day_and_four_on_a_fall_back_day() -> None:
    def open_time(zone: ZoneInfo, day: date) -> timedelta:
        return sum((b - a for a, b in open_intervals(NIGHT, zone, *day_bounds(day, zone))), timedelta())

    assert open_time(LA, US_SPRING) == open_time(BERLIN, EU_SPRING) == timedelta(hours=3)
    assert open_time(LA, US_FALL) == open_time(BERLIN, EU_FALL) == timedelta(hours=4)
    assert open_time(KOLKATA, EU_FALL) == timedelta(hours=4)


def test_the_second_pass_of_a_repeated_hour_in_a_window_is_closed_and_it_reopens_after() -> None:
    # LA 01:00-05:00 on the fall-back day: 01:00-02:00 PDT open, 01:00-02:00 PST closed, 02:00-05:00 PST open.
    windows = (TimeWindow(1, 5),)
    assert window_open(windows, LA, utc(2026, 11, 1, 8, 30))  # 01:30 PDT
    assert not window_open(windows, LA, utc(2026, 11, 1, 9, 30))  # 01:30 PST, the repeat
    assert next_opening(windows, LA, utc(2026, 11, 1, 9, 30), utc(2026, 11, 2)) == utc(2026, 11, 1, 10)
    assert next_closing(windows, LA, utc(2026, 11, 1, 8, 30), utc(2026, 11, 2)) == utc(2026, 11, 1, 9)


def test_next_opening_before_a_spring_forward_window_is_the_jump() -> None:
    assert next_opening(NIGHT, BERLIN, utc(2026, 3, 28, 23), utc(2026, 4, 1)) == utc(2026, 3, 29, 1)
    assert next_opening(NIGHT, LA, utc(2026, 3, 8, 5), utc(2026, 4, 1)) == utc(2026, 3, 8, 10)


def test_next_opening_on_a_fall_back_day_is_the_first_pass() -> None:
    assert next_opening(NIGHT, BERLIN, utc(2026, 10, 24, 20), utc(2026, 11, 1)) == utc(2026, 10, 25, 0)


def test_next_opening_respects_until() -> None:
    assert next_opening(NIGHT, BERLIN, utc(2026, 7, 1, 5), utc(2026, 7, 2, 0)) is None
    assert next_opening(NIGHT, BERLIN, utc(2026, 7, 1, 5), utc(2026, 7, 2, 0, 1)) == utc(2026, 7, 2, 0)
    assert next_opening(NIGHT, BERLIN, utc(2026, 7, 2), utc(2026, 7, 2)) is None


def test_without_windows_every_instant_is_open() -> None:
    repeat = utc(2026, 10, 25, 1, 30)
    assert window_open((), BERLIN, repeat)
    assert next_opening((), BERLIN, repeat, utc(2026, 11, 1)) == repeat
    assert next_closing((), BERLIN, repeat, utc(2026, 11, 1)) == utc(2026, 11, 1)


def test_next_closing_outside_a_window_is_now() -> None:
    assert next_closing(NIGHT, BERLIN, utc(2026, 7, 1, 12), utc(2026, 8, 1)) == utc(2026, 7, 1, 12)


def test_next_closing_passes_over_adjacent_windows() -> None:
    windows = (TimeWindow(0, 4), TimeWindow(4, 8))
    assert next_closing(windows, BERLIN, utc(2026, 7, 1, 0), utc(2026, 8, 1)) == utc(2026, 7, 1, 6)


def test_a_window_ending_at_24_closes_at_local_midnight() -> None:
    windows = (TimeWindow(20, 24),)
    assert next_closing(windows, KOLKATA, utc(2026, 7, 1, 15), utc(2026, 8, 1)) == utc(2026, 7, 1, 18, 30)


# --- live period --------------------------------------------------------------------------------------------------


def test_live_period_runs_from_local_midnight_of_the_start_date_to_24_00_of_the_end_date() -> None:
    period = LivePeriod.of_dates(date(2026, 10, 25), date(2026, 10, 25), "Europe/Berlin")
    assert period == LivePeriod(utc(2026, 10, 24, 22), utc(2026, 10, 25, 23))
    assert period.contains(utc(2026, 10, 24, 22))
    assert not period.contains(utc(2026, 10, 25, 23))


def test_live_period_of_a_schedule_may_start_at_a_download_after_date() -> None:
    schedule = Schedule(date(2026, 12, 1), date(2026, 12, 5), NIGHT, "Asia/Kolkata")
    assert LivePeriod.of_schedule(schedule) == LivePeriod(schedule.starts_at, schedule.ends_at)
    later = LivePeriod.of_schedule(schedule, download_after=date(2026, 12, 3))
    assert later == LivePeriod(utc(2026, 12, 2, 18, 30), schedule.ends_at)


# --- properties ---------------------------------------------------------------------------------------------------

PROPERTY = settings(max_examples=200, derandomize=True, deadline=None)


@st.composite
def window_sets(draw: st.DrawFn) -> tuple[TimeWindow, ...]:
    """Valid window sets (non-overlapping, at least four hours), the empty set included."""
    windows: list[TimeWindow] = []
    hour = draw(st.integers(0, 20))
    while hour <= 20 and draw(st.booleans()):
        end = draw(st.integers(hour + MIN_WINDOW_HOURS, 24))
        windows.append(TimeWindow(hour, end))
        if end > 20:
            break
        hour = draw(st.integers(end, 20))
    return validate_windows(windows)


zones = st.sampled_from(ZONES).map(ZoneInfo)


@cache
def change_days(zone: ZoneInfo) -> tuple[datetime, ...]:
    """UTC instants of 2025-2027 around which `zone` changes its offset, plus a few ordinary ones."""
    changes = []
    moment = utc(2025, 1, 1)
    while moment < utc(2028, 1, 1):
        later = moment + timedelta(hours=6)
        if moment.astimezone(zone).utcoffset() != later.astimezone(zone).utcoffset():
            changes.append(moment)
        moment = later
    return (*changes, utc(2026, 1, 15), utc(2026, 7, 15))


@st.composite
def instants_near_changes(draw: st.DrawFn, zone: ZoneInfo) -> datetime:
    """Instants within two days of one of the zone's offset changes, where the interesting cases are."""
    around = draw(st.sampled_from(change_days(zone)))
    return around + timedelta(seconds=draw(st.integers(-2 * 86400, 2 * 86400)))


def points_in(start: datetime, end: datetime) -> st.SearchStrategy[datetime]:
    """Instants in [start, end), to the microsecond."""
    span = (end - start) // timedelta(microseconds=1)
    return st.integers(0, span - 1).map(lambda us: start + timedelta(microseconds=us))


@cache
def second_passes(zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    return repeated_stretches(zone, utc(2025, 1, 1), utc(2028, 1, 1))


@PROPERTY
@given(st.data(), zones, window_sets())
def test_next_opening_is_at_or_after_now_open_and_nothing_before_it_is(
    data: st.DataObject, zone: ZoneInfo, windows: tuple[TimeWindow, ...]
) -> None:
    now = data.draw(instants_near_changes(zone))
    until = now + timedelta(days=data.draw(st.integers(1, 4)))
    opening = next_opening(windows, zone, now, until)
    if opening is None:
        assert windows  # without windows everything is open
        return
    assert now <= opening < until
    assert window_open(windows, zone, opening)
    if opening > now:
        assert not window_open(windows, zone, opening - timedelta(microseconds=1))
        for between in data.draw(st.lists(points_in(now, opening), min_size=1, max_size=8)):
            assert not window_open(windows, zone, between), between


@PROPERTY
@given(st.data(), zones, window_sets())
def test_none_means_no_window_opens_before_until(
    data: st.DataObject, zone: ZoneInfo, windows: tuple[TimeWindow, ...]
) -> None:
    now = data.draw(instants_near_changes(zone))
    until = now + timedelta(hours=data.draw(st.integers(1, 30)))
    if next_opening(windows, zone, now, until) is not None:
        return
    probe = now
    while probe < until:
        assert not window_open(windows, zone, probe), probe
        probe += timedelta(minutes=15)


@PROPERTY
@given(st.data(), zones, window_sets())
def test_next_closing_ends_the_open_stretch(
    data: st.DataObject, zone: ZoneInfo, windows: tuple[TimeWindow, ...]
) -> None:
    now = data.draw(instants_near_changes(zone))
    until = now + timedelta(days=2)
    closing = next_closing(windows, zone, now, until)
    assert now <= closing <= until
    if closing < until:
        assert not window_open(windows, zone, closing)
    if closing > now:
        for before in data.draw(st.lists(points_in(now, closing), max_size=8)):
            assert window_open(windows, zone, before), before


@PROPERTY
@given(st.data(), st.sampled_from([z for z in ZONES if z not in ("UTC", "Asia/Kolkata")]).map(ZoneInfo), window_sets())
def test_the_repeated_hour_is_open_once(data: st.DataObject, zone: ZoneInfo, windows: tuple[TimeWindow, ...]) -> None:
    second_pass_start, second_pass_end = data.draw(st.sampled_from(second_passes(zone)))
    repeat = data.draw(points_in(second_pass_start, second_pass_end))
    first = repeat - (second_pass_end - second_pass_start)
    assert is_repeat(repeat, zone) and not is_repeat(first, zone)
    assert wall_time(first, zone) == wall_time(repeat, zone)
    if windows:
        assert not window_open(windows, zone, repeat)
        assert window_open(windows, zone, first) == any(w.contains_hour(wall_time(first, zone).hour) for w in windows)


@PROPERTY
@given(st.data(), zones)
def test_a_wall_time_names_the_first_instant_showing_it_or_later(data: st.DataObject, zone: ZoneInfo) -> None:
    local = wall_time(data.draw(instants_near_changes(zone)), zone)
    local += timedelta(minutes=data.draw(st.integers(-90, 90)))
    instant = instant_of(local, zone)
    assert wall_time(instant, zone) >= local
    assert not is_repeat(instant, zone)
    assert wall_time(instant - timedelta(microseconds=1), zone) < local or is_repeat(
        instant - timedelta(microseconds=1), zone
    )


@PROPERTY
@given(st.sampled_from(ZONES), st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)), st.integers(0, 6))
def test_live_period_of_dates_matches_the_schedule(zone: str, start: date, days: int) -> None:
    schedule = Schedule(start, start + timedelta(days=days), (), zone)
    assert LivePeriod.of_dates(schedule.start_date, schedule.end_date, zone) == LivePeriod(
        schedule.starts_at, schedule.ends_at
    )


@PROPERTY
@given(st.data(), st.sampled_from(ZONES), window_sets())
def test_windows_read_in_the_campaign_zone_agree_with_the_schedule_but_on_a_repeat(
    data: st.DataObject, zone: str, windows: tuple[TimeWindow, ...]
) -> None:
    schedule = Schedule(date(2024, 1, 1), date(2028, 12, 31), windows, zone)
    now = data.draw(instants_near_changes(ZoneInfo(zone)))
    if not is_repeat(now, schedule.zone) or not windows:
        assert window_open(windows, schedule.zone, now) == schedule.window_open(now)
