"""Runs callback delivery inside `fota serve`: every interval, in a worker thread, on the injected clock."""

from __future__ import annotations

import logging
import threading

from starlette.concurrency import run_in_threadpool

from fota.adapters import metrics
from fota.adapters.periodic import PeriodicLoop
from fota.bootstrap import Container
from fota.services.outbox import DeliveryReport, deliver_due

log = logging.getLogger(__name__)


# One pass at a time per process. Leases run on the injected clock, so a simulated clock moved past them while the
# loop's pass is sending would let the clock route's pass claim and send the same events again.
_one_pass = threading.Lock()


def deliver_once(container: Container) -> DeliveryReport:
    """One delivery pass; also run by `POST /admin/v1/clock` so retries follow a moved simulated clock at once."""
    with _one_pass:
        report = deliver_due(
            uow_factory=container.uow_factory,
            clock=container.clock,
            sender=container.callback_sender,
            outbound=container.outbound,
            max_attempts=container.settings.callback_max_attempts,
        )
    metrics.CALLBACK_DELIVERIES.labels("delivered").inc(report.delivered)
    metrics.CALLBACK_DELIVERIES.labels("retry").inc(report.retrying)
    metrics.CALLBACK_DELIVERIES.labels("given_up").inc(report.given_up)
    metrics.CALLBACK_REFUSED.inc(report.refused)
    return report


class OutboxLoop(PeriodicLoop):
    def __init__(self, container: Container) -> None:
        super().__init__("fota-outbox", container.settings.callback_interval_seconds, lambda: self._pass(container))
        self.container = container

    @staticmethod
    def _pass(container: Container) -> bool:
        report = deliver_once(container)
        if report.given_up:
            log.warning("callbacks: gave up %d events", report.given_up)
        # A backlog (a campaign's end moving a whole fleet) is drained without pausing between passes.
        return report.more_due

    async def stop(self) -> None:
        await super().stop()
        await run_in_threadpool(self.container.callback_sender.close)
