"""Domain errors. The HTTP adapter maps each class to one status code, in one place."""

from __future__ import annotations


class DomainError(Exception):
    code = "InvalidRequest"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(DomainError):
    """The request is malformed or breaks a rule (400)."""


class InvalidState(DomainError):
    """The operation is not allowed in the campaign's current status (400)."""

    code = "InvalidCampaignState"


class NotFound(DomainError):
    code = "NotFound"


class Unauthorized(DomainError):
    code = "Unauthorized"


class Forbidden(DomainError):
    code = "Forbidden"


class Conflict(DomainError):
    code = "Conflict"


class InvalidCredentials(DomainError):
    code = "InvalidCredentials"


class TooManyAttempts(DomainError):
    """Too many failed authentication attempts for a client, user or address (429 with Retry-After)."""

    code = "TooManyRequests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
