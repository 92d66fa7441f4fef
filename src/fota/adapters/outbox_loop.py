"""Runs callback delivery inside `fota serve`: every interval, in a worker thread, on the injected clock."""

from __future__ import annotations

import logging
import threading

from fota.adapters import metrics
from fota.adapters.periodic import PeriodicLoop
from fota.services.context import ServiceContext
from fota.services.outbox import DeliveryReport, deliver_due

log = logging.getLogger(__name__)


# One pass at a time per process. Leases run on the injected clock, so a simulated clock moved past them while the
# loop's pass is sending would let the clock route's pass claim and send the same events again.
_one_pass = threading.Lock()


class OutboxLoop(PeriodicLoop):
    def __init__(self, services: ServiceContext, *, interval: float, max_attempts: int) -> None:
        super().__init__("fota-outbox", interval, self._pass)
        self.services = services
        self.max_attempts = max_attempts

    def deliver(self) -> DeliveryReport:
        """One delivery pass; also run by `POST /admin/v1/clock` so retries follow a moved simulated clock at once."""
        with _one_pass:
            report = deliver_due(
                uow_factory=self.services.uow,
                clock=self.services.clock,
                sender=self.services.sender,
                outbound=self.services.outbound,
                max_attempts=self.max_attempts,
            )
        metrics.CALLBACK_DELIVERIES.labels("delivered").inc(report.delivered)
        metrics.CALLBACK_DELIVERIES.labels("retry").inc(report.retrying)
        metrics.CALLBACK_DELIVERIES.labels("given_up").inc(report.given_up)
        metrics.CALLBACK_REFUSED.inc(report.refused)
        return report

    def _pass(self) -> bool:
        report = self.deliver()
        if report.given_up:
            log.warning("callbacks: gave up %d events", report.given_up)
        # A backlog (a campaign's end moving a whole fleet) is drained without pausing between passes.
        return report.more_due
