"""The adaptive download limit (domain/admission.py) on a fake clock: it shrinks while the event loop runs late,
grows only while it binds (by a fraction of itself until the first overload, additively after), stays between its
floor and the operator's ceiling, and moves at most once a period."""

from __future__ import annotations

import pytest

from fota.domain.admission import DownloadLimit

LATE, FINE = 0.2, 0.0


def test_it_starts_modest_and_never_above_the_ceiling() -> None:
    assert DownloadLimit(200).limit == 32
    assert DownloadLimit(10).limit == 10
    assert DownloadLimit(3, floor=8).limit == 3  # a ceiling below the floor wins
    with pytest.raises(ValueError, match="at least 1"):
        DownloadLimit(0)


def test_a_binding_limit_grows_by_a_fraction_of_itself_up_to_the_ceiling() -> None:
    rule = DownloadLimit(200, initial=32, increase=4, growth=0.25)
    seen = [rule.observe(float(t), lag=FINE, in_use=rule.limit, waiting=0) for t in range(11)]
    assert seen == [40, 50, 62, 77, 96, 120, 150, 187, 200, 200, 200]
    small = DownloadLimit(200, initial=8, increase=4, growth=0.25)
    assert small.observe(0.0, lag=FINE, in_use=8, waiting=0) == 12  # never by less than `increase`


def test_after_its_first_overload_a_binding_limit_grows_additively() -> None:
    rule = DownloadLimit(200, initial=100, decrease=0.5, increase=4, growth=0.25, hold=0.0)
    assert rule.observe(0.0, lag=FINE, in_use=100, waiting=5) == 125
    assert rule.observe(1.0, lag=LATE, in_use=125, waiting=5) == 62
    seen = [rule.observe(float(t), lag=FINE, in_use=rule.limit, waiting=5) for t in range(2, 6)]
    assert seen == [66, 70, 74, 78]


def test_a_limit_nobody_uses_stays_where_it_is() -> None:
    rule = DownloadLimit(200, initial=32)
    for t in range(10):
        rule.observe(float(t), lag=FINE, in_use=3, waiting=0)
    assert rule.limit == 32


def test_starts_in_line_make_the_limit_bind_even_below_it() -> None:
    rule = DownloadLimit(200, initial=32, increase=4, growth=0.25)
    assert rule.observe(0.0, lag=FINE, in_use=10, waiting=5) == 40


def test_a_late_loop_cuts_the_limit_multiplicatively_then_holds() -> None:
    rule = DownloadLimit(200, initial=100, decrease=0.7, hold=3.0, period=1.0)
    assert rule.observe(0.0, lag=LATE, in_use=100, waiting=0) == 70
    # The echo of the same overload: downloads under way still finish, so the lag stays high for a while.
    assert rule.observe(1.0, lag=LATE, in_use=100, waiting=0) == 70
    assert rule.observe(2.0, lag=LATE, in_use=90, waiting=0) == 70
    assert rule.observe(3.0, lag=LATE, in_use=80, waiting=0) == 49


def test_it_never_falls_below_its_floor() -> None:
    rule = DownloadLimit(200, initial=10, floor=4, hold=0.0)
    for t in range(20):
        rule.observe(float(t), lag=LATE, in_use=10, waiting=50)
    assert rule.limit == 4


def test_it_moves_at_most_once_a_period() -> None:
    rule = DownloadLimit(200, initial=32, increase=4, growth=0.25, period=1.0)
    assert rule.observe(0.0, lag=FINE, in_use=32, waiting=0) == 40
    assert rule.observe(0.5, lag=FINE, in_use=40, waiting=0) == 40
    assert rule.observe(0.99, lag=LATE, in_use=40, waiting=0) == 40
    assert rule.observe(1.0, lag=FINE, in_use=40, waiting=0) == 50


def test_after_an_overload_it_climbs_back_when_the_loop_keeps_up() -> None:
    rule = DownloadLimit(100, initial=100, decrease=0.5, increase=10, hold=0.0)
    rule.observe(0.0, lag=LATE, in_use=100, waiting=20)
    assert rule.limit == 50
    for t in range(1, 6):
        rule.observe(float(t), lag=FINE, in_use=rule.limit, waiting=20)
    assert rule.limit == 100


def test_a_loop_busy_past_its_target_is_overloaded_even_with_punctual_timers() -> None:
    # One datagram per loop iteration keeps timers on time while requests queue in the socket: the busy share says.
    rule = DownloadLimit(200, initial=100, decrease=0.5, target_busy=0.75)
    assert rule.observe(0.0, lag=FINE, busy=0.97, in_use=100, waiting=10) == 50
    assert rule.observe(1.0, lag=FINE, busy=0.5, in_use=50, waiting=10) == 54
