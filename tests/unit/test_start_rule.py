"""The start rule: no new upgrade starts outside the live period or the device-local window, nor in a blackout
unless overridden; next_open_at, the open stretch, holds, the per-zone grouping, and their properties."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from fota.domain.blackouts import Blackout, BlackoutCalendar, parse_blackout_override, parse_blackouts
from fota.domain.errors import InvalidRequest
from fota.domain.local_windows import LivePeriod, window_open
from fota.domain.start_rule import HoldKind, OpenStretch, StartRule, next_open_by_zone
from fota.domain.wall_clock import is_repeat
from fota.domain.windows import MIN_WINDOW_HOURS, Schedule, TimeWindow, validate_windows
from fota.domain.zones import WindowZone

LA = ZoneInfo("America/Los_Angeles")
BERLIN = ZoneInfo("Europe/Berlin")
KOLKATA = ZoneInfo("Asia/Kolkata")
NIGHT = (TimeWindow(2, 6),)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def rule(
    start: date = date(2030, 12, 20),
    end: date = date(2030, 12, 31),
    *,
    windows: tuple[TimeWindow, ...] = NIGHT,
    blackouts: tuple[tuple[str, str], ...] = (),
    override_until: str | None = None,
    now: datetime = utc(2030, 12, 1),
    window_zone: WindowZone = WindowZone.DEVICE,
) -> StartRule:
    """A Berlin campaign's rule; blackouts and the override are local to Berlin."""
    schedule = Schedule(start, end, windows, "Europe/Berlin")
    calendar = BlackoutCalendar(
        parse_blackouts([{"from": f, "to": t, "reason": "freeze"} for f, t in blackouts], BERLIN)
    )
    override = parse_blackout_override(override_until, "escalation", BERLIN, now) if override_until else None
    return StartRule.of_schedule(schedule, window_zone=window_zone, blackouts=calendar, override=override)


# --- the rule -----------------------------------------------------------------------------------------------------


def test_a_device_may_start_only_inside_its_own_local_window() -> None:
    r = rule()
    assert r.may_start(LA, utc(2030, 12, 21, 10))  # 02:00 PST
    assert not r.may_start(BERLIN, utc(2030, 12, 21, 10))  # 11:00 CET
    assert r.may_start(BERLIN, utc(2030, 12, 21, 1))  # 02:00 CET
    assert r.may_start(KOLKATA, utc(2030, 12, 20, 20, 30))  # 02:00 IST on the 21st


def test_nothing_starts_outside_the_live_period() -> None:
    r = rule()
    assert not r.may_start(KOLKATA, utc(2030, 12, 18, 21))  # 02:30 IST on the 19th, before the start date
    assert r.next_open_at(KOLKATA, utc(2030, 12, 1)) == utc(2030, 12, 19, 23)  # Berlin's 00:00 on the 20th: 04:30 IST
    assert r.next_open_at(LA, utc(2030, 12, 31, 14)) is None  # 06:00 PST on the 31st; Berlin's end comes first


def test_next_open_at_differs_per_zone_and_is_the_window_start() -> None:
    r = rule()
    now = utc(2030, 12, 21, 15)  # 07:00 PST, 16:00 CET, 20:30 IST
    assert r.next_open_at(BERLIN, now) == utc(2030, 12, 22, 1)
    assert r.next_open_at(LA, now) == utc(2030, 12, 22, 10)
    assert r.next_open_at(KOLKATA, now) == utc(2030, 12, 21, 20, 30)
    assert r.next_open_at(LA, utc(2030, 12, 21, 12)) == utc(2030, 12, 21, 12)  # 04:00 PST: open now


def test_no_new_upgrade_starts_in_a_blackout() -> None:
    r = rule(blackouts=(("2030-12-24T00:00", "2030-12-27T00:00"),))
    assert not r.may_start(BERLIN, utc(2030, 12, 25, 1))  # 02:00 CET, inside the blackout
    assert r.may_start(BERLIN, utc(2030, 12, 23, 1))
    assert r.may_start(BERLIN, utc(2030, 12, 27, 1))


def test_a_blackout_pushes_next_open_at_to_the_first_window_after_its_end() -> None:
    r = rule(blackouts=(("2030-12-24T00:00", "2030-12-27T00:00"),))
    assert r.next_open_at(BERLIN, utc(2030, 12, 23, 15)) == utc(2030, 12, 27, 1)  # 02:00 CET on the 27th
    assert r.next_open_at(LA, utc(2030, 12, 23, 15)) == utc(2030, 12, 27, 10)  # 02:00 PST on the 27th


