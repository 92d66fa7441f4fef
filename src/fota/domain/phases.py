"""A campaign's download and install phases (ThingSpace v2): after-dates and install windows of their own.

The campaign's own windows are its download windows; with no install rule a downloaded package is installed at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from fota.domain.errors import InvalidRequest
from fota.domain.windows import Schedule, TimeWindow, validate_windows


@dataclass(frozen=True)
class Phases:
    download_after: date | None = None
    install_after: date | None = None
    install_windows: tuple[TimeWindow, ...] | None = None  # None: no install window of its own

    @property
    def separate_install(self) -> bool:
        return self.install_after is not None or bool(self.install_windows)


NO_PHASES = Phases()  # a v3 campaign: download windows only, install as soon as downloaded


def check_phases(phases: Phases, schedule: Schedule) -> Phases:
    """After-dates inside the campaign's dates, install windows valid like any others; returns them normalized."""
    for name, value in (("downloadAfterDate", phases.download_after), ("installAfterDate", phases.install_after)):
        if value is not None and not schedule.start_date <= value <= schedule.end_date:
            raise InvalidRequest(
                f"{name} {value.isoformat()} is outside the campaign's dates "
                f"{schedule.start_date.isoformat()}..{schedule.end_date.isoformat()}"
            )
    if phases.download_after and phases.install_after and phases.install_after < phases.download_after:
        raise InvalidRequest("installAfterDate is before downloadAfterDate")
    windows = validate_windows(phases.install_windows) if phases.install_windows else None
    return replace(phases, install_windows=windows)


def check_windows_kept(old: tuple[TimeWindow, ...], new: tuple[TimeWindow, ...], what: str) -> None:
    """v2 date changes may add windows but not remove existing ones."""
    missing = [w for w in old if w not in new]
    if new and missing:
        listed = ", ".join(f"{w.start_hour}-{w.end_hour}" for w in missing)
        raise InvalidRequest(f"existing {what} windows cannot be removed: {listed}")


def download_open(schedule: Schedule, phases: Phases, now: datetime) -> bool:
    """A download window is open, and the download-after date (in the campaign's zone) has come."""
    if phases.download_after is not None and schedule.local_today(now) < phases.download_after:
        return False
    return schedule.window_open(now)


def _install_schedule(schedule: Schedule, phases: Phases) -> Schedule:
    start = max(schedule.start_date, phases.install_after or schedule.start_date)
    return Schedule(start, schedule.end_date, phases.install_windows or (), schedule.time_zone)


def install_open(schedule: Schedule, phases: Phases, now: datetime) -> bool:
    """Whether a downloaded package may be installed now; always, when the campaign has no install rule."""
    if not phases.separate_install:
        return True
    return _install_schedule(schedule, phases).window_open(now)


def install_wait_until(schedule: Schedule, phases: Phases, now: datetime) -> datetime | None:
    """Until when a downloaded package may wait for its Update: the close of the next install window (a device
    checks in some time inside it), or its opening when the rule is only a date; None when no window is left."""
    if not phases.separate_install:
        return now
    install = _install_schedule(schedule, phases)
    opening = install.next_opening(now)
    if opening is None or not install.windows:
        return opening
    local = opening.astimezone(install.zone)
    for w in install.windows:
        if w.contains_hour(local.hour):
            closing = datetime.combine(local.date(), time(), install.zone) + timedelta(hours=w.end_hour)
            return min(closing.astimezone(UTC), install.ends_at)
    return opening
