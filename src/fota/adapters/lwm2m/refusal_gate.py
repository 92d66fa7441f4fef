"""The refusal budget at the door of the registration and bootstrap interfaces: an address whose budget is spent
gets 5.03 with Max-Age before any work is done, and what its requests are refused is charged to it (the budget
itself, per address and shared on PostgreSQL: lwm2m/refusals.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiocoap import Message
from aiocoap.numbers.codes import Code

from fota.adapters import metrics
from fota.adapters.lwm2m.refusals import REFUSAL_MAX_AGE, RefusalBucket

Handler = Callable[[], Awaitable[Message]]


def host_of(request: Message) -> str:
    sockaddr = getattr(request.remote, "sockaddr", None)
    return str(sockaddr[0]) if sockaddr else str(request.remote.hostinfo)


class RefusalGate:
    def __init__(self, bucket: RefusalBucket) -> None:
        self.bucket = bucket

    async def reserving(self, request: Message, handle: Handler) -> Message:
        """The request holds a token while in flight and gives it back when accepted; a refusal, answered or
        raised, keeps it taken."""
        host = host_of(request)
        if not self.bucket.reserve(host):
            return _too_many_refusals()
        response = await handle()
        if response.code.is_successful():
            self.bucket.give_back(host)
        return response

    async def charging_refusals(self, request: Message, handle: Handler) -> Message:
        """For registration Updates: they join a batched transaction and, refused, write nothing, so they are let in
        while their address has tokens and charged only when refused. Reserving a token for each one in flight
        would refuse a fleet behind one address whenever more than the burst of them wait for one batch."""
        host = host_of(request)
        if not self.bucket.admits(host):
            return _too_many_refusals()
        try:
            response = await handle()
        except BaseException:
            self.bucket.charge(host)
            raise
        if not response.code.is_successful():
            self.bucket.charge(host)
        return response


def _too_many_refusals() -> Message:
    metrics.LWM2M_REFUSED.labels("rate_limited").inc()
    return Message(code=Code.SERVICE_UNAVAILABLE, max_age=REFUSAL_MAX_AGE, payload=b"too many refusals")
