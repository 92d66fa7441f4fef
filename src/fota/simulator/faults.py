"""Faults a simulated device can be told to exhibit, and their deterministic spread over a fleet.

Each device gets at most one fault, so a fault test can attribute every outcome to exactly one cause.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass


class Fault(enum.StrEnum):
    DROP_DOWNLOAD = "drop-download"  # the transfer breaks after its first block: State 0, Update Result 4
    CORRUPT = "corrupt"  # a byte flips before verification: Update Result 5
    UPDATE_FAILS = "update-fails"  # Update reboots but keeps the old firmware: Update Result 8
    OLD_FIRMWARE = "old-firmware"  # reboots into the old firmware yet claims Update Result 1
    NEVER_RETURNS = "never-returns"  # after Update the device is never heard of again
    UNSUPPORTED_PACKAGE = "unsupported-package"  # rejects any image: Update Result 6


@dataclass(frozen=True)
class FaultShare:
    """A fault and the fraction (0..1) of the fleet that exhibits it."""

    fault: Fault
    fraction: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"fault fraction must be within 0..1: {self.fraction}")

    @classmethod
    def parse(cls, text: str) -> FaultShare:
        """Parse `NAME:FRACTION` (e.g. `corrupt:0.1`); a bare NAME means the whole fleet."""
        name, _, fraction = text.partition(":")
        try:
            fault = Fault(name.strip())
        except ValueError:
            names = ", ".join(f.value for f in Fault)
            raise ValueError(f"unknown fault {name!r}; known: {names}") from None
        try:
            return cls(fault, float(fraction) if fraction else 1.0)
        except ValueError:
            raise ValueError(f"bad fault fraction in {text!r}") from None


def assign_faults(count: int, shares: Sequence[FaultShare], seed: int = 0) -> list[Fault | None]:
    """Return one entry per device: its fault or None; `round(fraction * count)` devices per fault, chosen by seed."""
    if sum(share.fraction for share in shares) > 1.0 + 1e-9:
        raise ValueError("fault fractions add up to more than 1")
    # Rank devices by a seeded hash: a stable shuffle that needs no global random state.
    order = sorted(range(count), key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).digest())
    assigned: list[Fault | None] = [None] * count
    cursor = 0
    for share in shares:
        take = min(round(share.fraction * count), count - cursor)
        for index in order[cursor : cursor + take]:
            assigned[index] = share.fault
        cursor += take
    return assigned
