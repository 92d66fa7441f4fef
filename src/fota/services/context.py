"""What the use cases are run with: unit-of-work factories, the clock, the upgrade policy and the collaborators behind
the ports. The edges (HTTP, console, LwM2M, the loops) take one of these; `fota.runtime` builds it from the settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fota.clock import Clock, MovableClock
from fota.domain.upgrade import UpgradePolicy
from fota.services.outbound import OutboundPolicy
from fota.services.ports import (
    CallbackSender,
    Exclusive,
    KeyCipher,
    PasswordHasher,
    RefusalLedger,
    SignatureVerifier,
    UnitOfWorkFactory,
)
from fota.services.report_pages import ReportPages
from fota.services.throttle import FailureThrottle
from fota.services.token_cache import TokenCache


@dataclass(frozen=True)
class ServiceContext:
    uow: UnitOfWorkFactory  # a unit of work that may write
    reader: UnitOfWorkFactory  # a unit of work for use cases that only read (never blocks on SQLite's writer)
    # A reader for the event loop's own thread, on a connection it keeps: SQLite, whose one-row reads never wait for
    # the writer. None where reads are network round trips, which go to the thread pool.
    loop_reader: UnitOfWorkFactory | None
    exclusive: Exclusive  # one process at a time in a section (the engine's tick)
    clock: Clock
    hasher: PasswordHasher
    verifier: SignatureVerifier
    sender: CallbackSender
    outbound: OutboundPolicy
    throttle: FailureThrottle  # login failures; shared by every process on PostgreSQL
    # Validated API and console tokens; on PostgreSQL trusted only while the process hears revocations.
    tokens: TokenCache
    cipher: KeyCipher | None  # stored PSKs; None without FOTA_SECRET_KEY, and then no PSK is stored or read
    refusal_ledger: RefusalLedger | None  # the CoAP refusal budget's, shared on PostgreSQL
    policy: UpgradePolicy = field(default_factory=UpgradePolicy)
    # Device report pages, served again while the database says the report is unchanged (ADR 43).
    report_pages: ReportPages = field(default_factory=ReportPages)
    # Every firmware image must carry a verified publisher signature (ADR 16); accounts can require it one by one.
    require_signed_firmware: bool = False

    @property
    def simulated_clock(self) -> MovableClock | None:
        return self.clock if isinstance(self.clock, MovableClock) else None
