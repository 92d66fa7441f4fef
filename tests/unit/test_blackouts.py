"""Blackout calendars and their override (fota-extensions §1 `blackouts`, §2 `blackouts/override`): parsing in the
campaign's zone, the calendar's questions, and the override's rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fota.domain.blackouts import (
    MAX_BLACKOUTS,
    NO_BLACKOUTS,
    Blackout,
    BlackoutCalendar,
    BlackoutOverride,
    parse_blackout_override,
    parse_blackouts,
)
from fota.domain.errors import InvalidRequest

BERLIN = ZoneInfo("Europe/Berlin")
LA = ZoneInfo("America/Los_Angeles")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def calendar(*spans: tuple[str, str], zone: ZoneInfo = BERLIN) -> BlackoutCalendar:
    return BlackoutCalendar(parse_blackouts([{"from": f, "to": t} for f, t in spans], zone))


# --- parsing ------------------------------------------------------------------------------------------------------


def test_a_blackout_is_a_local_interval_in_the_campaign_zone() -> None:
    (b,) = parse_blackouts([{"from": "2030-12-24T00:00", "to": "2030-12-27T00:00", "reason": "holiday freeze"}], BERLIN)
    assert (b.starts_at, b.ends_at) == (utc(2030, 12, 23, 23), utc(2030, 12, 26, 23))
    assert b.reason == "holiday freeze"
    assert b.local_fields == {"from": "2030-12-24T00:00", "to": "2030-12-27T00:00", "reason": "holiday freeze"}


def test_the_same_local_blackout_is_a_different_utc_interval_in_another_zone() -> None:
    (b,) = parse_blackouts([{"from": "2030-12-24T00:00", "to": "2030-12-27T00:00"}], LA)
    assert (b.starts_at, b.ends_at) == (utc(2030, 12, 24, 8), utc(2030, 12, 27, 8))
    assert b.reason is None


def test_absent_blackouts_are_none() -> None:
    assert parse_blackouts(None, BERLIN) == ()
    assert parse_blackouts([], BERLIN) == ()


def test_blackouts_are_returned_in_order_of_start() -> None:
    parsed = parse_blackouts(
        [
            {"from": "2030-12-30T00:00", "to": "2030-12-31T00:00"},
            {"from": "2030-12-24T00:00", "to": "2030-12-25T00:00"},
        ],
        BERLIN,
    )
    assert [b.local_fields["from"] for b in parsed] == ["2030-12-24T00:00", "2030-12-30T00:00"]


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"to": "2030-12-27T00:00"}, r"^blackouts\[0\]\.from None must be a local time"),
        ({"from": "2030-12-24T00:00"}, r"^blackouts\[0\]\.to None must be a local time"),
        ({"from": "2030-12-24", "to": "2030-12-27T00:00"}, r"^blackouts\[0\]\.from '2030-12-24' must be"),
        ({"from": "2030-12-24T00:00Z", "to": "2030-12-27T00:00"}, r"^blackouts\[0\]\.from .* must be a local time"),
        ({"from": "2030-12-24T00:00", "to": "2030-13-01T00:00"}, r"^blackouts\[0\]\.to .* is not a valid local"),
        ({"from": "2030-12-27T00:00", "to": "2030-12-24T00:00"}, r"^blackouts\[0\]\.to .* must be after from"),
        ({"from": "2030-12-24T00:00", "to": "2030-12-24T00:00"}, r"^blackouts\[0\]\.to .* must be after from"),
        ({"from": "2030-12-24T00:00", "to": "2030-12-27T00:00", "reason": ""}, r"^blackouts\[0\]\.reason is"),
        ({"from": "2030-12-24T00:00", "to": "2030-12-27T00:00", "reason": 5}, r"^blackouts\[0\]\.reason is"),
    ],
)
def test_invalid_blackouts_are_rejected_naming_the_field(item: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        parse_blackouts([item], BERLIN)


def test_a_blackout_past_the_last_instant_is_refused_and_one_just_before_it_kept() -> None:
    # 23:00 of 9999-12-31 at UTC-11 is past what a datetime holds: a 400, not an overflow.
    pago_pago = ZoneInfo("Pacific/Pago_Pago")
    with pytest.raises(InvalidRequest, match=r"^blackouts\[0\] reaches past 9999-12-31"):
        parse_blackouts([{"from": "9999-12-31T00:00", "to": "9999-12-31T23:00"}], pago_pago)
    (kept,) = parse_blackouts([{"from": "9999-12-31T00:00", "to": "9999-12-31T12:00"}], pago_pago)
    assert kept.ends_at == utc(9999, 12, 31, 23)


def test_the_failing_entry_is_named_by_its_index() -> None:
    good = {"from": "2030-12-24T00:00", "to": "2030-12-27T00:00"}
    with pytest.raises(InvalidRequest, match=r"^blackouts\[2\]\.from"):
        parse_blackouts([good, good, {"from": "soon", "to": "2030-12-27T00:00"}], BERLIN)


@pytest.mark.parametrize("value", ["2030-12-24T00:00", {"from": "2030-12-24T00:00"}, 5])
def test_blackouts_must_be_a_list(value: object) -> None:
    with pytest.raises(InvalidRequest, match=r"^blackouts must be a list"):
        parse_blackouts(value, BERLIN)


def test_a_blackout_entry_must_be_an_object() -> None:
    with pytest.raises(InvalidRequest, match=r"^blackouts\[0\] must be an object"):
        parse_blackouts(["2030-12-24T00:00/2030-12-27T00:00"], BERLIN)


def test_the_number_of_blackouts_is_bounded() -> None:
    item = {"from": "2030-12-24T00:00", "to": "2030-12-27T00:00"}
    assert len(parse_blackouts([item] * MAX_BLACKOUTS, BERLIN)) == MAX_BLACKOUTS
    with pytest.raises(InvalidRequest, match="at most 100"):
        parse_blackouts([item] * (MAX_BLACKOUTS + 1), BERLIN)


def test_a_blackout_starting_in_the_skipped_hour_starts_when_the_clock_jumps() -> None:
    (b,) = parse_blackouts([{"from": "2030-03-31T02:30", "to": "2030-03-31T05:00"}], BERLIN)
    assert b.starts_at == utc(2030, 3, 31, 1)  # 03:00 CEST


def test_a_blackout_inside_the_skipped_hour_is_rejected() -> None:
    with pytest.raises(InvalidRequest, match=r"^blackouts\[0\] lies entirely in the hour that Europe/Berlin"):
        parse_blackouts([{"from": "2030-03-31T02:10", "to": "2030-03-31T02:50"}], BERLIN)


def test_a_blackout_ending_in_the_repeated_hour_ends_on_its_first_pass() -> None:
    (b,) = parse_blackouts([{"from": "2030-10-27T00:00", "to": "2030-10-27T02:30"}], BERLIN)
    assert b.ends_at == utc(2030, 10, 27, 0, 30)  # 02:30 CEST, not CET


def test_a_stored_blackout_is_rebuilt_from_its_local_times() -> None:
    (b,) = parse_blackouts([{"from": "2030-12-24T00:00", "to": "2030-12-27T00:00", "reason": "r"}], BERLIN)
    assert Blackout.of_local(b.local_from, b.local_to, b.reason, BERLIN) == b


# --- the calendar -------------------------------------------------------------------------------------------------


def test_in_blackout_from_its_start_to_just_before_its_end() -> None:
    cal = calendar(("2030-12-24T00:00", "2030-12-27T00:00"))
    assert not cal.in_blackout(utc(2030, 12, 23, 22, 59))
    assert cal.in_blackout(utc(2030, 12, 23, 23))
    assert cal.in_blackout(utc(2030, 12, 26, 22, 59))
    assert not cal.in_blackout(utc(2030, 12, 26, 23))
    assert not NO_BLACKOUTS.in_blackout(utc(2030, 12, 25))


def test_covering_names_the_blackout_in_force() -> None:
    cal = BlackoutCalendar(
        parse_blackouts([{"from": "2030-12-24T00:00", "to": "2030-12-27T00:00", "reason": "holidays"}], BERLIN)
    )
    covering = cal.covering(utc(2030, 12, 25))
    assert covering is not None and covering.reason == "holidays"
    assert cal.covering(utc(2030, 12, 28)) is None


def test_clear_at_follows_overlapping_and_touching_blackouts_to_their_common_end() -> None:
    cal = calendar(
        ("2030-12-24T00:00", "2030-12-26T00:00"),
        ("2030-12-25T00:00", "2030-12-27T00:00"),  # overlaps the first
        ("2030-12-27T00:00", "2030-12-28T00:00"),  # touches the second
        ("2030-12-30T00:00", "2030-12-31T00:00"),  # apart
    )
    assert cal.clear_at(utc(2030, 12, 24, 12)) == utc(2030, 12, 27, 23)
    assert cal.clear_at(utc(2030, 12, 29)) == utc(2030, 12, 29)
    assert cal.clear_at(utc(2030, 12, 30, 12)) == utc(2030, 12, 30, 23)


def test_clear_at_does_not_depend_on_the_order_given() -> None:
    spans = [("2030-12-25T00:00", "2030-12-27T00:00"), ("2030-12-24T00:00", "2030-12-26T00:00")]
    assert calendar(*spans).clear_at(utc(2030, 12, 24, 12)) == calendar(*reversed(spans)).clear_at(
        utc(2030, 12, 24, 12)
    )
    unsorted = BlackoutCalendar(tuple(reversed(calendar(*spans).blackouts)))
    assert unsorted.clear_at(utc(2030, 12, 24, 12)) == utc(2030, 12, 26, 23)


def test_next_start_after_and_overlaps() -> None:
    cal = calendar(("2030-12-24T00:00", "2030-12-27T00:00"), ("2030-12-30T00:00", "2030-12-31T00:00"))
    assert cal.next_start_after(utc(2030, 12, 1)) == utc(2030, 12, 23, 23)
    assert cal.next_start_after(utc(2030, 12, 25)) == utc(2030, 12, 29, 23)
    assert cal.next_start_after(utc(2030, 12, 31)) is None
    assert cal.overlaps(utc(2030, 12, 26), utc(2030, 12, 28))
    assert not cal.overlaps(utc(2030, 12, 27), utc(2030, 12, 29))
    assert not cal.overlaps(utc(2030, 12, 20), utc(2030, 12, 23, 23))  # ends as the first begins


# --- the override -------------------------------------------------------------------------------------------------

NOW = utc(2030, 12, 24, 12)


def test_an_override_is_in_force_until_its_local_until() -> None:
    override = parse_blackout_override("2030-12-25T06:00", "customer escalation", BERLIN, NOW)
    assert override == BlackoutOverride(utc(2030, 12, 25, 5), datetime(2030, 12, 25, 6), "customer escalation")
    assert override.in_force(NOW)
    assert override.in_force(utc(2030, 12, 25, 4, 59))
    assert not override.in_force(utc(2030, 12, 25, 5))


@pytest.mark.parametrize("reason", [None, "", "   ", 5])
def test_an_override_needs_a_reason(reason: object) -> None:
    with pytest.raises(InvalidRequest, match=r"^reason is required"):
        parse_blackout_override("2030-12-25T06:00", reason, BERLIN, NOW)


def test_an_override_reason_is_bounded_and_trimmed() -> None:
    assert parse_blackout_override("2030-12-25T06:00", "  why  ", BERLIN, NOW).reason == "why"
    with pytest.raises(InvalidRequest, match="longer than 500"):
        parse_blackout_override("2030-12-25T06:00", "x" * 501, BERLIN, NOW)


@pytest.mark.parametrize("until", [None, "2030-12-25", "tomorrow", "2030-12-25T06:00:00"])
def test_an_override_until_is_a_local_minute(until: object) -> None:
    with pytest.raises(InvalidRequest, match=r"^until .* must be a local time YYYY-MM-DDTHH:MM"):
        parse_blackout_override(until, "why", BERLIN, NOW)


def test_an_override_until_must_be_in_the_future() -> None:
    with pytest.raises(InvalidRequest, match=r"^until 2030-12-24T13:00 \(Europe/Berlin\) is not in the future"):
        parse_blackout_override("2030-12-24T13:00", "why", BERLIN, NOW)  # 12:00 UTC
    assert parse_blackout_override("2030-12-24T13:01", "why", BERLIN, NOW).until == NOW + timedelta(minutes=1)
