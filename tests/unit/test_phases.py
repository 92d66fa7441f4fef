"""The v2 download and install phases: when a package may be offered, when it may be installed, how long it waits."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from fota.domain.errors import InvalidRequest
from fota.domain.phases import (
    NO_PHASES,
    Phases,
    check_phases,
    check_windows_kept,
    download_open,
    install_open,
    install_wait_until,
)
from fota.domain.windows import Schedule, TimeWindow

SCHEDULE = Schedule(date(2030, 3, 1), date(2030, 3, 3), (TimeWindow(2, 6),))
SPLIT = Phases(install_windows=(TimeWindow(18, 22),))


def at(day: int, hour: int) -> datetime:
    return datetime(2030, 3, day, hour, tzinfo=UTC)


def test_without_phases_install_follows_the_download_at_once() -> None:
    assert install_open(SCHEDULE, NO_PHASES, at(1, 3))
    assert install_wait_until(SCHEDULE, NO_PHASES, at(1, 3)) == at(1, 3)
    assert download_open(SCHEDULE, NO_PHASES, at(1, 3)) and not download_open(SCHEDULE, NO_PHASES, at(1, 7))


def test_install_window_gates_the_install_and_the_wait_lasts_until_it_closes() -> None:
    assert not install_open(SCHEDULE, SPLIT, at(1, 3))
    assert install_open(SCHEDULE, SPLIT, at(1, 19))
    assert install_wait_until(SCHEDULE, SPLIT, at(1, 3)) == at(1, 22)
    assert install_wait_until(SCHEDULE, SPLIT, at(1, 23)) == at(2, 22)
    assert install_wait_until(SCHEDULE, SPLIT, at(3, 23)) is None  # no install window left


def test_after_dates_hold_back_download_and_install() -> None:
    phases = Phases(download_after=date(2030, 3, 2), install_after=date(2030, 3, 3))
    assert not download_open(SCHEDULE, phases, at(1, 3)) and download_open(SCHEDULE, phases, at(2, 3))
    assert not install_open(SCHEDULE, phases, at(2, 3)) and install_open(SCHEDULE, phases, at(3, 0))
    assert install_wait_until(SCHEDULE, phases, at(2, 3)) == at(3, 0)


@pytest.mark.parametrize(
    "phases",
    [
        Phases(download_after=date(2030, 2, 28)),
        Phases(install_after=date(2030, 3, 4)),
        Phases(download_after=date(2030, 3, 3), install_after=date(2030, 3, 2)),
        Phases(install_windows=(TimeWindow(18, 20),)),
        Phases(install_windows=(TimeWindow(10, 16), TimeWindow(14, 20))),
    ],
)
def test_invalid_phases_are_refused(phases: Phases) -> None:
    with pytest.raises(InvalidRequest):
        check_phases(phases, SCHEDULE)


def test_existing_windows_may_be_kept_or_extended_but_not_removed() -> None:
    old = (TimeWindow(2, 6),)
    check_windows_kept(old, (TimeWindow(2, 6), TimeWindow(8, 12)), "download")
    with pytest.raises(InvalidRequest, match="cannot be removed: 2-6"):
        check_windows_kept(old, (TimeWindow(8, 12),), "download")
