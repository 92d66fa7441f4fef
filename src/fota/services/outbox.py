"""Delivering the callback outbox: lease due events in a short transaction, POST them signed, record the outcome.

At least once: a crash after sending but before recording resends the same event id when the lease runs out.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import repeat
from typing import Any

from fota.clock import Clock
from fota.domain.outbound import OutboundRefused
from fota.services.callbacks import ensure_signing_secret
from fota.services.outbound import OutboundPolicy
from fota.services.ports import CallbackRegistration, CallbackSender, ClaimedEvent, DeliveryAttempt, UnitOfWorkFactory

log = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 12
BASE_DELAY_SECONDS = 5.0
MAX_DELAY_SECONDS = 3600.0
JITTER = 0.2
# Longer than the sender's 10 s total timeout plus recording; a lease that runs out only causes a resend.
DEFAULT_LEASE = timedelta(seconds=60)
MAX_ERROR_CHARS = 1000
DEREGISTERED = "callback deregistered before delivery"
REFUSED = "refused by the outbound URL policy, nothing sent: "
# How long delivered and given-up events (and their delivery log) are kept for operators to inspect.
DEFAULT_RETENTION = timedelta(days=7)


def retry_delay(attempt: int, *, rand: Callable[[], float] = random.random) -> timedelta:
    """The wait after failed attempt `attempt` (1-based): 5 s, 10 s, 20 s ... capped at 1 h, minus up to 20 %.

    The random shortening spreads events that failed together (a receiver outage) so they do not return as one burst,
    and never lengthens the nominal delay.
    """
    nominal = min(BASE_DELAY_SECONDS * 2 ** min(max(attempt, 1) - 1, 32), MAX_DELAY_SECONDS)
    return timedelta(seconds=nominal * (1 - JITTER * rand()))


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`, keyed with the secret's UTF-8 bytes (docs/callbacks.md)."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def encode(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def signed_headers(event_id: str, secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Fota-Event-Id": event_id,
        "X-Fota-Timestamp": str(timestamp),
        "X-Fota-Signature": sign(secret, timestamp, body),
    }


@dataclass
class DeliveryReport:
    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    given_up: int = 0
    refused: int = 0  # attempts the outbound URL policy stopped before any connection (also counted as retry/given up)
    more_due: bool = False  # stopped at `max_batches` with work left: the caller should not wait before the next call


@dataclass(frozen=True)
class _Outcome:
    event: ClaimedEvent
    url: str | None  # None: the account has no callback any more
    started: datetime
    finished: datetime
    status_code: int | None
    error: str | None
    refused: bool = False

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def deliver_due(
    *,
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    sender: CallbackSender,
    outbound: OutboundPolicy,
    batch: int = 50,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    concurrency: int = 8,
    max_batches: int = 20,
    lease: timedelta = DEFAULT_LEASE,
    rand: Callable[[], float] = random.random,
) -> DeliveryReport:
    """Sends what is due at the clock's time, `batch` events at a time, at most `max_batches` batches per call."""
    report = DeliveryReport()
    for _ in range(max_batches):
        claimed, registrations = _claim(uow_factory, clock, batch, lease)
        if not claimed:
            return report
        # No transaction is open while sending: the lease alone keeps other passes away from these rows.
        with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(claimed)))) as pool:
            found = [registrations.get(e.account_name) for e in claimed]
            outcomes = list(pool.map(_send, claimed, found, repeat(clock), repeat(sender), repeat(outbound)))
        _record(uow_factory, outcomes, max_attempts, rand, report)
        if len(claimed) < batch:
            return report
    report.more_due = True
    return report


