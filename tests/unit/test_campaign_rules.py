"""Pure campaign, device, account and clock rules (design.md §4-§5): dates, flags, lifecycle, eligibility, parsing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fota.clock import SimulatedClock
from fota.domain.accounts import Account, Token, TokenKind, check_account_name
from fota.domain.campaign import (
    SCHEDULING_LEAD,
    Campaign,
    Firmware,
    Transition,
    check_firmware_matches,
    check_flags,
    check_schedule,
    due_transition,
    parse_date,
)
from fota.domain.devices import Device, check_imei, ineligibility_reason
from fota.domain.errors import InvalidRequest, InvalidState
from fota.domain.protocols import Protocol
from fota.domain.statuses import FINAL_CAMPAIGN_STATUSES, PENDING_DEVICES_ON_FINAL, CampaignStatus, DeviceStatus
from fota.domain.windows import Schedule, TimeWindow

S = CampaignStatus
START, END = date(2026, 12, 1), date(2026, 12, 5)
STARTS_AT, ENDS_AT = datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 6, tzinfo=UTC)
FINAL = sorted(FINAL_CAMPAIGN_STATUSES)
NOT_FINAL = sorted(set(CampaignStatus) - FINAL_CAMPAIGN_STATUSES)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def sched(start: date = START, end: date = END, windows: tuple[TimeWindow, ...] = (), zone: str = "UTC") -> Schedule:
    return Schedule(start, end, windows, zone)


def campaign(status: CampaignStatus = S.QUEUED, schedule: Schedule | None = None, **changes: object) -> Campaign:
    base = Campaign(
        id="c-1",
        account_name="0000123456-00001",
        name="upgrade",
        firmware_name="fw",
        firmware_from="SR1.2.0.0-10512",
        firmware_to="SR1.2.0.0-10657",
        protocol=Protocol.LWM2M,
        make="SEQUANS Communications",
        model="GM01Q",
        schedule=schedule or sched(),
        auto_assign_license=True,
        auto_add_devices=False,
        status=status,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def firmware(**changes: object) -> Firmware:
    base = Firmware(
        name="fw",
        make="SEQUANS Communications",
        model="GM01Q",
        firmware_from="SR1.2.0.0-10512",
        firmware_to="SR1.2.0.0-10657",
        protocol=Protocol.LWM2M,
        release_note="",
        launch_date=utc(2026, 1, 1),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def device(**changes: object) -> Device:
    base = Device(
        device_id="359876543210987",
        account_name="0000123456-00001",
        mdn=None,
        make="SEQUANS Communications",
        model="GM01Q",
        firmware="SR1.2.0.0-10512",
        protocol=Protocol.LWM2M,
        license_assigned=True,
        license_assigned_at=utc(2026, 1, 1),
        created_at=utc(2026, 1, 1),
        updated_at=utc(2026, 1, 1),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


# --- check_schedule -----------------------------------------------------------------------------------------------


def test_schedule_starting_today_is_accepted() -> None:
    assert check_schedule(sched(), utc(2026, 12, 1, 23, 59)) == sched()


def test_schedule_starting_in_the_past_is_rejected() -> None:
    with pytest.raises(InvalidRequest, match="startDate 2026-12-01 is in the past"):
        check_schedule(sched(), utc(2026, 12, 2))


def test_schedule_ending_before_it_starts_is_rejected() -> None:
    with pytest.raises(InvalidRequest, match="endDate 2026-11-30 is before startDate 2026-12-01"):
        check_schedule(sched(end=date(2026, 11, 30)), utc(2026, 11, 1))


def test_schedule_of_one_day_is_accepted() -> None:
    assert check_schedule(sched(end=START), utc(2026, 11, 1)).end_date == START


def test_schedule_ending_in_the_past_is_rejected_even_when_a_past_start_is_allowed() -> None:
    with pytest.raises(InvalidRequest, match="endDate 2026-12-05 is in the past"):
        check_schedule(sched(), utc(2026, 12, 6), allow_past_start=True)


def test_schedule_with_past_start_is_accepted_when_allowed() -> None:
    assert check_schedule(sched(), utc(2026, 12, 3), allow_past_start=True) == sched()


def test_schedule_today_is_judged_in_the_campaign_zone() -> None:
    # 2026-12-01 03:00 UTC is still 2026-11-30 in New York and already 2026-12-01 in Berlin.
    now = utc(2026, 12, 1, 3)
    assert check_schedule(sched(start=date(2026, 11, 30), zone="America/New_York"), now).start_date == date(
        2026, 11, 30
    )
    with pytest.raises(InvalidRequest, match="in the past"):
        check_schedule(sched(start=date(2026, 11, 30), zone="Europe/Berlin"), now)
    with pytest.raises(InvalidRequest, match="in the past"):
        check_schedule(sched(start=date(2026, 11, 30)), now)


def test_schedule_check_validates_and_sorts_windows() -> None:
    checked = check_schedule(sched(windows=(TimeWindow(18, 22), TimeWindow(2, 6))), utc(2026, 11, 1))
    assert checked.windows == (TimeWindow(2, 6), TimeWindow(18, 22))
    with pytest.raises(InvalidRequest, match="overlap"):
        check_schedule(sched(windows=(TimeWindow(2, 8), TimeWindow(6, 12))), utc(2026, 11, 1))


def test_schedule_with_unknown_zone_is_rejected() -> None:
    with pytest.raises(InvalidRequest, match="unknown time zone"):
        check_schedule(sched(zone="Nowhere/Atlantis"), utc(2026, 11, 1))


@pytest.mark.parametrize("text", ["2026-13-01", "01/12/2026", "", "tomorrow"])
def test_parse_date_rejects_what_is_not_yyyy_mm_dd(text: str) -> None:
    with pytest.raises(InvalidRequest, match="startDate"):
        parse_date(text, "startDate")


def test_parse_date_rejects_non_strings_and_accepts_iso_dates() -> None:
    with pytest.raises(InvalidRequest, match="endDate must be a date string"):
        parse_date(20261201, "endDate")
    assert parse_date("2026-12-01", "endDate") == START


# --- firmware and flags -------------------------------------------------------------------------------------------


def test_firmware_matching_from_to_and_protocol_is_accepted() -> None:
    check_firmware_matches(firmware(), "SR1.2.0.0-10512", "SR1.2.0.0-10657", Protocol.LWM2M)


@pytest.mark.parametrize(
    ("firmware_from", "firmware_to", "protocol", "message"),
    [
        ("SR1.2.0.0-99999", "SR1.2.0.0-10657", Protocol.LWM2M, "firmwareFrom 'SR1.2.0.0-99999' does not match"),
        ("SR1.2.0.0-10512", "SR1.2.0.0-99999", Protocol.LWM2M, "firmwareTo 'SR1.2.0.0-99999' does not match"),
        ("SR1.2.0.0-10512", "SR1.2.0.0-10657", Protocol.HTTP, "protocol HTTP does not match"),
    ],
)
def test_firmware_mismatch_is_rejected(firmware_from: str, firmware_to: str, protocol: Protocol, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        check_firmware_matches(firmware(), firmware_from, firmware_to, protocol)


def test_firmware_protocol_mismatch_names_the_firmware_spelling() -> None:
    with pytest.raises(InvalidRequest, match="delivered over OMD-DM"):
        check_firmware_matches(firmware(protocol=Protocol.OMADM), "SR1.2.0.0-10512", "SR1.2.0.0-10657", Protocol.LWM2M)


def test_auto_add_without_auto_assign_is_rejected() -> None:
    with pytest.raises(InvalidRequest, match="autoAddDevicesFlag requires autoAssignLicenseFlag"):
        check_flags(auto_assign_license=False, auto_add_devices=True)


@pytest.mark.parametrize(("auto_assign", "auto_add"), [(False, False), (True, False), (True, True)])
def test_other_flag_combinations_are_accepted(auto_assign: bool, auto_add: bool) -> None:
    check_flags(auto_assign_license=auto_assign, auto_add_devices=auto_add)


# --- delete -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [S.QUEUED, S.PRE_SCHEDULED, S.SCHEDULED])
def test_delete_before_the_start_cancels(status: CampaignStatus) -> None:
    assert campaign(status).status_after_delete(STARTS_AT - timedelta(microseconds=1)) is S.CANCELLED


@pytest.mark.parametrize("now", [STARTS_AT, utc(2026, 12, 3)])
def test_delete_from_the_start_on_aborts(now: datetime) -> None:
    assert campaign(S.SCHEDULED).status_after_delete(now) is S.ABORTED


def test_delete_before_the_local_start_of_a_zoned_campaign_cancels() -> None:
    c = campaign(S.SCHEDULED, sched(zone="America/New_York"))  # starts 2026-12-01 05:00 UTC
    assert c.status_after_delete(utc(2026, 12, 1, 4, 59)) is S.CANCELLED
    assert c.status_after_delete(utc(2026, 12, 1, 5)) is S.ABORTED


@pytest.mark.parametrize("status", FINAL)
def test_delete_of_a_final_campaign_is_an_invalid_state(status: CampaignStatus) -> None:
    with pytest.raises(InvalidState, match=f"already {status.value}") as raised:
        campaign(status).status_after_delete(utc(2026, 11, 1))
    assert raised.value.code == "InvalidCampaignState"


# --- date changes -------------------------------------------------------------------------------------------------


def test_before_the_start_any_valid_schedule_change_is_accepted() -> None:
    proposed = sched(date(2026, 12, 10), date(2026, 12, 20), (TimeWindow(18, 22),), "Europe/Berlin")
    changed = campaign().with_new_schedule(proposed, utc(2026, 11, 1))
    assert changed.schedule == proposed
    assert changed.id == "c-1" and changed.status is S.QUEUED


def test_before_the_start_moving_the_start_into_the_past_is_rejected() -> None:
    with pytest.raises(InvalidRequest, match="in the past"):
        campaign().with_new_schedule(sched(start=date(2026, 10, 31)), utc(2026, 11, 1))


def test_before_the_start_an_invalid_change_is_rejected() -> None:
    with pytest.raises(InvalidRequest, match="before startDate"):
        campaign().with_new_schedule(sched(end=date(2026, 11, 30)), utc(2026, 11, 1))


def test_after_the_start_changing_the_start_date_is_rejected() -> None:
    with pytest.raises(InvalidState, match="only endDate and the time windows can change"):
        campaign(S.SCHEDULED).with_new_schedule(sched(start=date(2026, 12, 2)), utc(2026, 12, 1, 12))


def test_after_the_start_end_date_and_windows_may_change() -> None:
    proposed = sched(end=date(2026, 12, 9), windows=(TimeWindow(20, 24), TimeWindow(0, 4)))
    changed = campaign(S.SCHEDULED).with_new_schedule(proposed, utc(2026, 12, 3))
    assert changed.schedule.end_date == date(2026, 12, 9)
    assert changed.schedule.windows == (TimeWindow(0, 4), TimeWindow(20, 24))


def test_after_the_start_the_end_date_may_not_move_into_the_past() -> None:
    with pytest.raises(InvalidRequest, match="endDate 2026-12-02 is in the past"):
        campaign(S.SCHEDULED).with_new_schedule(sched(end=date(2026, 12, 2)), utc(2026, 12, 3))


def test_after_the_end_no_schedule_change_is_accepted() -> None:
    with pytest.raises(InvalidState, match="can no longer change"):
        campaign(S.SCHEDULED).with_new_schedule(sched(end=date(2026, 12, 9)), ENDS_AT)


@pytest.mark.parametrize("status", FINAL)
def test_final_campaign_schedule_cannot_change(status: CampaignStatus) -> None:
    with pytest.raises(InvalidState, match="can no longer change"):
        campaign(status).with_new_schedule(sched(end=date(2026, 12, 9)), utc(2026, 11, 1))


# --- time-driven transitions --------------------------------------------------------------------------------------


def test_scheduling_lead_is_24_hours() -> None:
    assert timedelta(hours=24) == SCHEDULING_LEAD


def test_queued_campaign_is_next_looked_at_24_hours_before_its_start() -> None:
    assert campaign(S.QUEUED).next_transition_at() == utc(2026, 11, 30)
    assert campaign(S.PRE_SCHEDULED).next_transition_at() == utc(2026, 11, 30)


def test_zoned_queued_campaign_is_next_looked_at_24_hours_before_its_local_start() -> None:
    assert campaign(S.QUEUED, sched(zone="Asia/Kolkata")).next_transition_at() == utc(2026, 11, 29, 18, 30)


def test_scheduled_campaign_is_next_looked_at_when_it_ends() -> None:
    assert campaign(S.SCHEDULED).next_transition_at() == ENDS_AT


@pytest.mark.parametrize("status", FINAL)
def test_final_campaign_has_no_next_transition(status: CampaignStatus) -> None:
    assert campaign(status).next_transition_at() is None


def test_queued_campaign_stays_queued_until_24_hours_before_the_start() -> None:
    assert due_transition(campaign(S.QUEUED), utc(2026, 11, 29, 23, 59, 59)) is None


def test_queued_campaign_is_pre_scheduled_24_hours_before_the_start() -> None:
    transition = due_transition(campaign(S.QUEUED), utc(2026, 11, 30))
    assert transition is not None and transition.to is S.PRE_SCHEDULED and transition.reason


def test_pre_scheduled_campaign_becomes_scheduled_at_once() -> None:
    transition = due_transition(campaign(S.PRE_SCHEDULED), utc(2026, 11, 30))
    assert transition is not None and transition.to is S.SCHEDULED


def test_scheduled_campaign_stays_scheduled_while_it_runs() -> None:
    assert due_transition(campaign(S.SCHEDULED), STARTS_AT) is None
    assert due_transition(campaign(S.SCHEDULED), ENDS_AT - timedelta(microseconds=1)) is None


@pytest.mark.parametrize("status", [S.QUEUED, S.PRE_SCHEDULED, S.SCHEDULED])
def test_campaign_ends_at_24_00_of_its_end_date(status: CampaignStatus) -> None:
    transition = due_transition(campaign(status), ENDS_AT)
    assert transition == Transition(S.ENDED, "the campaign's end date has passed")


@pytest.mark.parametrize("status", FINAL)
def test_final_campaign_has_no_due_transition(status: CampaignStatus) -> None:
    assert due_transition(campaign(status), utc(2030, 1, 1)) is None


def test_lifecycle_walk_reaches_ended_through_each_status_at_its_time() -> None:
    c = campaign(S.QUEUED)
    seen = [c.status]
    now = utc(2026, 11, 1)
    while (at := c.next_transition_at()) is not None:
        now = max(now, at)
        transition = due_transition(c, now)
        assert transition is not None, (c.status, now)
        c = replace(c, status=transition.to)
        seen.append(c.status)
    assert seen == [S.QUEUED, S.PRE_SCHEDULED, S.SCHEDULED, S.ENDED]
    assert now == ENDS_AT


def test_campaign_is_live_until_its_end_unless_final() -> None:
    assert campaign(S.SCHEDULED).is_live(ENDS_AT - timedelta(microseconds=1))
    assert not campaign(S.SCHEDULED).is_live(ENDS_AT)
    assert not campaign(S.CANCELLED).is_live(utc(2026, 11, 1))


# --- statuses and protocols ---------------------------------------------------------------------------------------


def test_campaign_status_parse_accepts_the_sdk_spelling_of_queued() -> None:
    assert CampaignStatus.parse("CampaignRequestQueued") is S.QUEUED
    assert CampaignStatus.parse("CampaignQueued") is S.QUEUED


@pytest.mark.parametrize("status", list(CampaignStatus))
def test_campaign_status_parse_accepts_every_wire_spelling(status: CampaignStatus) -> None:
    assert CampaignStatus.parse(status.value) is status


def test_campaign_status_strings_are_spelled_as_the_contract_says() -> None:
    assert {s.value for s in CampaignStatus} == {
        "CampaignRequestPending",
        "CampaignRequestFailed",
        "CampaignQueued",
        "CampaignPreScheduled",
        "CampaignScheduled",
        "CampaignEnded",
        "CampaignCancelled",
        "CampaignAborted",
        "CampaignFailed",
    }
    assert {s for s in CampaignStatus if s.is_final} == {S.ENDED, S.CANCELLED, S.ABORTED, S.REQUEST_FAILED, S.FAILED}


def test_pending_devices_follow_their_campaign_into_its_final_status() -> None:
    assert PENDING_DEVICES_ON_FINAL[S.ENDED] is DeviceStatus.CAMPAIGN_ENDED
    assert PENDING_DEVICES_ON_FINAL[S.CANCELLED] is DeviceStatus.CAMPAIGN_CANCELLED
    assert PENDING_DEVICES_ON_FINAL[S.ABORTED] is DeviceStatus.CAMPAIGN_ABORTED
    assert {d for d in DeviceStatus if d.is_active} == {DeviceStatus.PENDING, DeviceStatus.IN_PROGRESS}


@pytest.mark.parametrize("text", ["OMA", "OMADM", "OMD-DM", "OMDADM", "OMA-DM", "oma-dm", " omd-dm "])
def test_every_oma_dm_spelling_parses_to_omadm(text: str) -> None:
    assert Protocol.parse(text) is Protocol.OMADM


@pytest.mark.parametrize(
    ("text", "expected"), [("LWM2M", Protocol.LWM2M), ("lwm2m", Protocol.LWM2M), ("http", Protocol.HTTP)]
)
def test_lwm2m_and_http_parse_case_insensitively(text: str, expected: Protocol) -> None:
    assert Protocol.parse(text) is expected


@pytest.mark.parametrize("text", ["unknown", "", "COAP", "LWM2M1"])
def test_unknown_protocol_is_an_invalid_request(text: str) -> None:
    with pytest.raises(InvalidRequest, match="unknown protocol"):
        Protocol.parse(text)


def test_firmware_spelling_of_omadm_is_omd_dm() -> None:
    assert Protocol.OMADM.firmware_spelling == "OMD-DM"
    assert Protocol.LWM2M.firmware_spelling == "LWM2M"
    assert Protocol.HTTP.firmware_spelling == "HTTP"


# --- eligibility --------------------------------------------------------------------------------------------------


def reason(
    dev: Device | None, c: Campaign | None = None, *, other_live: bool = False, obtainable: bool = True
) -> str | None:
    return ineligibility_reason(dev, c or campaign(), in_other_live_campaign=other_live, license_obtainable=obtainable)


def test_matching_licensed_device_is_eligible() -> None:
    assert reason(device()) is None


def test_unlicensed_device_is_eligible_when_a_license_can_be_assigned() -> None:
    assert reason(device(license_assigned=False, license_assigned_at=None), obtainable=True) is None


def test_unknown_device_is_not_eligible() -> None:
    assert reason(None) == "Device not found in this account"


def test_device_of_another_account_is_not_eligible() -> None:
    assert reason(device(account_name="0000999999-00001")) == "Device belongs to another account"


def test_device_of_another_protocol_is_not_eligible() -> None:
    assert reason(device(protocol=Protocol.OMADM)) == "Device protocol OMADM differs from the campaign's LWM2M"


@pytest.mark.parametrize("change", [{"make": "Other"}, {"model": "GM02S"}])
def test_device_of_another_make_or_model_is_not_eligible(change: dict[str, str]) -> None:
    dev = device(**change)
    assert reason(dev) == f"Device is a {dev.make} {dev.model}; the firmware is for SEQUANS Communications GM01Q"


def test_device_on_other_firmware_is_not_eligible() -> None:
    assert reason(device(firmware="SR1.2.0.0-10657")) == (
        "Device runs firmware 'SR1.2.0.0-10657', not the campaign's firmwareFrom 'SR1.2.0.0-10512'"
    )


def test_device_in_another_live_campaign_is_not_eligible() -> None:
    assert reason(device(), other_live=True) == "Device is already in another live campaign"


def test_unlicensed_device_with_empty_pool_is_not_eligible() -> None:
    dev = device(license_assigned=False, license_assigned_at=None)
    assert reason(dev, obtainable=False) == "No FOTA license available in the account's pool"


def test_unlicensed_device_without_auto_assign_is_not_eligible() -> None:
    dev = device(license_assigned=False, license_assigned_at=None)
    c = campaign(auto_assign_license=False)
    assert reason(dev, c, obtainable=False) == "Device has no FOTA license and autoAssignLicenseFlag is false"


def test_licensed_device_needs_no_license_from_the_pool() -> None:
    assert reason(device(), obtainable=False) is None


# --- IMEIs, account names, tokens ---------------------------------------------------------------------------------


def test_fifteen_digit_imei_is_accepted() -> None:
    assert check_imei("359876543210987") == "359876543210987"


@pytest.mark.parametrize("imei", ["35987654321098", "3598765432109870", "35987654321098a", "", " 359876543210987"])
def test_imei_that_is_not_fifteen_digits_is_rejected(imei: str) -> None:
    with pytest.raises(InvalidRequest, match="is not an IMEI of 15 digits"):
        check_imei(imei)


@pytest.mark.parametrize("imei", ["359876543210987\n", "\u0663" * 15])
def test_imei_with_trailing_newline_or_non_ascii_digits_is_rejected(imei: str) -> None:
    with pytest.raises(InvalidRequest):
        check_imei(imei)


@pytest.mark.parametrize("name", ["0000123456-00001", "a", "Acme_Corp.eu", "x" * 64])
def test_valid_account_names_are_accepted(name: str) -> None:
    assert check_account_name(name) == name


@pytest.mark.parametrize("name", ["", "-leading-dash", ".hidden", "has space", "slash/name", "x" * 65, "ümlaut"])
def test_invalid_account_names_are_rejected(name: str) -> None:
    with pytest.raises(InvalidRequest, match="accountName"):
        check_account_name(name)


def test_account_name_with_trailing_newline_is_rejected() -> None:
    with pytest.raises(InvalidRequest):
        check_account_name("acme\n")


def test_free_licenses_never_go_below_zero() -> None:
    assert Account("a", 10, 3, None, utc(2026, 1, 1)).licenses_free == 7
    assert Account("a", 2, 5, None, utc(2026, 1, 1)).licenses_free == 0


def test_token_is_valid_until_it_expires_or_is_revoked() -> None:
    token = Token(TokenKind.ACCESS, "a", "client", utc(2026, 1, 1), utc(2026, 1, 1, 1), None)
    assert token.valid_at(utc(2026, 1, 1, 0, 59, 59))
    assert not token.valid_at(utc(2026, 1, 1, 1))
    assert not replace(token, revoked_at=utc(2026, 1, 1, 0, 30)).valid_at(utc(2026, 1, 1, 0, 31))


# --- simulated clock ----------------------------------------------------------------------------------------------


def test_simulated_clock_stays_where_it_starts() -> None:
    clock = SimulatedClock(utc(2026, 12, 1, 18))
    assert clock.now() == utc(2026, 12, 1, 18)
    assert clock.now() == utc(2026, 12, 1, 18)


def test_simulated_clock_advances_by_the_seconds_given() -> None:
    clock = SimulatedClock(utc(2026, 12, 1, 18))
    assert clock.advance(90.5) == utc(2026, 12, 1, 18, 1, 30, 500000)
    assert clock.advance(0) == utc(2026, 12, 1, 18, 1, 30, 500000)
    assert clock.now() == utc(2026, 12, 1, 18, 1, 30, 500000)


def test_simulated_clock_never_advances_backwards() -> None:
    clock = SimulatedClock(utc(2026, 12, 1, 18))
    with pytest.raises(ValueError, match="never moves backwards"):
        clock.advance(-1)
    assert clock.now() == utc(2026, 12, 1, 18)


def test_simulated_clock_can_be_set_forward_and_answers_in_utc() -> None:
    clock = SimulatedClock(utc(2026, 12, 1, 18))
    berlin = datetime(2026, 12, 2, 9, tzinfo=ZoneInfo("Europe/Berlin"))
    assert clock.set(berlin) == utc(2026, 12, 2, 8)
    assert clock.now().utcoffset() == timedelta(0)
    assert clock.set(utc(2026, 12, 2, 8)) == utc(2026, 12, 2, 8)  # setting the same instant is fine


def test_simulated_clock_is_never_set_backwards() -> None:
    clock = SimulatedClock(utc(2026, 12, 1, 18))
    with pytest.raises(ValueError, match="never moves backwards"):
        clock.set(utc(2026, 12, 1, 17, 59, 59))
    assert clock.now() == utc(2026, 12, 1, 18)


def test_simulated_clock_needs_an_aware_instant() -> None:
    clock = SimulatedClock(utc(2026, 12, 1, 18))
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime(2026, 12, 2, 18))
    assert clock.now() == utc(2026, 12, 1, 18)


def test_simulated_clock_without_start_is_aware_utc() -> None:
    assert SimulatedClock().now().utcoffset() == timedelta(0)


def test_simulated_clock_needs_an_aware_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SimulatedClock(datetime(2026, 12, 1, 18))


def test_simulated_clock_started_in_another_zone_answers_in_utc() -> None:
    clock = SimulatedClock(datetime(2026, 12, 1, 19, tzinfo=ZoneInfo("Europe/Berlin")))
    assert clock.now() == utc(2026, 12, 1, 18)
    assert clock.now().tzinfo is UTC
