"""HTTP device check-ins by group commit: the polls that arrive while one batch is being written go in the next
(adapters/batching.py), so a fleet polling at once costs one transaction per batch rather than per check-in."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from starlette.concurrency import run_in_threadpool

from fota.adapters.batching import Batcher
from fota.services import device_poll
from fota.services.context import ServiceContext
from fota.services.device_poll import Instruction, Poll, Recorded

# On SQLite a batch holds the one writer's place while it runs: small enough that the engine's tick is not kept
# waiting long behind a wave of check-ins, large enough that a wave takes a few transactions.
MAX_BATCH = 64


class CheckInLane:
    """Each poll recorded in a shared transaction, then carried on alone: most end with nothing to do."""

    def __init__(self, services: ServiceContext) -> None:
        self.services = services
        self.batcher: Batcher[Poll, Recorded] = Batcher(self._record, max_batch=MAX_BATCH, name="http-check-ins")

    async def check_in(self, poll: Poll, *, package_base_url: str) -> Instruction:
        """The device's instruction; raises Unauthorized for an unknown device or a wrong key."""
        recorded = await self.batcher.submit(poll)
        carry_on = partial(
            device_poll.carry_on,
            uow_factory=self.services.uow,
            clock=self.services.clock,
            policy=self.services.policy,
            poll=poll,
            recorded=recorded,
            package_base_url=package_base_url,
        )
        if recorded.refused or recorded.assignment is None:
            return carry_on()  # no database work left: not worth a trip to the thread pool
        return await run_in_threadpool(carry_on)

    def _record(self, polls: Sequence[Poll]) -> list[Recorded]:
        return device_poll.record_polls(uow=self.services.uow(), clock=self.services.clock, polls=polls)

    async def close(self) -> None:
        await self.batcher.close()
