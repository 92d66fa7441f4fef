"""A campaign's bandwidth budget (the contract's `bandwidth.bytesPerHour`): image bytes are reserved against one
counter per fixed UTC clock hour before they are sent, on either download path and in any process, so no clock
hour carries more than the budget; what the hour cannot hold waits for the next one (docs/adr/0024)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from fota.domain.errors import InvalidRequest

HOUR = timedelta(hours=1)
# One CoAP block of the largest size (SZX 6): a smaller budget could never send a block of an image.
MIN_BYTES_PER_HOUR = 1024
# Far beyond any link, and well inside a BIGINT counter even when a whole hour's reservations are summed.
MAX_BYTES_PER_HOUR = 10**15


def budget_hour(now: datetime) -> datetime:
    """The clock hour (UTC) `now` falls in: the key of the counter its reservations are taken from."""
    if now.tzinfo is None:
        raise ValueError("budget hours are reckoned on timezone-aware instants")
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Grant:
    """`bytes` reserved from `hour`'s counter: they may be sent until the hour ends, never after."""

    bytes: int
    hour: datetime

    @property
    def expires_at(self) -> datetime:
        return self.hour + HOUR


@dataclass(frozen=True)
class BudgetWait:
    """The hour's budget cannot hold the reservation: wait until `until`, the next hour, `max_age` seconds away
    (CoAP Max-Age of a 5.03, HTTP Retry-After)."""

    until: datetime
    max_age: int
    bytes_per_hour: int

    @property
    def reason(self) -> str:
        """The resultReason of a device that waits for it."""
        return (
            f"waiting for the bandwidth budget: the campaign's {self.bytes_per_hour} bytes per hour are used up "
            f"until {self.until.isoformat()}"
        )


@dataclass(frozen=True)
class BandwidthBudget:
    """At most `bytes_per_hour` image bytes of the campaign are reserved, hence sent, in any UTC clock hour."""

    bytes_per_hour: int

    @classmethod
    def from_plain(cls, value: object) -> BandwidthBudget:
        """From the contract's `bandwidth` object; InvalidRequest naming the field that is wrong."""
        if not isinstance(value, Mapping):
            raise InvalidRequest("bandwidth must be an object with bytesPerHour")
        for key in value:
            if key != "bytesPerHour":
                raise InvalidRequest(f"bandwidth.{key} is not a field: use bytesPerHour")
        limit = value.get("bytesPerHour")
        if (
            not isinstance(limit, int)
            or isinstance(limit, bool)
            or not MIN_BYTES_PER_HOUR <= limit <= MAX_BYTES_PER_HOUR
        ):
            raise InvalidRequest(
                f"bandwidth.bytesPerHour must be a whole number {MIN_BYTES_PER_HOUR}-{MAX_BYTES_PER_HOUR}"
            )
        return cls(limit)

    def to_plain(self) -> dict[str, int]:
        return {"bytesPerHour": self.bytes_per_hour}

    def request(self, remaining: int) -> int:
        """How much a download reserves when it needs bytes in an hour: the rest of its image from the block it is
        at, or the whole hour's budget if the rest is larger (a reservation is all or nothing, so no more)."""
        if remaining < 1:
            raise ValueError("a download with nothing left to send reserves nothing")
        return min(remaining, self.bytes_per_hour)

    def reserve(self, wanted: int, *, served: int, now: datetime) -> Grant | BudgetWait:
        """The reservation rule: `wanted` bytes are granted from now's hour when the `served` (reserved) bytes of
        that hour leave room for all of them, else the wait for the next hour. The storage carries out exactly
        this in one conditional statement (the ADR's upsert), so processes sharing the counter share the rule."""
        if not 1 <= wanted <= self.bytes_per_hour:
            raise ValueError(f"a reservation is 1-{self.bytes_per_hour} bytes: ask for request(remaining)")
        if served + wanted <= self.bytes_per_hour:
            return Grant(wanted, budget_hour(now))
        return self.wait(now)

    def wait(self, now: datetime) -> BudgetWait:
        """The wait when now's hour refused a reservation (the storage's conditional statement changed no row)."""
        until = budget_hour(now) + HOUR
        return BudgetWait(until, max(1, math.ceil((until - now).total_seconds())), self.bytes_per_hour)

    def admit(self, image_size: int, *, served: int, now: datetime) -> Grant | BudgetWait:
        """Whether a device may start: its whole image (or a whole hour's budget, for a larger image) must fit in
        what is left of now's hour. Admitting only downloads the hour can carry keeps admitted devices from
        stalling into their download time-out."""
        return self.reserve(self.request(image_size), served=served, now=now)

    def reservation_for_block(
        self, allowance: Allowance | None, *, size: int, remaining: int, now: datetime
    ) -> int | None:
        """Before a block of `size` bytes goes out (the Block2 block, or the next chunk of an HTTP body) with
        `remaining` bytes of the image from its start on: None when the allowance held covers it, else the bytes to
        reserve first (a download continuing into a new hour, resumed elsewhere, or asking for blocks again)."""
        if not 1 <= size <= min(remaining, self.bytes_per_hour):
            raise ValueError("a block is 1 byte or more, within the image and within one hour's budget")
        if allowance is not None and allowance.covers(size, now):
            return None
        return self.request(remaining)


@dataclass(frozen=True)
class Allowance:
    """What a serving process holds of a grant for one download: blocks are sent from it without touching the
    counter, until it runs out or its hour ends; whatever is left then stays counted, unsent."""

    hour: datetime
    left: int

    @classmethod
    def of(cls, grant: Grant) -> Allowance:
        return cls(grant.hour, grant.bytes)

    def covers(self, size: int, now: datetime) -> bool:
        """A block of `size` bytes may be sent now from this allowance."""
        return budget_hour(now) == self.hour and size <= self.left

    def spend(self, size: int) -> Allowance:
        if size > self.left:
            raise ValueError("a block larger than the allowance left needs a new reservation")
        return replace(self, left=self.left - size)
