"""The bandwidth budget: reading bytesPerHour, the UTC clock hour a reservation counts in, the all-or-nothing
reservation and its wait (reason and Max-Age), admission of a start, the per-block allowance, and (by property) that
no clock hour is ever granted, or sent, more than the budget, whatever the reservations and however many processes
serve the blocks."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fota.domain.bandwidth import (
    HOUR,
    Allowance,
    BandwidthBudget,
    BudgetWait,
    Grant,
    budget_hour,
)
from fota.domain.errors import InvalidRequest

TEN = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)
BUDGET = BandwidthBudget(10_000)


# --- reading the budget ---


def test_the_contracts_example_reads_and_writes_back() -> None:
    budget = BandwidthBudget.from_plain({"bytesPerHour": 5_000_000_000})
    assert budget == BandwidthBudget(5_000_000_000)
    assert BandwidthBudget.from_plain(budget.to_plain()) == budget


@pytest.mark.parametrize(
    ("plain", "message"),
    [
        (5000, "bandwidth must be an object"),
        ({}, "bandwidth.bytesPerHour must be"),
        ({"bytesPerHour": None}, "bandwidth.bytesPerHour must be"),
        ({"bytesPerHour": 0}, "bandwidth.bytesPerHour must be"),
        ({"bytesPerHour": -1}, "bandwidth.bytesPerHour must be"),
        ({"bytesPerHour": 1023}, "bandwidth.bytesPerHour must be"),
        ({"bytesPerHour": 10**15 + 1}, "bandwidth.bytesPerHour must be"),
        ({"bytesPerHour": True}, "bandwidth.bytesPerHour must be"),
        ({"bytesPerHour": 5e9}, "bandwidth.bytesPerHour must be"),
        ({"bytesPerHour": "5000000000"}, "bandwidth.bytesPerHour must be"),
        ({"bytesPerHour": 5000, "bytesPerDay": 1}, "bandwidth.bytesPerDay is not a field"),
    ],
)
def test_a_wrong_budget_is_an_invalid_request_naming_the_field(plain: object, message: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        BandwidthBudget.from_plain(plain)
    assert raised.value.message.startswith(message), raised.value.message


# --- hours ---


def test_a_reservation_counts_in_its_utc_clock_hour() -> None:
    assert budget_hour(TEN + timedelta(minutes=59, seconds=59, microseconds=999_999)) == TEN
    assert budget_hour(TEN + HOUR) == TEN + HOUR
    # Kolkata is UTC+05:30: its 15:45 is 10:15 UTC, in the 10:00 UTC hour, not a local one.
    assert budget_hour(datetime(2030, 1, 1, 15, 45, tzinfo=ZoneInfo("Asia/Kolkata"))) == TEN
    with pytest.raises(ValueError, match="timezone-aware"):
        budget_hour(datetime(2030, 1, 1, 10, 0))


# --- reservations ---


def test_a_reservation_is_granted_while_the_hour_holds_all_of_it() -> None:
    assert BUDGET.reserve(4_000, served=6_000, now=TEN + timedelta(minutes=5)) == Grant(4_000, TEN)
    assert Grant(4_000, TEN).expires_at == TEN + HOUR


def test_a_reservation_one_byte_over_waits_for_the_next_hour() -> None:
    wait = BUDGET.reserve(4_001, served=6_000, now=TEN + timedelta(minutes=30))
    assert wait == BudgetWait(TEN + HOUR, 1800, 10_000)
    assert wait == BUDGET.wait(TEN + timedelta(minutes=30))
    assert wait.reason == (
        "waiting for the bandwidth budget: the campaign's 10000 bytes per hour are used up "
        "until 2030-01-01T11:00:00+00:00"
    )


@pytest.mark.parametrize(
    ("now", "max_age"),
    [(TEN, 3600), (TEN + timedelta(minutes=59, seconds=59, milliseconds=500), 1), (TEN + timedelta(seconds=0.2), 3600)],
)
def test_the_wait_is_whole_seconds_to_the_next_hour_never_zero(now: datetime, max_age: int) -> None:
    assert BUDGET.wait(now).max_age == max_age


@pytest.mark.parametrize("wanted", [0, -1, 10_001])
def test_a_reservation_is_never_empty_nor_more_than_an_hour_holds(wanted: int) -> None:
    with pytest.raises(ValueError, match="a reservation is 1-10000 bytes"):
        BUDGET.reserve(wanted, served=0, now=TEN)


def test_a_download_asks_for_the_rest_of_its_image_or_a_whole_hour() -> None:
    assert [BUDGET.request(n) for n in (1, 9_999, 10_000, 250_000)] == [1, 9_999, 10_000, 10_000]
    with pytest.raises(ValueError):
        BUDGET.request(0)


def test_a_device_starts_only_when_the_hour_holds_its_whole_image() -> None:
    assert BUDGET.admit(3_000, served=7_000, now=TEN) == Grant(3_000, TEN)
    assert isinstance(BUDGET.admit(3_000, served=7_001, now=TEN), BudgetWait)
    # An image larger than an hour's budget starts at an hour nothing else has used, with the whole hour.
    assert BUDGET.admit(25_000, served=0, now=TEN) == Grant(10_000, TEN)
    assert isinstance(BUDGET.admit(25_000, served=1, now=TEN), BudgetWait)


# --- blocks ---


def test_a_block_goes_out_from_the_allowance_of_its_hour() -> None:
    allowance = Allowance.of(Grant(3_000, TEN))
    assert BUDGET.reservation_for_block(allowance, size=1024, remaining=3_000, now=TEN + timedelta(minutes=59)) is None
    assert allowance.spend(1024) == Allowance(TEN, 1_976)


def test_a_block_needs_a_reservation_in_a_new_hour_or_past_the_allowance() -> None:
    allowance = Allowance(TEN, 1_976)
    # The download runs into the next hour: it reserves the rest of the image from the block it is at.
    assert BUDGET.reservation_for_block(allowance, size=1024, remaining=1_976, now=TEN + HOUR) == 1_976
    # A device asking for blocks again (a resumed download) spends the allowance twice: more is reserved.
    assert BUDGET.reservation_for_block(Allowance(TEN, 500), size=1024, remaining=50_000, now=TEN) == 10_000
    # Another process serving a block holds no allowance for it.
    assert BUDGET.reservation_for_block(None, size=1024, remaining=2_000, now=TEN) == 2_000
    with pytest.raises(ValueError):
        allowance.spend(1_977)
    with pytest.raises(ValueError):
        BUDGET.reservation_for_block(None, size=1024, remaining=1000, now=TEN)


# --- properties ---


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    st.integers(min_value=1024, max_value=50_000),
    st.lists(
        st.tuples(
            st.timedeltas(min_value=timedelta(0), max_value=timedelta(minutes=40)),
            st.integers(min_value=1, max_value=60_000),
        ),
        max_size=60,
    ),
)
def test_no_hour_is_ever_granted_more_than_the_budget(
    bytes_per_hour: int, reservations: list[tuple[timedelta, int]]
) -> None:
    budget = BandwidthBudget(bytes_per_hour)
    counters: Counter[datetime] = Counter()  # the storage's counter rows, by hour
    now = TEN + timedelta(minutes=17)
    for elapsed, remaining in reservations:
        now += elapsed
        wanted = budget.request(remaining)
        decided = budget.reserve(wanted, served=counters[budget_hour(now)], now=now)
        if isinstance(decided, Grant):
            assert decided.hour == budget_hour(now) and decided.bytes == wanted
            counters[decided.hour] += decided.bytes
        else:
            # Refused only when it would not fit, and told to wait exactly until the next hour.
            assert counters[budget_hour(now)] + wanted > bytes_per_hour
            assert decided.until == budget_hour(now) + HOUR > now
            assert now + timedelta(seconds=decided.max_age) >= decided.until
        assert all(total <= bytes_per_hour for total in counters.values()), counters


blocks = st.tuples(
    st.integers(min_value=0, max_value=1),  # which of two processes serves the block
    st.integers(min_value=0, max_value=3),  # which of four downloads asks for it
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(minutes=25)),
    st.booleans(),  # the device starts its download over (a resumed or repeated download)
)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.integers(min_value=1024, max_value=20_000), st.integers(min_value=1, max_value=30_000), st.lists(blocks))
def test_no_hour_is_ever_sent_more_than_the_budget_across_processes(
    bytes_per_hour: int, image_size: int, requests: list[tuple[int, int, timedelta, bool]]
) -> None:
    budget = BandwidthBudget(bytes_per_hour)
    counters: Counter[datetime] = Counter()  # shared by both processes, as the database row is
    allowances: dict[tuple[int, int], Allowance] = {}  # held in each process's memory
    offsets = [0, 0, 0, 0]
    sent: Counter[datetime] = Counter()
    now = TEN
    for process, download, elapsed, start_over in requests:
        now += elapsed
        if start_over or offsets[download] >= image_size:
            offsets[download] = 0
        remaining = image_size - offsets[download]
        size = min(1024, remaining)
        wanted = budget.reservation_for_block(
            allowances.get((process, download)), size=size, remaining=remaining, now=now
        )
        if wanted is not None:
            decided = budget.reserve(wanted, served=counters[budget_hour(now)], now=now)
            if isinstance(decided, BudgetWait):
                continue  # the device is told to come back after Max-Age
            counters[decided.hour] += decided.bytes
            allowances[(process, download)] = Allowance.of(decided)
        allowances[(process, download)] = allowances[(process, download)].spend(size)
        sent[budget_hour(now)] += size
        offsets[download] += size
        assert all(sent[hour] <= counters[hour] <= bytes_per_hour for hour in sent), (sent, counters)
