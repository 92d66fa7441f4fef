"""The one place domain errors become HTTP status codes, and every error becomes `{errorCode, errorMessage}`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from fota.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidCredentials,
    InvalidRequest,
    InvalidState,
    NotFound,
    TooManyAttempts,
    Unauthorized,
)

log = logging.getLogger(__name__)

STATUS_OF: dict[type[DomainError], int] = {
    InvalidRequest: 400,
    InvalidState: 400,
    InvalidCredentials: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooManyAttempts: 429,
}

HTTP_CODES = {
    400: "InvalidRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    429: "TooManyRequests",
}


_ERROR_SCHEMA: dict[str, Any] = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["errorCode", "errorMessage"],
                "properties": {"errorCode": {"type": "string"}, "errorMessage": {"type": "string"}},
            }
        }
    }
}
# Documented on every ThingSpace route: what a client can get besides the 2xx body.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid request (the SDK raises its typed result exception)", **_ERROR_SCHEMA},
    401: {"description": "Missing, invalid, revoked or expired Bearer token or VZ-M2M-Token", **_ERROR_SCHEMA},
    403: {"description": "The tokens belong to another account", **_ERROR_SCHEMA},
    404: {"description": "Unknown campaign or device of this account", **_ERROR_SCHEMA},
}
# A v3 campaign operation its campaign's state does not allow (a follow-up of a campaign still running, ...).
STATE_CONFLICT_RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {"description": "The campaign's state does not allow it", **_ERROR_SCHEMA},
}
# The rollout operations besides ERROR_RESPONSES (fota-extensions.md §2).
ROLLOUT_RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "The campaign has no rollout, is final, or its rollout's state does not allow it",
        **_ERROR_SCHEMA,
    },
}
# Session login, logout and password reset (400 InvalidCredentials, 401 bad Bearer, 429 too many failures).
SESSION_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid request or InvalidCredentials", **_ERROR_SCHEMA},
    401: ERROR_RESPONSES[401],
    429: {"description": "Too many failed logins; retry after Retry-After seconds", **_ERROR_SCHEMA},
}
# The HTTP device protocol: a bad body (400), a missing or wrong device key (401).
DEVICE_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: ERROR_RESPONSES[400],
    401: {"description": "Missing or wrong device key", **_ERROR_SCHEMA},
}
ADMIN_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: ERROR_RESPONSES[400],
    401: {"description": "Missing or wrong admin token", **_ERROR_SCHEMA},
    404: {"description": "Unknown account, firmware or device; or no simulated clock", **_ERROR_SCHEMA},
    409: {"description": "It exists already", **_ERROR_SCHEMA},
}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"errorCode": code, "errorMessage": message}, status_code=status, headers=headers)


def domain_error_response(error: DomainError) -> JSONResponse:
    """A domain error in the API's shape, with its status (and for a 401 or a 429 the header the client needs)."""
    status = STATUS_OF.get(type(error), 400)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(error, TooManyAttempts):
        headers = {"Retry-After": str(error.retry_after)}
    return error_response(status, error.code, error.message, headers)


def describe_validation_errors(errors: Any) -> str:
    parts = []
    for error in errors:
        if error.get("type") == "json_invalid":
            return "the request body is not valid JSON"
        location = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        message = str(error.get("msg", "invalid value"))
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, error: DomainError) -> JSONResponse:
        return domain_error_response(error)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, error: RequestValidationError) -> JSONResponse:
        return error_response(400, "InvalidRequest", describe_validation_errors(error.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(error.status_code, "Error")
        return error_response(error.status_code, code, str(error.detail), getattr(error, "headers", None))

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, error: IntegrityError) -> JSONResponse:
        # Two requests raced to create the same thing; the loser's transaction was rolled back whole.
        log.warning("integrity conflict on %s %s: %s", request.method, request.url.path, error.orig)
        return error_response(409, "Conflict", "a concurrent request changed the same data; nothing was stored, retry")

    @app.exception_handler(DataError)
    async def _data(request: Request, error: DataError) -> JSONResponse:
        log.warning("value rejected by the database on %s %s: %s", request.method, request.url.path, error.orig)
        return error_response(400, "InvalidRequest", "a value is too long or out of range for its field")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "InternalError", "the server failed to handle the request; it has been logged")
