"""What one device's firmware upgrade through the LwM2M Firmware Update object (Object 5) is made of: the object's
states and results, the stored steps, the device's assignment, time-outs and retries, and how a result reads."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum

from fota.domain.upgrade.failures import Failure


class UpdateState(IntEnum):
    """Object 5 resource 3."""

    IDLE = 0
    DOWNLOADING = 1
    DOWNLOADED = 2
    UPDATING = 3


class DeliveryMethod(IntEnum):
    """Object 5 resource 9 (LwM2M 1.1)."""

    PULL = 0
    PUSH = 1
    BOTH = 2


class TransferProtocol(IntEnum):
    """Object 5 resource 8 (Firmware Update Protocol Support)."""

    COAP = 0
    COAPS = 1
    HTTP = 2
    HTTPS = 3


# Object 5 resource 5, Update Result, as the specification words them.
UPDATE_RESULTS = {
    0: "Initial value",
    1: "Firmware updated successfully",
    2: "Not enough flash memory for the new firmware package",
    3: "Out of RAM during downloading process",
    4: "Connection lost during downloading process",
    5: "Integrity check failure for new downloaded package",
    6: "Unsupported package type",
    7: "Invalid URI",
    8: "Firmware update failed",
    9: "Unsupported protocol",
}

# Results that another attempt may cure: memory pressure, a lost link, a corrupted transfer.
TRANSIENT_RESULTS = frozenset({3, 4, 5})


class Step(StrEnum):
    """Where an upgrade in progress stands; stored with the campaign-device row."""

    STARTING = "Starting"  # claimed; the package is being offered to the device
    DOWNLOADING = "Downloading"  # Package URI written or push under way; waiting for State 2
    DOWNLOADED = "Downloaded"  # State 2 seen; Update about to be executed
    UPDATING = "Updating"  # Update executed; waiting for the device to come back and report

    @property
    def reason(self) -> str:
        """The report's resultReason: Downloading, Downloaded or Updating."""
        return Step.DOWNLOADING.value if self is Step.STARTING else self.value

    @property
    def reached_from(self) -> tuple[Step, ...]:
        """The steps an upgrade may be at when it moves to this one (Starting is claimed from pending instead)."""
        return _REACHED_FROM[self]


_REACHED_FROM = {
    Step.STARTING: (),
    Step.DOWNLOADING: (Step.STARTING, Step.DOWNLOADING),  # the offer, or an offer again (a device lost it)
    Step.DOWNLOADED: (Step.STARTING, Step.DOWNLOADING),  # a device may report State 2 before the offer is recorded
    Step.UPDATING: (Step.DOWNLOADED,),
}


@dataclass(frozen=True)
class UpgradePolicy:
    """Time-outs and retries; all durations on the injected clock."""

    start_timeout: timedelta = timedelta(minutes=5)
    download_timeout: timedelta = timedelta(hours=2)
    update_timeout: timedelta = timedelta(minutes=30)
    max_attempts: int = 3
    retry_base: timedelta = timedelta(minutes=1)
    retry_max: timedelta = timedelta(hours=1)
    download_link_lifetime: timedelta = timedelta(hours=6)

    def deadline(self, step: Step, now: datetime) -> datetime:
        if step is Step.STARTING:
            return now + self.start_timeout
        if step in (Step.DOWNLOADING, Step.DOWNLOADED):
            return now + self.download_timeout
        return now + self.update_timeout

    def retry_at(self, attempts: int, now: datetime) -> datetime | None:
        """When attempt `attempts + 1` may start, or None when the attempts are used up."""
        if attempts >= self.max_attempts:
            return None
        delay: timedelta = self.retry_base * (2 ** max(0, attempts - 1))
        return now + min(delay, self.retry_max)


