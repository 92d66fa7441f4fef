"""Time windows and campaign schedules (design.md §4): ranges, overlaps, live period, open windows, next opening."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fota.domain.errors import InvalidRequest
from fota.domain.windows import (
    END_OF_TIME,
    MIN_WINDOW_HOURS,
    Schedule,
    TimeWindow,
    parse_time_zone,
    validate_windows,
)

BERLIN = "Europe/Berlin"
# Zones with and without DST, with a half-hour DST shift (Lord Howe) and a southern-hemisphere DST.
ZONES = ["UTC", BERLIN, "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "America/Santiago"]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def schedule(start: date, end: date, *windows: tuple[int, int], zone: str = "UTC") -> Schedule:
    """A schedule with windows given as (startTime, endTime) pairs."""
    return Schedule(start, end, tuple(TimeWindow(s, e) for s, e in windows), zone)


# --- validate_windows ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("start", [0, 12, 20])
def test_window_start_hours_0_to_23_are_accepted(start: int) -> None:
    assert validate_windows([TimeWindow(start, start + 4)]) == (TimeWindow(start, start + 4),)


@pytest.mark.parametrize("start", [-1, 24, 25])
def test_window_start_hour_outside_0_to_23_is_rejected(start: int) -> None:
    with pytest.raises(InvalidRequest, match="startTime"):
        validate_windows([TimeWindow(start, 24)])


@pytest.mark.parametrize("end", [0, 25, 30])
def test_window_end_hour_outside_1_to_24_is_rejected(end: int) -> None:
    with pytest.raises(InvalidRequest, match="endTime"):
        validate_windows([TimeWindow(0, end)])


def test_window_may_end_at_24() -> None:
    assert validate_windows([TimeWindow(20, 24)]) == (TimeWindow(20, 24),)


def test_whole_day_window_is_accepted() -> None:
    assert validate_windows([TimeWindow(0, 24)]) == (TimeWindow(0, 24),)


@pytest.mark.parametrize(("start", "end"), [(0, 3), (10, 13), (21, 24), (5, 5), (8, 2)])
def test_window_shorter_than_four_hours_is_rejected(start: int, end: int) -> None:
    with pytest.raises(InvalidRequest, match="shorter than 4 hours"):
        validate_windows([TimeWindow(start, end)])


def test_window_of_exactly_four_hours_is_accepted() -> None:
    assert MIN_WINDOW_HOURS == 4
    assert validate_windows([TimeWindow(18, 22)]) == (TimeWindow(18, 22),)


def test_overlapping_windows_are_rejected() -> None:
    with pytest.raises(InvalidRequest, match="overlap"):
        validate_windows([TimeWindow(0, 6), TimeWindow(4, 10)])


def test_overlap_is_found_whatever_the_order_given() -> None:
    with pytest.raises(InvalidRequest, match="overlap"):
        validate_windows([TimeWindow(12, 20), TimeWindow(2, 8), TimeWindow(6, 11)])


def test_window_inside_another_is_rejected() -> None:
    with pytest.raises(InvalidRequest, match="overlap"):
        validate_windows([TimeWindow(0, 24), TimeWindow(8, 12)])


def test_duplicate_windows_are_rejected() -> None:
    with pytest.raises(InvalidRequest, match="overlap"):
        validate_windows([TimeWindow(18, 22), TimeWindow(18, 22)])


def test_adjacent_windows_do_not_overlap() -> None:
    assert validate_windows([TimeWindow(4, 8), TimeWindow(0, 4)]) == (TimeWindow(0, 4), TimeWindow(4, 8))


def test_windows_are_returned_sorted_by_start() -> None:
    given_windows = [TimeWindow(18, 22), TimeWindow(0, 4), TimeWindow(9, 14)]
    assert validate_windows(given_windows) == (TimeWindow(0, 4), TimeWindow(9, 14), TimeWindow(18, 22))


def test_no_windows_is_valid() -> None:
    assert validate_windows([]) == ()


def test_window_contains_start_hour_but_not_end_hour() -> None:
    w = TimeWindow(18, 22)
    assert [h for h in range(24) if w.contains_hour(h)] == [18, 19, 20, 21]


def test_unknown_time_zone_is_rejected() -> None:
    with pytest.raises(InvalidRequest, match="unknown time zone"):
        parse_time_zone("Mars/Olympus_Mons")


def test_missing_time_zone_means_utc() -> None:
    assert parse_time_zone(None).key == "UTC"


# --- Schedule: live period ----------------------------------------------------------------------------------------


def test_utc_campaign_starts_at_midnight_of_start_date_and_ends_at_midnight_after_end_date() -> None:
    s = schedule(date(2026, 12, 1), date(2026, 12, 5))
    assert s.starts_at == utc(2026, 12, 1)
    assert s.ends_at == utc(2026, 12, 6)


def test_zoned_campaign_starts_and_ends_at_local_midnight() -> None:
    s = schedule(date(2026, 12, 1), date(2026, 12, 5), zone="America/New_York")
    assert s.starts_at == utc(2026, 12, 1, 5)
    assert s.ends_at == utc(2026, 12, 6, 5)
    assert s.starts_at.tzinfo is UTC and s.ends_at.tzinfo is UTC


def test_campaign_on_spring_forward_day_lasts_23_hours() -> None:
    s = schedule(date(2026, 3, 29), date(2026, 3, 29), zone=BERLIN)
    assert s.starts_at == utc(2026, 3, 28, 23)  # 00:00 CET
    assert s.ends_at == utc(2026, 3, 29, 22)  # 24:00 CEST
    assert s.ends_at - s.starts_at == timedelta(hours=23)


def test_campaign_on_fall_back_day_lasts_25_hours() -> None:
    s = schedule(date(2026, 10, 25), date(2026, 10, 25), zone=BERLIN)
    assert s.starts_at == utc(2026, 10, 24, 22)  # 00:00 CEST
    assert s.ends_at == utc(2026, 10, 25, 23)  # 24:00 CET
    assert s.ends_at - s.starts_at == timedelta(hours=25)


def test_campaign_is_live_from_exactly_midnight_of_start_date() -> None:
    s = schedule(date(2026, 12, 1), date(2026, 12, 5))
    assert not s.is_live(utc(2026, 12, 1) - timedelta(microseconds=1))
    assert s.is_live(utc(2026, 12, 1))


def test_campaign_is_not_live_from_exactly_24_00_of_end_date() -> None:
    s = schedule(date(2026, 12, 1), date(2026, 12, 5))
    assert s.is_live(utc(2026, 12, 6) - timedelta(microseconds=1))
    assert not s.is_live(utc(2026, 12, 6))


def test_zoned_campaign_live_boundaries_follow_its_zone() -> None:
    s = schedule(date(2026, 12, 1), date(2026, 12, 1), zone=BERLIN)
    assert not s.is_live(utc(2026, 11, 30, 22, 59, 59))
    assert s.is_live(utc(2026, 11, 30, 23))
    assert s.is_live(utc(2026, 12, 1, 22, 59, 59))
    assert not s.is_live(utc(2026, 12, 1, 23))


def test_local_today_is_the_date_in_the_campaign_zone() -> None:
    late_evening_in_new_york = utc(2026, 12, 2, 3)
    assert schedule(date(2026, 12, 1), date(2026, 12, 5)).local_today(late_evening_in_new_york) == date(2026, 12, 2)
    s = schedule(date(2026, 12, 1), date(2026, 12, 5), zone="America/New_York")
    assert s.local_today(late_evening_in_new_york) == date(2026, 12, 1)


# --- Schedule: open windows ---------------------------------------------------------------------------------------


def test_window_opens_at_its_start_hour_and_closes_at_its_end_hour() -> None:
    s = schedule(date(2026, 12, 1), date(2026, 12, 5), (18, 22))
    assert not s.window_open(utc(2026, 12, 2, 17, 59, 59, 999999))
    assert s.window_open(utc(2026, 12, 2, 18))
    assert s.window_open(utc(2026, 12, 2, 21, 59, 59, 999999))
    assert not s.window_open(utc(2026, 12, 2, 22))


def test_window_ending_at_24_is_open_until_midnight() -> None:
    s = schedule(date(2026, 12, 1), date(2026, 12, 5), (20, 24))
    assert s.window_open(utc(2026, 12, 2, 23, 59, 59))
    assert not s.window_open(utc(2026, 12, 3, 0))


def test_no_windows_means_open_at_any_hour_while_live() -> None:
    s = schedule(date(2026, 12, 1), date(2026, 12, 1))
    assert all(s.window_open(utc(2026, 12, 1, h)) for h in range(24))


def test_window_is_closed_outside_the_live_period() -> None:
    s = schedule(date(2026, 12, 1), date(2026, 12, 1), (0, 24))
    assert not s.window_open(utc(2026, 11, 30, 12))
    assert not s.window_open(utc(2026, 12, 2, 0))


def test_window_hours_are_local_to_the_campaign_zone() -> None:
    s = schedule(date(2026, 12, 1), date(2026, 12, 5), (18, 22), zone=BERLIN)  # CET = UTC+1
    assert not s.window_open(utc(2026, 12, 2, 16, 59))
    assert s.window_open(utc(2026, 12, 2, 17))
    assert s.window_open(utc(2026, 12, 2, 20, 59))
    assert not s.window_open(utc(2026, 12, 2, 21))


def test_window_hours_follow_the_zone_across_a_dst_change() -> None:
    s = schedule(date(2026, 3, 28), date(2026, 3, 30), (18, 22), zone=BERLIN)
    assert s.window_open(utc(2026, 3, 28, 17))  # 18:00 CET
    assert not s.window_open(utc(2026, 3, 29, 21))  # 23:00 CEST
    assert s.window_open(utc(2026, 3, 29, 16))  # 18:00 CEST
    assert not s.window_open(utc(2026, 3, 29, 15, 59))  # 17:59 CEST


# --- Schedule: next opening ---------------------------------------------------------------------------------------


def test_next_opening_inside_a_window_is_now() -> None:
    s = schedule(date(2026, 12, 1), date(2026, 12, 5), (18, 22))
    now = utc(2026, 12, 2, 19, 30)
    assert s.next_opening(now) == now


def test_next_opening_before_the_first_window_of_the_day_is_its_start() -> None:
    s = schedule(date(2026, 12, 1), date(2026, 12, 5), (2, 6), (18, 22))
    assert s.next_opening(utc(2026, 12, 2, 0, 15)) == utc(2026, 12, 2, 2)


def test_next_opening_between_windows_is_the_next_window_start() -> None:
    s = schedule(date(2026, 12, 1), date(2026, 12, 5), (2, 6), (18, 22))
    assert s.next_opening(utc(2026, 12, 2, 6)) == utc(2026, 12, 2, 18)


def test_next_opening_after_the_last_window_of_the_day_is_the_next_day() -> None:
    s = schedule(date(2026, 12, 1), date(2026, 12, 5), (2, 6), (18, 22))
    assert s.next_opening(utc(2026, 12, 2, 22)) == utc(2026, 12, 3, 2)


def test_next_opening_before_the_start_is_the_first_window_of_the_start_date() -> None:
    s = schedule(date(2026, 12, 1), date(2026, 12, 5), (18, 22))
    assert s.next_opening(utc(2026, 11, 20, 19)) == utc(2026, 12, 1, 18)


def test_next_opening_before_the_start_without_windows_is_the_start() -> None:
    s = schedule(date(2026, 12, 1), date(2026, 12, 5))
    assert s.next_opening(utc(2026, 11, 20, 19)) == utc(2026, 12, 1)


def test_next_opening_without_windows_is_now_at_any_hour() -> None:
    s = schedule(date(2026, 12, 1), date(2026, 12, 5))
    for hour in range(24):
        now = utc(2026, 12, 3, hour, 17)
        assert s.next_opening(now) == now


def test_next_opening_after_the_end_is_none() -> None:
    s = schedule(date(2026, 12, 1), date(2026, 12, 5), (18, 22))
    assert s.next_opening(utc(2026, 12, 6)) is None
    assert s.next_opening(utc(2027, 1, 1)) is None


def test_next_opening_after_the_last_window_of_the_end_date_is_none() -> None:
    s = schedule(date(2026, 12, 1), date(2026, 12, 5), (18, 22))
    assert s.next_opening(utc(2026, 12, 5, 22)) is None


def test_next_opening_uses_the_campaign_zone() -> None:
    s = schedule(date(2026, 12, 1), date(2026, 12, 5), (18, 22), zone="America/New_York")  # EST = UTC-5
    assert s.next_opening(utc(2026, 12, 2, 3, 30)) == utc(2026, 12, 2, 23)


def test_next_opening_of_a_window_starting_in_the_spring_forward_gap_is_when_the_clock_jumps() -> None:
    # On 2026-03-29 Berlin jumps from 02:00 CET to 03:00 CEST: 02:00 never happens, the window opens at 03:00.
    s = schedule(date(2026, 3, 29), date(2026, 3, 29), (2, 6), zone=BERLIN)
    opening = s.next_opening(s.starts_at)
    assert opening == utc(2026, 3, 29, 1)
    assert s.window_open(opening)


def test_next_opening_on_fall_back_day_is_the_first_of_the_repeated_hours() -> None:
    # On 2026-10-25 Berlin's 02:00-03:00 happens twice (CEST, then CET); the window opens the first time.
    s = schedule(date(2026, 10, 25), date(2026, 10, 25), (2, 6), zone=BERLIN)
    assert s.next_opening(s.starts_at) == utc(2026, 10, 25, 0)


# --- properties ---------------------------------------------------------------------------------------------------


@st.composite
def valid_windows(draw: st.DrawFn) -> list[TimeWindow]:
    """Non-overlapping windows of at least four hours, in random order."""
    windows: list[TimeWindow] = []
    hour = draw(st.integers(0, 20))
    while hour <= 20 and draw(st.booleans()):
        end = draw(st.integers(hour + MIN_WINDOW_HOURS, 24))
        windows.append(TimeWindow(hour, end))
        if end > 20:
            break
        hour = draw(st.integers(end, 20))
    return draw(st.permutations(windows))


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    start = draw(st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)))
    end = start + timedelta(days=draw(st.integers(0, 6)))
    windows = validate_windows(draw(valid_windows()))
    return Schedule(start, end, windows, draw(st.sampled_from(ZONES)))


instants = st.datetimes(min_value=datetime(2024, 12, 25), max_value=datetime(2028, 1, 10), timezones=st.just(UTC)).map(
    lambda t: t.astimezone(UTC)
)


def instants_near(s: Schedule) -> st.SearchStrategy[datetime]:
    """Instants from two days before the start to two days after the end, where the interesting cases are."""
    lo, hi = s.starts_at - timedelta(days=2), s.ends_at + timedelta(days=2)
    return st.integers(0, int((hi - lo).total_seconds())).map(lambda sec: lo + timedelta(seconds=sec))


@settings(max_examples=300)
@given(st.data(), schedules())
def test_next_opening_is_never_before_now_and_always_an_open_instant(data: st.DataObject, s: Schedule) -> None:
    now = data.draw(st.one_of(instants_near(s), instants))
    opening = s.next_opening(now)
    if opening is None:
        return
    assert opening >= now
    assert s.window_open(opening)
    assert s.is_live(opening)


@settings(max_examples=300)
@given(st.data(), schedules())
def test_next_opening_is_the_first_open_instant(data: st.DataObject, s: Schedule) -> None:
    now = data.draw(instants_near(s))
    opening = s.next_opening(now)
    if opening is not None and opening > max(now, s.starts_at):
        assert not s.window_open(opening - timedelta(microseconds=1))


@settings(max_examples=200)
@given(st.data(), schedules())
def test_next_opening_is_none_only_when_no_window_opens_before_the_end(data: st.DataObject, s: Schedule) -> None:
    now = data.draw(instants_near(s))
    if s.next_opening(now) is not None:
        return
    # Probe every quarter hour from now to the end: none of those instants is open.
    probe = max(now, s.starts_at)
    while probe < s.ends_at:
        assert not s.window_open(probe), probe
        probe += timedelta(minutes=15)


@given(st.lists(st.builds(TimeWindow, st.integers(0, 23), st.integers(1, 24)), max_size=5))
def test_validate_windows_never_accepts_overlapping_or_short_windows(windows: list[TimeWindow]) -> None:
    try:
        accepted = validate_windows(windows)
    except InvalidRequest:
        return
    assert sorted(accepted) == list(accepted)
    assert sorted(accepted) == sorted(windows)
    for w in accepted:
        assert w.end_hour - w.start_hour >= MIN_WINDOW_HOURS
    for a, b in combinations(accepted, 2):
        assert not {h for h in range(24) if a.contains_hour(h)} & {h for h in range(24) if b.contains_hour(h)}


@given(valid_windows())
def test_validate_windows_accepts_every_set_of_disjoint_long_windows(windows: list[TimeWindow]) -> None:
    assert validate_windows(windows) == tuple(sorted(windows))


@given(
    zone=st.sampled_from(["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "America/Los_Angeles", "Asia/Kolkata"]),
    end=st.dates(min_value=date(9999, 12, 20)),
    windows=st.sampled_from([(), (TimeWindow(8, 12),), (TimeWindow(20, 24),)]),
)
@settings(max_examples=60, deadline=None)
def test_a_schedule_that_ends_on_the_calendar_s_last_days_ends_at_the_end_of_time(
    zone: str, end: date, windows: tuple[TimeWindow, ...]
) -> None:
    # 24:00 of 9999-12-31 is past what a datetime holds: the schedule ends at END_OF_TIME instead of overflowing.
    s = Schedule(date(9999, 12, 1), end, windows, zone)
    assert s.ends_at <= END_OF_TIME
    assert s.ends_at.astimezone(parse_time_zone(zone)) is not None  # representable in its own zone
    for now in (utc(2026, 12, 3), utc(9999, 12, 28, 7), END_OF_TIME - timedelta(seconds=1), END_OF_TIME):
        opening = s.next_opening(now)
        assert opening is None or now <= opening < s.ends_at
        s.window_open(now)


def test_the_end_of_time_holds_a_day_of_the_last_month_in_every_zone() -> None:
    # A campaign ending on 9999-12-27 keeps its own 24:00 in any zone; one ending on the last day ends at END_OF_TIME.
    assert Schedule(date(9999, 1, 1), date(9999, 12, 27), (), "Pacific/Kiritimati").ends_at == utc(9999, 12, 27, 10)
    assert Schedule(date(9999, 1, 1), date(9999, 12, 31), (), "UTC").ends_at == END_OF_TIME