def test_a_blackout_ending_inside_a_window_opens_it_at_the_blackout_end() -> None:
    r = rule(blackouts=(("2030-12-24T00:00", "2030-12-25T04:00"),))
    assert r.next_open_at(BERLIN, utc(2030, 12, 24, 12)) == utc(2030, 12, 25, 3)  # 04:00 CET


def test_chained_blackouts_are_passed_over_together() -> None:
    r = rule(
        blackouts=(
            ("2030-12-24T00:00", "2030-12-25T00:00"),
            ("2030-12-25T00:00", "2030-12-28T00:00"),
        )
    )
    assert r.next_open_at(BERLIN, utc(2030, 12, 23, 12)) == utc(2030, 12, 28, 1)


def test_a_blackout_to_the_end_leaves_no_opening() -> None:
    r = rule(blackouts=(("2030-12-24T00:00", "2031-01-01T00:00"),))
    assert r.next_open_at(BERLIN, utc(2030, 12, 23, 12)) is None


def test_an_override_in_force_lets_upgrades_start_in_a_blackout() -> None:
    now = utc(2030, 12, 24, 12)
    r = rule(blackouts=(("2030-12-24T00:00", "2030-12-27T00:00"),), override_until="2030-12-25T06:00", now=now)
    assert r.may_start(BERLIN, utc(2030, 12, 25, 1))  # 02:00 CET on the 25th, overridden
    assert r.next_open_at(BERLIN, now) == utc(2030, 12, 25, 1)
    assert not r.may_start(BERLIN, utc(2030, 12, 26, 1))  # the override has lapsed
    assert r.next_open_at(BERLIN, utc(2030, 12, 25, 6)) == utc(2030, 12, 27, 1)


def test_an_override_does_not_open_a_window() -> None:
    now = utc(2030, 12, 24, 12)
    r = rule(blackouts=(("2030-12-24T00:00", "2030-12-27T00:00"),), override_until="2030-12-25T06:00", now=now)
    assert not r.may_start(BERLIN, now)


def test_without_window_zone_device_every_device_uses_the_campaign_zone() -> None:
    r = rule(window_zone=WindowZone.CAMPAIGN)
    assert r.zone_for("America/Los_Angeles") == BERLIN
    assert r.zone_for(None) == BERLIN
    d = rule()
    assert d.zone_for("America/Los_Angeles") == LA
    assert d.zone_for(None) == BERLIN


# --- the open stretch ---------------------------------------------------------------------------------------------


def test_the_open_stretch_is_the_window_in_the_device_zone() -> None:
    r = rule()
    assert r.open_stretch(LA, utc(2030, 12, 21, 15)) == OpenStretch(utc(2030, 12, 22, 10), utc(2030, 12, 22, 14))
    now = utc(2030, 12, 22, 11)
    assert r.open_stretch(LA, now) == OpenStretch(now, utc(2030, 12, 22, 14))


def test_the_open_stretch_closes_where_a_blackout_begins() -> None:
    r = rule(blackouts=(("2030-12-24T03:00", "2030-12-24T12:00"),))
    assert r.open_stretch(BERLIN, utc(2030, 12, 23, 12)) == OpenStretch(utc(2030, 12, 24, 1), utc(2030, 12, 24, 2))


def test_the_open_stretch_closes_where_the_override_lapses_in_a_blackout() -> None:
    now = utc(2030, 12, 24, 12)
    r = rule(blackouts=(("2030-12-24T00:00", "2030-12-27T00:00"),), override_until="2030-12-25T04:00", now=now)
    assert r.open_stretch(BERLIN, now) == OpenStretch(utc(2030, 12, 25, 1), utc(2030, 12, 25, 3))


def test_the_open_stretch_closes_at_the_end_of_the_live_period() -> None:
    # 12:00-24:00 PST on the 21st is 20:00-08:00 UTC; the Berlin campaign ends at 23:00 UTC.
    r = rule(end=date(2030, 12, 21), windows=(TimeWindow(12, 24),))
    assert r.open_stretch(LA, utc(2030, 12, 21, 12)) == OpenStretch(utc(2030, 12, 21, 20), utc(2030, 12, 21, 23))


def test_no_open_stretch_after_the_end() -> None:
    assert rule().open_stretch(BERLIN, utc(2031, 1, 1)) is None


# --- holds --------------------------------------------------------------------------------------------------------


