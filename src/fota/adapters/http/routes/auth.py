"""ThingSpace authentication: the OAuth 2 token endpoint and the M2M session login, logout and password reset."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated
from urllib.parse import parse_qs, unquote

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from fota.adapters.http.api_route import ApiRoute
from fota.adapters.http.dependencies import ServicesDep, bearer_token
from fota.adapters.http.errors import SESSION_ERROR_RESPONSES
from fota.adapters.http.schemas import LoginBody, LoginRead, PasswordResetBody, PasswordResetRead
from fota.domain.errors import TooManyAttempts
from fota.services import auth
from fota.services.throttle import FailureThrottle

router = APIRouter(tags=["authentication"], route_class=ApiRoute)

_TOKEN_SCHEMA = {
    "type": "object",
    "required": ["access_token", "token_type", "expires_in"],
    "properties": {
        "access_token": {"type": "string"},
        "token_type": {"type": "string"},
        "expires_in": {"type": "integer"},
        "scope": {"type": "string"},
    },
}
_OAUTH_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "string",
            "enum": ["invalid_request", "invalid_client", "unsupported_grant_type", "too_many_requests"],
        },
        "error_description": {"type": "string"},
    },
}


async def auth_throttle(services: ServicesDep) -> FailureThrottle:
    """The deployment's failure throttle (shared by every process on PostgreSQL; see services/throttle.py)."""
    return services.throttle


ThrottleDep = Annotated[FailureThrottle, Depends(auth_throttle)]


def _remote(request: Request) -> str | None:
    return request.client.host if request.client is not None else None


def _oauth_error(status: int, error: str, description: str, retry_after: int | None = None) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Basic realm="fota"'} if status == 401 else None
    if retry_after is not None:
        headers = {"Retry-After": str(retry_after)}
    return JSONResponse({"error": error, "error_description": description}, status_code=status, headers=headers)


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    if not authorization:
        return None
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (unquote(client_id), unquote(secret)) if sep else None


@router.post(
    "/api/ts/v1/oauth2/token",
    summary="OAuth 2 client-credentials token (HTTP Basic client authentication, form body)",
    responses={
        200: {"description": "A Bearer access token", "content": {"application/json": {"schema": _TOKEN_SCHEMA}}},
        400: {
            "description": "invalid_request / unsupported_grant_type",
            "content": {"application/json": {"schema": _OAUTH_ERROR}},
        },
        401: {"description": "invalid_client", "content": {"application/json": {"schema": _OAUTH_ERROR}}},
        429: {
            "description": "too_many_requests: too many failures for this client or address; see Retry-After",
            "content": {"application/json": {"schema": _OAUTH_ERROR}},
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["grant_type"],
                        "properties": {
                            "grant_type": {"type": "string", "enum": ["client_credentials"]},
                            "scope": {"type": "string"},
                        },
                    }
                }
            },
        },
    },
)
async def request_token(
    request: Request,
    services: ServicesDep,
    throttle: ThrottleDep,
    authorization: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Issues an OAuth 2 access token for an API client's credentials."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    grant_type = form.get("grant_type", [None])[0]
    credentials = _basic_credentials(authorization)
    if credentials is None and "client_id" in form:
        credentials = (form["client_id"][0], form.get("client_secret", [""])[0])
    if credentials is None:
        return _oauth_error(401, "invalid_client", "client credentials are required (HTTP Basic)")
    if grant_type is None:
        return _oauth_error(400, "invalid_request", "grant_type is required")
    if grant_type != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "only grant_type=client_credentials is supported")
    try:
        issued = auth.issue_access_token(
            uow=services.uow(),
            clock=services.clock,
            hasher=services.hasher,
            client_id=credentials[0],
            client_secret=credentials[1],
            throttle=throttle,
            address=_remote(request),
        )
    except TooManyAttempts as error:
        return _oauth_error(429, "too_many_requests", error.message, retry_after=error.retry_after)
    except auth.ClientAuthFailed:
        return _oauth_error(401, "invalid_client", "unknown client or wrong client secret")
    body = {"access_token": issued.value, "token_type": "bearer", "expires_in": issued.expires_in}
    scope = form.get("scope", [None])[0]
    if scope:
        body["scope"] = scope
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


@router.post("/api/m2m/v1/session/login", responses=SESSION_ERROR_RESPONSES)
def start_session(
    request: Request,
    body: LoginBody,
    services: ServicesDep,
    throttle: ThrottleDep,
    authorization: Annotated[str | None, Header()] = None,
) -> LoginRead:
    """Starts a ThingSpace session (VZ-M2M-Token) for a user of the Bearer token's account."""
    issued = auth.login(
        uow=services.uow(),
        clock=services.clock,
        hasher=services.hasher,
        bearer=bearer_token(authorization),
        username=body.username,
        password=body.password,
        throttle=throttle,
        address=_remote(request),
    )
    return LoginRead(session_token=issued.value)


@router.post("/api/m2m/v1/session/logout", responses=SESSION_ERROR_RESPONSES)
def end_session(
    services: ServicesDep,
    authorization: Annotated[str | None, Header()] = None,
    vz_m2m_token: Annotated[str | None, Header(alias="VZ-M2M-Token")] = None,
) -> LoginRead:
    """Ends the ThingSpace session."""
    auth.logout(
        uow=services.uow(),
        clock=services.clock,
        bearer=bearer_token(authorization),
        session=vz_m2m_token,
        cache=services.tokens,
    )
    assert vz_m2m_token is not None
    return LoginRead(session_token=vz_m2m_token)


@router.put("/api/m2m/v1/session/password/actions/reset", responses=SESSION_ERROR_RESPONSES)
def reset_password(
    body: PasswordResetBody,
    services: ServicesDep,
    authorization: Annotated[str | None, Header()] = None,
    vz_m2m_token: Annotated[str | None, Header(alias="VZ-M2M-Token")] = None,
) -> PasswordResetRead:
    """Replaces the session user's password with a generated one."""
    caller = auth.authorize(
        uow=services.reader(),
        clock=services.clock,
        bearer=bearer_token(authorization),
        session=vz_m2m_token,
        account_name=None,
        cache=services.tokens,
    )
    new_password = auth.reset_password(
        uow=services.uow(), clock=services.clock, hasher=services.hasher, caller=caller, old_password=body.old_password
    )
    return PasswordResetRead(new_password=new_password)
