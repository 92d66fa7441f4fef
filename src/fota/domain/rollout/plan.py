"""Which devices form which wave: wave sizes from the enrolled count, membership (`first` or `stratified`), the
group counts the preview shows, and the wave of a device enrolled later."""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from fota.domain.rollout.spec import CanaryMode, RolloutSpec, WaveSpec


def wave_sizes(waves: Sequence[WaveSpec], enrolled: int) -> tuple[int, ...]:
    """How many of `enrolled` devices each wave holds; the sizes add up to `enrolled`.

    A wave's cumulative end is the previous end plus its `devices`, or its `percent` of `enrolled` rounded up (a
    small share of a small fleet still gets a device), never before the previous end and never past `enrolled`. A
    wave whose end the earlier waves already reached is empty: its gate is met at once.
    """
    if enrolled < 0:
        raise ValueError("enrolled is a count")
    sizes: list[int] = []
    end = 0
    for wave in waves:
        share = wave.share
        if wave.devices is not None:
            target = end + wave.devices
        else:
            target = math.ceil(enrolled * share) if share is not None else 0
        new_end = min(enrolled, max(end, target))
        sizes.append(new_end - end)
        end = new_end
    # The last wave is 100 % by the spec's rule; this makes the sum hold for any list of waves.
    if sizes:
        sizes[-1] += enrolled - end
    return tuple(sizes)


def wave_for_late_device(spec: RolloutSpec) -> int:
    """A device enrolled after the plan (auto-add, append) joins the last wave: the one wave that never finishes
    before the whole rollout has, so it is offered only when every gate before it passed (or at once once the
    rollout completed)."""
    return spec.last_wave


@dataclass(frozen=True, order=True)
class Group:
    """The strata of the stratified canary. `time_zone` is the device's effective zone (its own, else the
    campaign's), so devices without one group with the campaign's zone."""

    make: str
    model: str
    firmware: str
    time_zone: str


@dataclass(frozen=True)
class DeviceTraits:
    device_id: str
    group: Group


@dataclass(frozen=True)
class GroupCount:
    group: Group
    count: int

    def as_dict(self) -> dict[str, object]:
        """The preview's `waves[].groups[]` entry."""
        g = self.group
        return {"make": g.make, "model": g.model, "firmware": g.firmware, "timeZone": g.time_zone, "count": self.count}


@dataclass(frozen=True)
class WavePlan:
    name: str
    devices: int
    groups: tuple[GroupCount, ...]  # ordered by group

    def as_dict(self) -> dict[str, object]:
        """The preview's `waves[]` entry."""
        return {"name": self.name, "devices": self.devices, "groups": [g.as_dict() for g in self.groups]}


@dataclass(frozen=True)
class Membership:
    wave_of: Mapping[str, int]  # device id -> wave index (0-based, in the spec's order)
    waves: tuple[WavePlan, ...]


def plan_waves(spec: RolloutSpec, devices: Iterable[DeviceTraits]) -> Membership:
    """Puts every device in exactly one wave; the same devices give the same plan whatever their input order."""
    ordered = sorted(devices, key=lambda d: d.device_id)
    if len({d.device_id for d in ordered}) != len(ordered):
        raise ValueError("device ids repeat")
    sizes = wave_sizes(spec.waves, len(ordered))
    members = _stratified(ordered, sizes) if spec.canary is CanaryMode.STRATIFIED else _in_order(ordered, sizes)
    wave_of = {d.device_id: index for index, wave in enumerate(members) for d in wave}
    plans = tuple(
        WavePlan(wave.name, len(members_of), _group_counts(members_of))
        for wave, members_of in zip(spec.waves, members, strict=True)
    )
    return Membership(wave_of, plans)


def _in_order(ordered: Sequence[DeviceTraits], sizes: Sequence[int]) -> list[list[DeviceTraits]]:
    waves: list[list[DeviceTraits]] = []
    start = 0
    for size in sizes:
        waves.append(list(ordered[start : start + size]))
        start += size
    return waves


def _stratified(ordered: Sequence[DeviceTraits], sizes: Sequence[int]) -> list[list[DeviceTraits]]:
    """Each wave but the last takes one device of every group that has any left (the most behind first, while the
    wave has room), then each further seat goes to the group furthest below its proportional share of all the
    waves so far. Within a group devices go in device-id order; the last wave takes what remains."""
    strata = _Strata(ordered)
    waves: list[list[DeviceTraits]] = []
    cumulative = 0
    for size in sizes[:-1]:
        cumulative += size
        wave: list[DeviceTraits] = []
        available = strata.available()
        for group in sorted(available, key=lambda g: strata.priority(g, cumulative))[:size]:
            wave.append(strata.take(group))
        # Taking from a group changes only that group's priority, so the heap stays exact with one push per seat.
        heap = [strata.priority(g, cumulative) for g in available if strata.has(g)]
        heapq.heapify(heap)
        while len(wave) < size and heap:
            group = heapq.heappop(heap)[-1]
            wave.append(strata.take(group))
            if strata.has(group):
                heapq.heappush(heap, strata.priority(group, cumulative))
        waves.append(wave)
    waves.append(strata.rest())
    return waves


class _Strata:
    """The devices not yet in a wave, by group, each group's lowest device id first."""

    def __init__(self, ordered: Sequence[DeviceTraits]) -> None:
        self._left: dict[Group, list[DeviceTraits]] = {}
        for device in reversed(ordered):  # reversed, so that pop() yields the lowest id
            self._left.setdefault(device.group, []).append(device)
        self._size = {group: len(members) for group, members in self._left.items()}
        self._taken = dict.fromkeys(self._size, 0)
        self._total = len(ordered)

    def available(self) -> list[Group]:
        return [g for g in sorted(self._left) if self._left[g]]

    def has(self, group: Group) -> bool:
        return bool(self._left[group])

    def take(self, group: Group) -> DeviceTraits:
        self._taken[group] += 1
        return self._left[group].pop()

    def priority(self, group: Group, cumulative: int) -> tuple[int, int, Group]:
        """Smallest first: the group furthest below its share of the first `cumulative` devices (in whole numbers:
        share minus holding, times the total), then the larger group, then group order."""
        deficit = cumulative * self._size[group] - self._taken[group] * self._total
        return (-deficit, -self._size[group], group)

    def rest(self) -> list[DeviceTraits]:
        return [d for group in sorted(self._left) for d in reversed(self._left[group])]


def _group_counts(wave: Sequence[DeviceTraits]) -> tuple[GroupCount, ...]:
    counts: dict[Group, int] = {}
    for device in wave:
        counts[device.group] = counts.get(device.group, 0) + 1
    return tuple(GroupCount(group, counts[group]) for group in sorted(counts))
