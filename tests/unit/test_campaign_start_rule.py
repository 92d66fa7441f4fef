"""A campaign's start decision as the device paths take it (`may_start`, `offer_allowed`, `start_hold`): without
windowZone and blackouts exactly the download windows of before; with them the start rule in the device's zone,
blackouts stopping starts but not offers of attempts already under way."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from fota.domain.blackouts import BlackoutCalendar, BlackoutOverride, RecordedOverride, parse_blackouts
from fota.domain.campaign import Campaign
from fota.domain.protocols import Protocol
from fota.domain.statuses import CampaignStatus
from fota.domain.upgrade import may_start, offer_allowed, start_hold
from fota.domain.windows import Schedule, TimeWindow
from fota.domain.zones import WindowZone

BERLIN, LA = "Europe/Berlin", "America/Los_Angeles"
SCHEDULE = Schedule(date(2031, 3, 1), date(2031, 11, 30), (TimeWindow(2, 6),), BERLIN)


def campaign(**fields: object) -> Campaign:
    return Campaign(
        "c1", "acct", None, "fw", "1.0", "2.0", Protocol.LWM2M, "M", "X", SCHEDULE, True, False,
        CampaignStatus.SCHEDULED, **fields,  # type: ignore[arg-type]
    )  # fmt: skip


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2031, month, day, hour, minute, tzinfo=UTC)


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(2031, 2, 20), max_value=datetime(2031, 12, 10)), st.sampled_from([None, LA]))
def test_without_the_fields_the_decision_is_the_download_window_of_before(moment: datetime, zone: str | None) -> None:
    plain = campaign()
    now = moment.replace(tzinfo=UTC)
    assert plain.start_rule() is None
    assert may_start(plain, now, device_zone=zone) == plain.may_download(now)  # the device's zone plays no part
    assert offer_allowed(plain, now, zone) == plain.may_download(now)
    assert start_hold(plain, now, zone) is None


def test_under_window_zone_device_each_device_starts_in_its_own_window() -> None:
    local = campaign(window_zone=WindowZone.DEVICE)
    assert may_start(local, utc(6, 2, 10, 30), device_zone=LA)  # 03:30 PDT
    assert not may_start(local, utc(6, 2, 10, 30), device_zone=BERLIN)  # 12:30 CEST
    assert not may_start(local, utc(6, 2, 10, 30), device_zone=None)  # no zone of its own: the campaign's, Berlin
    assert may_start(local, utc(6, 2, 0, 30), device_zone=None)  # 02:30 CEST
    assert not may_start(local, utc(6, 2, 10, 30), retry_after=utc(6, 2, 11), device_zone=LA)  # the back-off holds
    hold = start_hold(local, utc(6, 2, 0, 30), LA)  # 17:30 PDT
    assert hold is not None and hold.next_open_at == utc(6, 2, 9)
    # The repeated hour of Berlin's fall-back day is open on its first pass only (ADR 23) under the rule.
    assert may_start(local, utc(10, 26, 0, 30), device_zone=BERLIN)
    assert not may_start(local, utc(10, 26, 1, 30), device_zone=BERLIN)
    assert campaign().may_download(utc(10, 26, 1, 30))  # while the old reading opens both passes


def test_a_blackout_stops_starts_not_offers_and_the_override_lifts_it() -> None:
    zone = ZoneInfo(BERLIN)
    calendar = BlackoutCalendar(parse_blackouts([{"from": "2031-06-01T00:00", "to": "2031-06-04T00:00"}], zone))
    frozen = campaign(blackouts=calendar)
    inside = utc(6, 2, 0, 30)  # 02:30 CEST, in the window and in the blackout
    assert not may_start(frozen, inside)
    assert offer_allowed(frozen, inside, None)
    hold = start_hold(frozen, inside, None)
    assert hold is not None and hold.reason == "in a blackout until 2031-06-04T00:00"
    override = BlackoutOverride(inside + timedelta(hours=1), datetime(2031, 6, 2, 3, 30), "urgent")
    lifted = campaign(blackouts=calendar, blackout_override=RecordedOverride(override, "ops", inside))
    assert may_start(lifted, inside)
    assert not may_start(lifted, inside + timedelta(hours=1))  # lapsed: the blackout holds again
    assert not may_start(lifted, utc(6, 2, 10))  # it opens no window