def test_hold_says_why_and_until_when() -> None:
    r = rule(blackouts=(("2030-12-24T00:00", "2030-12-27T00:00"),))
    assert r.hold(BERLIN, utc(2030, 12, 21, 1)) is None
    outside = r.hold(LA, utc(2030, 12, 21, 1))
    assert outside is not None and outside.kind is HoldKind.OUTSIDE_WINDOW
    assert outside.next_open_at == utc(2030, 12, 21, 10)
    assert outside.reason == "no time window is open in America/Los_Angeles; next opens 2030-12-21T10:00:00+00:00"
    blacked = r.hold(BERLIN, utc(2030, 12, 25, 1))
    assert blacked is not None and blacked.kind is HoldKind.BLACKOUT
    assert blacked.next_open_at == utc(2030, 12, 27, 1)
    assert blacked.reason == "in a blackout until 2030-12-27T00:00: freeze"
    early = r.hold(BERLIN, utc(2030, 12, 1))
    assert early is not None and early.kind is HoldKind.NOT_LIVE and early.next_open_at == utc(2030, 12, 20, 1)
    late = r.hold(BERLIN, utc(2031, 1, 2))
    assert late is not None and late.next_open_at is None


def test_a_hold_after_the_last_window_says_none_is_left() -> None:
    hold = rule().hold(BERLIN, utc(2030, 12, 31, 12))
    assert hold is not None and hold.reason == "no time window is open in Europe/Berlin; none is left"


# --- grouping by zone ---------------------------------------------------------------------------------------------


def test_next_open_at_is_computed_per_distinct_zone() -> None:
    r = rule()
    now = utc(2030, 12, 21, 15)
    zones = ["America/Los_Angeles", "Europe/Berlin", None, "Asia/Kolkata"] * 1000
    assert next_open_by_zone(r, zones, now) == {
        "America/Los_Angeles": utc(2030, 12, 22, 10),
        "Europe/Berlin": utc(2030, 12, 22, 1),
        None: utc(2030, 12, 22, 1),  # no zone of its own: the campaign's
        "Asia/Kolkata": utc(2030, 12, 21, 20, 30),
    }


def test_under_window_zone_campaign_every_zone_has_the_campaign_value() -> None:
    r = rule(window_zone=WindowZone.CAMPAIGN)
    grouped = next_open_by_zone(r, ["America/Los_Angeles", "Asia/Kolkata", None], utc(2030, 12, 21, 15))
    assert set(grouped.values()) == {utc(2030, 12, 22, 1)}


# --- properties ---------------------------------------------------------------------------------------------------

PROPERTY = settings(max_examples=150, derandomize=True, deadline=None)
ZONES = ["UTC", "Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata", "Australia/Lord_Howe", "America/Santiago"]
# Around the 2030 US and EU changes and an ordinary stretch.
AROUND = [datetime(2030, 3, 10), datetime(2030, 3, 31), datetime(2030, 10, 27), datetime(2030, 11, 3)]


@st.composite
def window_sets(draw: st.DrawFn) -> tuple[TimeWindow, ...]:
    windows: list[TimeWindow] = []
    hour = draw(st.integers(0, 20))
    while hour <= 20 and draw(st.booleans()):
        end = draw(st.integers(hour + MIN_WINDOW_HOURS, 24))
        windows.append(TimeWindow(hour, end))
        if end > 20:
            break
        hour = draw(st.integers(end, 20))
    return validate_windows(windows)


@st.composite
def rules(draw: st.DrawFn) -> StartRule:
    """A campaign in any zone around a DST change, with up to four blackouts (some overlapping) and maybe an
    override issued at the campaign's start."""
    campaign_zone = draw(st.sampled_from(ZONES))
    zone = ZoneInfo(campaign_zone)
    start = draw(st.sampled_from(AROUND)).date() - timedelta(days=draw(st.integers(0, 3)))
    schedule = Schedule(start, start + timedelta(days=draw(st.integers(0, 6))), draw(window_sets()), campaign_zone)
    blackouts = []
    for _ in range(draw(st.integers(0, 4))):
        local_from = datetime.combine(start, datetime.min.time()) + timedelta(minutes=15 * draw(st.integers(-8, 800)))
        local_to = local_from + timedelta(minutes=15 * draw(st.integers(1, 200)))
        with contextlib.suppress(InvalidRequest):  # one inside a skipped hour
            blackouts.append(Blackout.of_local(local_from, local_to, None, zone))
    override = None
    if draw(st.booleans()):
        local_until = datetime.combine(start, datetime.min.time()) + timedelta(hours=draw(st.integers(2, 150)))
        override = parse_blackout_override(local_until.strftime("%Y-%m-%dT%H:%M"), "why", zone, schedule.starts_at)
    return StartRule.of_schedule(
        schedule, window_zone=WindowZone.DEVICE, blackouts=BlackoutCalendar(tuple(blackouts)), override=override
    )