def _claim(
    uow_factory: UnitOfWorkFactory, clock: Clock, batch: int, lease: timedelta
) -> tuple[list[ClaimedEvent], dict[str, CallbackRegistration]]:
    uow = uow_factory()
    with uow:
        now = clock.now()
        claimed = uow.outbox.claim(now, batch, lease_until=now + lease)
        if not claimed:
            return [], {}
        registrations = uow.callbacks.registrations({e.account_name for e in claimed})
        for name, registration in list(registrations.items()):
            if registration.signing_secret is None:
                filled = ensure_signing_secret(uow, name)
                assert filled is not None
                registrations[name] = filled
        uow.commit()
    return claimed, registrations


def _send(
    event: ClaimedEvent,
    registration: CallbackRegistration | None,
    clock: Clock,
    sender: CallbackSender,
    outbound: OutboundPolicy,
) -> _Outcome:
    started = clock.now()
    if registration is None:
        return _Outcome(event, None, started, started, None, DEREGISTERED)
    assert registration.signing_secret is not None
    try:
        # Checked again at every attempt: the name may point elsewhere now, or the operator narrowed the allow list.
        target = outbound.target(registration.url)
    except OutboundRefused as refused:
        log.warning("callback event %s to %s refused: %s", event.event_id, registration.url, refused)
        return _Outcome(event, registration.url, started, clock.now(), None, REFUSED + str(refused), refused=True)
    body = encode(event.payload)
    headers = signed_headers(event.event_id, registration.signing_secret, int(started.timestamp()), body)
    try:
        status_code, error = sender.send(target, body, headers)
    except Exception as failure:
        # A sender bug must not lose the bookkeeping of the attempt; it is retried like an unreachable receiver.
        log.exception("callback sender failed for event %s", event.event_id)
        status_code, error = None, f"{type(failure).__name__}: {failure}"
    if status_code is not None and not 200 <= status_code < 300 and not error:
        error = f"HTTP {status_code}"
    return _Outcome(event, registration.url, started, clock.now(), status_code, error)


def _record(
    uow_factory: UnitOfWorkFactory,
    outcomes: list[_Outcome],
    max_attempts: int,
    rand: Callable[[], float],
    report: DeliveryReport,
) -> None:
    uow = uow_factory()
    with uow:
        uow.outbox.log_attempts(
            [
                DeliveryAttempt(
                    event_id=o.event.event_id,
                    account_name=o.event.account_name,
                    url=o.url,
                    attempt=o.event.attempt,
                    attempted_at=o.started,
                    status_code=o.status_code,
                    error=o.error[:MAX_ERROR_CHARS] if o.error else None,
                    # Durations come from the injected clock too: on a simulated clock an attempt takes no time.
                    duration_ms=max(0, round((o.finished - o.started).total_seconds() * 1000)),
                )
                for o in outcomes
                if o.url is not None
            ]
        )
        for o in outcomes:
            event = o.event
            error = (o.error or "")[:MAX_ERROR_CHARS]
            if o.url is not None:
                report.attempted += 1
            report.refused += o.refused
            if o.succeeded:
                uow.outbox.mark_delivered(event.id, at=o.finished)
                report.delivered += 1
            elif o.url is None or event.attempt >= max_attempts:
                uow.outbox.give_up(event.id, event.attempt, at=o.finished, error=error)
                report.given_up += 1
                log.warning("giving up callback event %s after %d attempts: %s", event.event_id, event.attempt, error)
            else:
                uow.outbox.schedule_retry(
                    event.id, event.attempt, at=o.finished + retry_delay(event.attempt, rand=rand), error=error
                )
                report.retrying += 1
        uow.commit()


def prune(*, uow_factory: UnitOfWorkFactory, clock: Clock, keep: timedelta, batch: int = 1000) -> int:
    """Forgets events delivered or given up more than `keep` ago, with their delivery log; returns how many.

    One batch per call: the engine's sweep calls it every pass, so a backlog (a first run after an upgrade) is worked
    off a batch a second without holding a long transaction.
    """
    uow = uow_factory()
    with uow:
        pruned = uow.outbox.prune(clock.now() - keep, batch)
        uow.commit()
    return pruned
