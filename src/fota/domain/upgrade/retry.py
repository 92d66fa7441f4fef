"""A campaign's retry policy (the contract's `retryPolicy`): how many attempts a device gets, the back-off between
them and the failures never retried; read from plain values (a request body or a stored row) and written back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from fota.domain.errors import InvalidRequest
from fota.domain.upgrade.failures import Failure
from fota.domain.upgrade.model import TRANSIENT_RESULTS, Outcome

MAX_ATTEMPTS = 100
MAX_BACKOFF_SECONDS = 30 * 24 * 3600  # a month: longer waits outlive any campaign worth retrying in
MAX_BACKOFF_STEPS = 100

# A field left out keeps the server's own rule for it (UpgradePolicy and TRANSIENT_RESULTS): 3 attempts, back-off
# doubling from a minute up to an hour, only the transient Update Results and the time-outs retried.
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_BACKOFF_SECONDS = (60, 120, 240, 480, 960, 1920, 3600)
DEFAULT_NEVER_RETRY = frozenset(
    failure
    for failure in Failure
    if failure.update_result is not None and failure.update_result not in TRANSIENT_RESULTS
)

_FIELDS = ("maxAttempts", "backoffSeconds", "neverRetry")


@dataclass(frozen=True)
class RetryPolicy:
    """Attempt `n` that fails is followed by attempt `n + 1` after `backoff_seconds[n - 1]` (the last value
    repeats) while `n < max_attempts`, unless its failure is in `never_retry`. Build it from outside values with
    `from_plain`, which checks them."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff_seconds: tuple[int, ...] = DEFAULT_BACKOFF_SECONDS
    never_retry: frozenset[Failure] = DEFAULT_NEVER_RETRY

    @classmethod
    def from_plain(cls, value: object) -> RetryPolicy:
        """From the contract's JSON object; InvalidRequest naming the first field that is wrong."""
        if not isinstance(value, Mapping):
            raise InvalidRequest("retryPolicy must be an object with maxAttempts, backoffSeconds and neverRetry")
        for key in value:
            if key not in _FIELDS:
                raise InvalidRequest(f"retryPolicy.{key} is not a field: use {', '.join(_FIELDS)}")
        max_attempts = value.get("maxAttempts")
        backoff = value.get("backoffSeconds")
        never = value.get("neverRetry")
        return cls(
            max_attempts=DEFAULT_MAX_ATTEMPTS if max_attempts is None else _attempts(max_attempts),
            backoff_seconds=DEFAULT_BACKOFF_SECONDS if backoff is None else _backoff(backoff),
            never_retry=DEFAULT_NEVER_RETRY if never is None else _never_retry(never),
        )

    def to_plain(self) -> dict[str, object]:
        """The contract's JSON object, every field filled in (a stored row reads back with `from_plain`)."""
        return {
            "maxAttempts": self.max_attempts,
            "backoffSeconds": list(self.backoff_seconds),
            "neverRetry": [failure.value for failure in Failure if failure in self.never_retry],
        }

    def backoff(self, attempts: int) -> timedelta:
        """The wait after failed attempt number `attempts` (1 for the first)."""
        index = min(max(attempts, 1), len(self.backoff_seconds)) - 1
        return timedelta(seconds=self.backoff_seconds[index])

    def retry_at(self, attempts: int, now: datetime) -> datetime | None:
        """When attempt `attempts + 1` may start, or None when the attempts are used up."""
        return None if attempts >= self.max_attempts else now + self.backoff(attempts)

    def refusal(self, outcome: Outcome) -> str | None:
        """Why a failed `outcome` is not retried whatever attempts remain (the device's final reason), or None
        when it may be retried.

        An outcome that is not safe to repeat (a time-out after an executed Update) is never retried, even when
        the policy retries its name: the policy chooses among the retries that cannot flash a device twice.
        """
        if not outcome.safe_to_repeat or outcome.failure is None:
            return outcome.reason
        if outcome.failure in self.never_retry:
            return f"{outcome.reason} ({outcome.failure.value} is never retried)"
        return None


def _whole_in(value: object, low: int, high: int) -> int | None:
    """`value` when it is a whole number low-high (JSON true is not 1 here), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    return None


def _attempts(value: object) -> int:
    attempts = _whole_in(value, 1, MAX_ATTEMPTS)
    if attempts is None:
        raise InvalidRequest(f"retryPolicy.maxAttempts must be a whole number 1-{MAX_ATTEMPTS}")
    return attempts


def _backoff(value: object) -> tuple[int, ...]:
    steps = [_whole_in(seconds, 1, MAX_BACKOFF_SECONDS) for seconds in value] if isinstance(value, list) else []
    if not 1 <= len(steps) <= MAX_BACKOFF_STEPS or None in steps:
        raise InvalidRequest(
            f"retryPolicy.backoffSeconds must be a list of 1-{MAX_BACKOFF_STEPS} whole numbers of seconds, "
            f"each 1-{MAX_BACKOFF_SECONDS}"
        )
    return tuple(seconds for seconds in steps if seconds is not None)


def _never_retry(value: object) -> frozenset[Failure]:
    if not isinstance(value, list):
        raise InvalidRequest("retryPolicy.neverRetry must be a list of failure names")
    names = {failure.value: failure for failure in Failure}
    for name in value:
        if not isinstance(name, str) or name not in names:
            raise InvalidRequest(f"retryPolicy.neverRetry: unknown failure {name!r}; use {', '.join(names)}")
    return frozenset(names[name] for name in value)