@dataclass(frozen=True)
class Assignment:
    """A device's current campaign assignment: the upgrade it has to start (step None) or to resume, with the
    campaign's gates as they were when it was read."""

    campaign_id: str
    account_name: str
    firmware_name: str
    firmware_to: str
    step: Step | None
    attempts: int
    delivery: str | None
    update_executed: bool
    package_kind: str = "firmware"
    may_download: bool = True  # a download window is open now (a package offer may go out)
    may_install: bool = True  # the campaign lets a downloaded package be installed now
    install_wait_until: datetime | None = None  # if not now, until when a downloaded package may wait for it
    install_gated: bool = False  # the campaign has an install rule of its own (v2 install windows/after-date)
    deadline: datetime | None = None  # when the current step times out; None before the attempt is claimed
    device_zone: str | None = None  # the device's own time zone as stored: the gates are read again in it
    wave: int | None = None  # the device's rollout wave, which the claim checks again; None without a rollout

    @property
    def changes_firmware(self) -> bool:
        """False for a configuration file: installing it leaves the firmware version as it was."""
        return self.package_kind != "file"

    def claimed(self, policy: UpgradePolicy, now: datetime) -> Assignment:
        """As it stands once a new attempt was claimed at `now`."""
        return replace(
            self, step=Step.STARTING, attempts=self.attempts + 1, deadline=policy.deadline(Step.STARTING, now)
        )

    def moved_to(self, step: Step, policy: UpgradePolicy, now: datetime) -> Assignment:
        """As it stands once `step` was recorded at `now`."""
        return replace(self, step=step, deadline=policy.deadline(step, now))


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended: success, a failure to retry, or a final failure.

    `retryable` is the server's own rule (no campaign retryPolicy); a campaign's policy decides by `failure`
    instead, the failure's name (None on success, and for an Update Result the specification does not define).
    `safe_to_repeat` is False when another attempt could flash the device twice: no policy retries it then.
    The name is derived from the same fact as `reason`, which names it already, so equality leaves it out.
    """

    success: bool
    reason: str
    retryable: bool = False
    failure: Failure | None = field(default=None, compare=False)
    safe_to_repeat: bool = True


def outcome_of_result(update_result: int) -> Outcome | None:
    """Interprets Update Result after a download or an Update; None while nothing is decided (0)."""
    if update_result == 0:
        return None
    text = UPDATE_RESULTS.get(update_result, f"unknown Update Result {update_result}")
    if update_result == 1:
        return Outcome(True, text)
    return Outcome(
        False,
        f"Update Result {update_result}: {text}",
        retryable=update_result in TRANSIENT_RESULTS,
        failure=Failure.of_result(update_result),
    )


def outcome_after_reboot(
    update_result: int, reported_firmware: str | None, firmware_to: str, *, firmware_must_match: bool = True
) -> Outcome:
    """After an executed Update the device must report Update Result 1 AND run firmwareTo.

    A configuration file (`firmware_must_match` False) changes no firmware: Update Result 1 is the whole proof.
    A device that comes back without a result, or on other firmware, did not take the update: UpdateFailed. It
    answered, so another attempt starts from a known state (unlike a time-out after the Update).
    """
    decided = outcome_of_result(update_result)
    if decided is not None and not decided.success:
        return decided
    if decided is None:
        return Outcome(
            False,
            f"device came back on firmware {reported_firmware!r} without an Update Result",
            failure=Failure.UPDATE_FAILED,
        )
    if not firmware_must_match:
        return Outcome(True, f"Configuration file {firmware_to} installed successfully")
    if reported_firmware != firmware_to:
        return Outcome(
            False,
            f"firmware mismatch after reboot: device reports {reported_firmware!r}, expected {firmware_to!r}",
            failure=Failure.UPDATE_FAILED,
        )
    return Outcome(True, f"Upgrade completed successfully: device runs {firmware_to}")


def choose_delivery(method: DeliveryMethod | None) -> DeliveryMethod:
    """Pull when the device can (a URL is cheaper for both sides), push only for push-only devices."""
    return DeliveryMethod.PUSH if method is DeliveryMethod.PUSH else DeliveryMethod.PULL


def choose_transfer(supported: set[int]) -> TransferProtocol:
    """CoAP when supported or undeclared (1.0 devices may not expose resource 8), else HTTP."""
    if not supported or TransferProtocol.COAP in supported:
        return TransferProtocol.COAP
    if TransferProtocol.HTTP in supported:
        return TransferProtocol.HTTP
    return TransferProtocol.COAP
