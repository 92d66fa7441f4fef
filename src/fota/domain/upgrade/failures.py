"""The names a failed upgrade attempt goes by (the contract's retryPolicy names): one per LwM2M Update Result that
reports a failure, and Timeout for a step that got no answer in time."""

from __future__ import annotations

from enum import StrEnum


class Failure(StrEnum):
    """Why an attempt failed, by the name a campaign's retryPolicy uses."""

    NOT_ENOUGH_FLASH = "NotEnoughFlash"
    OUT_OF_MEMORY = "OutOfMemory"
    CONNECTION_LOST = "ConnectionLost"
    INTEGRITY_FAILURE = "IntegrityFailure"
    UNSUPPORTED_PACKAGE = "UnsupportedPackage"
    INVALID_URI = "InvalidUri"
    UPDATE_FAILED = "UpdateFailed"
    UNSUPPORTED_PROTOCOL = "UnsupportedProtocol"
    TIMEOUT = "Timeout"  # no answer within the step's time-out: no Update Result stands for it

    @property
    def update_result(self) -> int | None:
        """The Object 5 Update Result (/5/0/5) this name stands for; None for Timeout."""
        return _RESULTS.get(self)

    @classmethod
    def of_result(cls, update_result: int) -> Failure | None:
        """The name of a failing Update Result; None for 0 and 1 (nothing failed) and for codes the specification
        does not define (a policy cannot speak of what it cannot name)."""
        return _BY_RESULT.get(update_result)


_RESULTS = {
    Failure.NOT_ENOUGH_FLASH: 2,
    Failure.OUT_OF_MEMORY: 3,
    Failure.CONNECTION_LOST: 4,
    Failure.INTEGRITY_FAILURE: 5,
    Failure.UNSUPPORTED_PACKAGE: 6,
    Failure.INVALID_URI: 7,
    Failure.UPDATE_FAILED: 8,
    Failure.UNSUPPORTED_PROTOCOL: 9,
}
_BY_RESULT = {code: failure for failure, code in _RESULTS.items()}