def instants_around(r: StartRule) -> st.SearchStrategy[datetime]:
    """Instants from a day before the campaign to a day after it, often within hours of a blackout's edge."""
    lo, hi = r.period.starts_at - timedelta(days=1), r.period.ends_at + timedelta(days=1)
    anywhere = st.integers(0, (hi - lo) // timedelta(seconds=1)).map(lambda s: lo + timedelta(seconds=s))
    edges = [edge for b in r.blackouts.blackouts for edge in (b.starts_at, b.ends_at)]
    if not edges:
        return anywhere
    near_edge = st.builds(lambda e, s: e + timedelta(seconds=s), st.sampled_from(edges), st.integers(-6 * 3600, 3600))
    return st.one_of(anywhere, near_edge)


def points_in(start: datetime, end: datetime) -> st.SearchStrategy[datetime]:
    return st.integers(0, (end - start) // timedelta(microseconds=1) - 1).map(
        lambda us: start + timedelta(microseconds=us)
    )


device_zones = st.sampled_from(ZONES).map(ZoneInfo)


@PROPERTY
@given(st.data(), rules(), device_zones)
def test_a_blackout_instant_is_never_open_without_an_override(
    data: st.DataObject, r: StartRule, zone: ZoneInfo
) -> None:
    now = data.draw(instants_around(r))
    if r.blackouts.in_blackout(now) and not (r.override and r.override.in_force(now)):
        assert not r.may_start(zone, now)
    opening = r.next_open_at(zone, now)
    if opening is not None:
        assert not r.blackouts.in_blackout(opening) or (r.override is not None and r.override.in_force(opening))


@PROPERTY
@given(st.data(), rules(), device_zones)
def test_next_open_at_is_the_first_instant_a_start_is_allowed(
    data: st.DataObject, r: StartRule, zone: ZoneInfo
) -> None:
    now = data.draw(instants_around(r))
    opening = r.next_open_at(zone, now)
    if opening is None:
        probe = now
        while probe < r.period.ends_at:
            assert not r.may_start(zone, probe), probe
            probe += timedelta(minutes=15)
        return
    assert now <= opening < r.period.ends_at
    assert r.may_start(zone, opening)
    assert window_open(r.windows, zone, opening) and r.period.contains(opening)
    if opening > now:
        assert not r.may_start(zone, opening - timedelta(microseconds=1))
        for between in data.draw(st.lists(points_in(now, opening), min_size=1, max_size=8)):
            assert not r.may_start(zone, between), between


@PROPERTY
@given(st.data(), rules(), device_zones)
def test_the_open_stretch_is_open_throughout_and_closed_at_its_close(
    data: st.DataObject, r: StartRule, zone: ZoneInfo
) -> None:
    stretch = r.open_stretch(zone, data.draw(instants_around(r)))
    if stretch is None:
        return
    assert stretch.opens_at < stretch.closes_at <= r.period.ends_at
    assert not r.may_start(zone, stretch.closes_at)
    for inside in data.draw(st.lists(points_in(stretch.opens_at, stretch.closes_at), min_size=1, max_size=8)):
        assert r.may_start(zone, inside), inside


@PROPERTY
@given(st.data(), rules(), device_zones)
def test_the_second_pass_of_a_repeated_hour_never_starts_an_upgrade(
    data: st.DataObject, r: StartRule, zone: ZoneInfo
) -> None:
    now = data.draw(instants_around(r))
    if is_repeat(now, zone) and r.windows:
        assert not r.may_start(zone, now)


@PROPERTY
@given(st.data(), rules())
def test_grouping_gives_each_zone_what_a_device_of_it_would_get(data: st.DataObject, r: StartRule) -> None:
    now = data.draw(instants_around(r))
    device_zone_names = data.draw(st.lists(st.one_of(st.none(), st.sampled_from(ZONES)), max_size=12))
    grouped = next_open_by_zone(r, device_zone_names, now)
    assert set(grouped) == set(device_zone_names)
    for name in device_zone_names:
        assert grouped[name] == r.next_open_at(r.zone_for(name), now)


def test_the_live_period_of_the_rule_is_the_schedule_s() -> None:
    schedule = Schedule(date(2030, 12, 20), date(2030, 12, 31), NIGHT, "Europe/Berlin")
    assert StartRule.of_schedule(schedule).period == LivePeriod(schedule.starts_at, schedule.ends_at)
