"""When a campaign should have upgraded its devices, as the dry-run preview estimates it: wave after wave, each
wave's devices checking in inside their own windows, the soak between waves, blackouts and the bandwidth budget.

Everything here is computed per distinct effective zone of a wave (a few dozen in any fleet), never per device.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fota.domain.start_rule import StartRule

# Assumed for a device fota has never heard from, or whose registration says nothing about its next check-in.
DEFAULT_CHECKIN_INTERVAL = timedelta(hours=24)
# Download, update and the check-in after reboot, once a device has checked in inside a window.
UPGRADE_ALLOWANCE = timedelta(minutes=10)
HOUR = timedelta(hours=1)
# A campaign of decades with one window a day stays well inside this many open stretches.
MAX_STRETCHES = 100_000


@dataclass(frozen=True)
class WaveLoad:
    """One wave's devices as the estimate needs them: how many, and per effective zone the longest check-in
    interval among the wave's devices read in that zone."""

    devices: int
    slowest_by_zone: Mapping[str, timedelta]


@dataclass(frozen=True)
class DownloadRate:
    """The bandwidth budget as a rate of whole devices: a device starts only when its whole image fits in what is
    left of the UTC hour's budget, so an hour carries `bytes_per_hour // image_size` devices; an image larger than
    the budget takes as many hours as it needs budgets."""

    bytes_per_hour: int
    image_size: int

    def open_time_for(self, devices: int) -> timedelta:
        """The least time, with some device's window open, in which the budget lets `devices` devices download."""
        if devices <= 0 or self.image_size <= 0:
            return timedelta(0)
        per_hour = self.bytes_per_hour // self.image_size
        if per_hour >= 1:
            return HOUR * devices / per_hour
        hours_each = -(-self.image_size // self.bytes_per_hour)
        return HOUR * devices * hours_each


@dataclass(frozen=True)
class WaveEstimate:
    starts_at: datetime | None  # when its first device may start; None: the wave before it is not expected to finish
    completes_at: datetime | None  # None: not within the campaign's live period


@dataclass(frozen=True)
class Estimate:
    first_opening: datetime | None
    waves: tuple[WaveEstimate, ...]

    @property
    def completes_at(self) -> datetime | None:
        """When the last wave is done; None when some wave is not expected to finish before the campaign ends."""
        if not self.waves or any(w.completes_at is None for w in self.waves):
            return None
        return self.waves[-1].completes_at


def open_time_reached(rule: StartRule, zone: ZoneInfo, start: datetime, needed: timedelta) -> datetime | None:
    """The instant at which upgrades may have started in `zone` for `needed` in total since `start` (windows,
    live period and blackouts all counted); None when the campaign ends first."""
    moment, remaining = start, needed
    for _ in range(MAX_STRETCHES):
        stretch = rule.open_stretch(zone, moment)
        if stretch is None:
            return None
        length = stretch.closes_at - stretch.opens_at
        if length >= remaining:
            return stretch.opens_at + remaining
        remaining -= length
        moment = stretch.closes_at
    return None


def union_open_time_reached(
    rule: StartRule, zones: Sequence[ZoneInfo], start: datetime, needed: timedelta
) -> datetime | None:
    """As `open_time_reached`, counting the time in which a window is open in any of `zones`: the campaign's
    budget is shared by all of them, so it can only be spent while at least one is open."""
    if not zones:
        return start
    moment, remaining = start, needed
    for _ in range(MAX_STRETCHES):
        stretches = [s for s in (rule.open_stretch(z, moment) for z in zones) if s is not None]
        if not stretches:
            return None
        opens_at = min(s.opens_at for s in stretches)
        closes_at = max(s.closes_at for s in stretches if s.opens_at == opens_at)
        extended = True
        while extended:  # stretches of other zones that begin before this one ends make it longer
            extended = False
            for zone in zones:
                later = rule.open_stretch(zone, closes_at)
                if later is not None and later.opens_at <= closes_at < later.closes_at:
                    closes_at, extended = later.closes_at, True
        if closes_at - opens_at >= remaining:
            return opens_at + remaining
        remaining -= closes_at - opens_at
        moment = closes_at
    return None


def estimate_waves(
    rule: StartRule,
    waves: Sequence[WaveLoad],
    *,
    now: datetime,
    soak: timedelta = timedelta(0),
    rate: DownloadRate | None = None,
) -> Estimate:
    """Wave by wave from `now`: a wave is done when, in every effective zone it has devices in, its windows have
    been open for that zone's slowest check-in interval plus UPGRADE_ALLOWANCE (a device checking in every `I` is
    heard in any open time of `I`), and no sooner than the budget lets all its devices download. The next wave
    opens `soak` after that (the gate waits for the soak after the last success; an approval is assumed at once).
    """
    zones_of = {name: rule.zone_for(name) for wave in waves for name in wave.slowest_by_zone}
    # With no device to read windows for, the campaign's own zone says when it first opens.
    opening_zones = set(zones_of.values()) or {rule.zone_for(None)}
    first_opening = min((t for t in (rule.next_open_at(z, now) for z in opening_zones) if t is not None), default=None)
    estimates: list[WaveEstimate] = []
    start: datetime | None = now
    for index, wave in enumerate(waves):
        if start is None:
            estimates.append(WaveEstimate(None, None))
            continue
        done = _wave_done(rule, wave, zones_of, start, rate)
        estimates.append(WaveEstimate(_opens_at(rule, wave, zones_of, start), done))
        is_last = index == len(waves) - 1
        start = None if done is None else done + (soak if wave.devices and not is_last else timedelta(0))
    return Estimate(first_opening, tuple(estimates))


def _opens_at(rule: StartRule, wave: WaveLoad, zones_of: Mapping[str, ZoneInfo], start: datetime) -> datetime:
    """When the first of the wave's devices may start: the wave's start, or the first window of its zones."""
    openings = [rule.next_open_at(zones_of[name], start) for name in wave.slowest_by_zone]
    return min((t for t in openings if t is not None), default=start)


def _wave_done(
    rule: StartRule, wave: WaveLoad, zones_of: Mapping[str, ZoneInfo], start: datetime, rate: DownloadRate | None
) -> datetime | None:
    if wave.devices <= 0 or not wave.slowest_by_zone:
        return start
    slowest: dict[str, timedelta] = {}
    for name, interval in wave.slowest_by_zone.items():
        key = zones_of[name].key  # device zone names that read the same zone count once
        slowest[key] = max(slowest.get(key, interval), interval)
    moments: list[datetime | None] = [
        open_time_reached(rule, ZoneInfo(key), start, interval + UPGRADE_ALLOWANCE) for key, interval in slowest.items()
    ]
    if rate is not None:
        zones = [ZoneInfo(key) for key in sorted(slowest)]
        moments.append(union_open_time_reached(rule, zones, start, rate.open_time_for(wave.devices)))
    if any(m is None for m in moments):
        return None
    return max(m for m in moments if m is not None)
