"""The dry-run completion estimate (domain/estimate.py): open time per zone with windows and blackouts, the open
time of several zones together, waves with a soak, the bandwidth budget as a rate, and the properties that a
blackout, a soak or a budget never makes the estimate earlier."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from fota.domain.blackouts import Blackout, BlackoutCalendar
from fota.domain.estimate import (
    UPGRADE_ALLOWANCE,
    DownloadRate,
    WaveLoad,
    estimate_waves,
    open_time_reached,
    union_open_time_reached,
)
from fota.domain.start_rule import StartRule
from fota.domain.windows import Schedule, TimeWindow
from fota.domain.zones import WindowZone

UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
LA = ZoneInfo("America/Los_Angeles")
START = date(2030, 6, 1)
NOW = datetime(2030, 5, 31, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def rule(
    windows: tuple[TimeWindow, ...] = (),
    *,
    days: int = 30,
    blackouts: tuple[Blackout, ...] = (),
    window_zone: WindowZone = WindowZone.CAMPAIGN,
) -> StartRule:
    schedule = Schedule(START, START + timedelta(days=days - 1), windows, "UTC")
    return StartRule.of_schedule(schedule, window_zone=window_zone, blackouts=BlackoutCalendar(blackouts))


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2030, 6, 1, tzinfo=UTC) + timedelta(days=day, hours=hour)


def blackout(start: datetime, end: datetime) -> Blackout:
    local = (start.replace(tzinfo=None), end.replace(tzinfo=None))
    return Blackout(start, end, *local, reason="freeze")


def test_open_time_is_counted_inside_windows_only() -> None:
    nightly = rule((TimeWindow(2, 6),))
    # Four hours a night: ten hours of open time is two nights and two hours of the third.
    assert open_time_reached(nightly, UTC_ZONE, NOW, timedelta(hours=10)) == at(2, 4)
    assert open_time_reached(rule(), UTC_ZONE, NOW, timedelta(hours=10)) == at(0, 10)


def test_open_time_skips_a_blackout_and_stops_at_the_end() -> None:
    frozen = rule(blackouts=(blackout(at(0, 5), at(1, 5)),))
    assert open_time_reached(frozen, UTC_ZONE, NOW, timedelta(hours=10)) == at(1, 10)
    assert open_time_reached(rule(days=1), UTC_ZONE, NOW, timedelta(hours=25)) is None


def test_windows_read_in_a_device_zone() -> None:
    local = rule((TimeWindow(2, 6),), window_zone=WindowZone.DEVICE)
    # 02:00 in Los Angeles (PDT, UTC-7) on 1 June is 09:00 UTC.
    assert open_time_reached(local, LA, NOW, timedelta(hours=1)) == at(0, 10)
    assert open_time_reached(local, BERLIN, NOW, timedelta(hours=1)) == at(0, 1)


def test_the_union_of_zones_counts_overlapping_windows_once() -> None:
    local = rule((TimeWindow(2, 6),), window_zone=WindowZone.DEVICE)
    # Berlin's window is 00:00-04:00 UTC, Los Angeles' 09:00-13:00: eight open hours a day between them.
    assert union_open_time_reached(local, [BERLIN, LA], NOW, timedelta(hours=8)) == at(0, 13)
    # Berlin with London (UTC+1 in summer: 01:00-05:00 UTC) is open 00:00-05:00 UTC: five hours, not eight.
    london = ZoneInfo("Europe/London")
    assert union_open_time_reached(local, [BERLIN, london], NOW, timedelta(hours=5)) == at(0, 5)
    assert union_open_time_reached(local, [], NOW, timedelta(hours=5)) == NOW


def test_the_budget_caps_devices_per_hour() -> None:
    assert DownloadRate(10_000, 3_000).open_time_for(6) == timedelta(hours=2)  # three an hour
    assert DownloadRate(1_000, 3_000).open_time_for(2) == timedelta(hours=6)  # three hours each
    assert DownloadRate(1_000, 3_000).open_time_for(0) == timedelta(0)


def test_waves_follow_each_other_after_the_soak() -> None:
    hour = timedelta(hours=1)
    waves = [WaveLoad(2, {"UTC": hour}), WaveLoad(0, {}), WaveLoad(5, {"UTC": 2 * hour})]
    estimate = estimate_waves(rule(), waves, now=NOW, soak=timedelta(minutes=30))
    first_done = at(0) + hour + UPGRADE_ALLOWANCE
    assert estimate.first_opening == at(0)
    assert [(w.starts_at, w.completes_at) for w in estimate.waves] == [
        (at(0), first_done),  # the first instant a device may start, not the moment of the preview
        (first_done + timedelta(minutes=30), first_done + timedelta(minutes=30)),  # empty: nothing to soak
        (first_done + timedelta(minutes=30), first_done + timedelta(minutes=30) + 2 * hour + UPGRADE_ALLOWANCE),
    ]
    assert estimate.completes_at == estimate.waves[-1].completes_at


def test_a_wave_past_the_end_leaves_the_rest_unestimated() -> None:
    waves = [WaveLoad(1, {"UTC": 3 * DAY}), WaveLoad(1, {"UTC": DAY})]
    estimate = estimate_waves(rule(days=2), waves, now=NOW)
    assert [(w.starts_at, w.completes_at) for w in estimate.waves] == [(at(0), None), (None, None)]
    assert estimate.completes_at is None


def test_the_slowest_zone_and_the_budget_decide_a_wave() -> None:
    local = rule((TimeWindow(2, 6),), window_zone=WindowZone.DEVICE)
    wave = [WaveLoad(4, {"Europe/Berlin": timedelta(hours=1), "America/Los_Angeles": timedelta(hours=1)})]
    done = estimate_waves(local, wave, now=NOW).completes_at
    assert done == at(0, 9) + timedelta(hours=1) + UPGRADE_ALLOWANCE  # Los Angeles opens last
    # One device every three hours: twelve hours, of the eight a day the two zones are open between them.
    budgeted = estimate_waves(local, wave, now=NOW, rate=DownloadRate(1_000, 3_000)).completes_at
    assert budgeted == at(1, 4)


zones = st.sampled_from(["UTC", "Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata"])
intervals = st.integers(min_value=1, max_value=72 * 60).map(lambda m: timedelta(minutes=m))
loads = st.lists(
    st.builds(WaveLoad, st.integers(min_value=0, max_value=50), st.dictionaries(zones, intervals, max_size=3)),
    min_size=1,
    max_size=4,
)
window_sets = st.sampled_from([(), (TimeWindow(2, 6),), (TimeWindow(0, 4), TimeWindow(18, 24))])
instants = st.integers(min_value=0, max_value=20 * 24).map(lambda h: at(0, h))


def later_or_same(before: datetime | None, after: datetime | None) -> bool:
    """None is "not before the end": later than any instant."""
    return after is None or (before is not None and after >= before)


@settings(max_examples=60, deadline=None)
@given(loads, window_sets, instants, st.integers(min_value=1, max_value=96))
def test_a_blackout_never_makes_the_estimate_earlier(
    waves: list[WaveLoad], windows: tuple[TimeWindow, ...], starts: datetime, hours: int
) -> None:
    plain = rule(windows, window_zone=WindowZone.DEVICE)
    frozen = rule(
        windows, window_zone=WindowZone.DEVICE, blackouts=(blackout(starts, starts + hours * timedelta(hours=1)),)
    )
    assert later_or_same(
        estimate_waves(plain, waves, now=NOW).completes_at, estimate_waves(frozen, waves, now=NOW).completes_at
    )


@settings(max_examples=60, deadline=None)
@given(loads, window_sets, st.integers(min_value=0, max_value=3000))
def test_a_soak_never_makes_the_estimate_earlier(
    waves: list[WaveLoad], windows: tuple[TimeWindow, ...], minutes: int
) -> None:
    start_rule = rule(windows, window_zone=WindowZone.DEVICE)
    plain = estimate_waves(start_rule, waves, now=NOW).completes_at
    soaked = estimate_waves(start_rule, waves, now=NOW, soak=timedelta(minutes=minutes)).completes_at
    assert later_or_same(plain, soaked)


@settings(max_examples=60, deadline=None)
@given(
    loads,
    window_sets,
    st.integers(min_value=1024, max_value=10**6),
    st.integers(min_value=1, max_value=10**6),
)
def test_a_budget_never_makes_the_estimate_earlier(
    waves: list[WaveLoad], windows: tuple[TimeWindow, ...], budget: int, image: int
) -> None:
    start_rule = rule(windows, window_zone=WindowZone.DEVICE)
    plain = estimate_waves(start_rule, waves, now=NOW).completes_at
    budgeted = estimate_waves(start_rule, waves, now=NOW, rate=DownloadRate(budget, image)).completes_at
    assert later_or_same(plain, budgeted)
    # And a smaller budget never makes it earlier than a larger one.
    smaller = estimate_waves(start_rule, waves, now=NOW, rate=DownloadRate(max(1, budget // 2), image)).completes_at
    assert later_or_same(budgeted, smaller)
