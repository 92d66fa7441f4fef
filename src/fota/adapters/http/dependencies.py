"""FastAPI dependencies: the parts the app was built from, the services, and the caller of a ThingSpace call,
checked against the path's account (or, for a route that names it in the body, against nothing yet)."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import Depends, Path, Request, Security
from fastapi.security import APIKeyHeader, HTTPBearer
from starlette.concurrency import run_in_threadpool

from fota.adapters.http.parts import ApiParts
from fota.domain.errors import Unauthorized
from fota.services import auth
from fota.services.auth import Caller
from fota.services.context import ServiceContext


async def api_parts(request: Request) -> ApiParts:
    value = request.app.state.parts
    assert isinstance(value, ApiParts)
    return value


async def service_context(request: Request) -> ServiceContext:
    value = request.app.state.parts
    assert isinstance(value, ApiParts)
    return value.services


ApiPartsDep = Annotated[ApiParts, Depends(api_parts)]
ServicesDep = Annotated[ServiceContext, Depends(service_context)]


class RawBearer(HTTPBearer):
    """The Bearer scheme in the OpenAPI document; the raw Authorization header for the route, which `bearer_token`
    checks so that a malformed one gets the API's own 401 rather than FastAPI's 403.

    A security dependency reads the header itself: FastAPI's per-request work for a declared `Header()` parameter
    cost more than the rest of a cached authorisation."""

    async def __call__(self, request: Request) -> str | None:  # type: ignore[override]
        return request.headers.get("Authorization")


BEARER = RawBearer(
    scheme_name="bearer", description="The OAuth2 access token: POST /api/ts/v1/oauth2/token", auto_error=False
)
SESSION = APIKeyHeader(
    name="VZ-M2M-Token",
    scheme_name="session",
    description="The session token: POST /api/m2m/v1/session/login",
    auto_error=False,
)
AuthorizationDep = Annotated[str | None, Security(BEARER)]
SessionDep = Annotated[str | None, Security(SESSION)]


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return value.strip()


async def _caller(
    services: ServiceContext, authorization: str | None, session: str | None, account: str | None
) -> Caller:
    # Async, so that a call whose tokens are cached is authorised on the event loop with no thread hop and no read;
    # only a cache miss goes to the thread pool, for one read transaction.
    bearer = bearer_token(authorization)
    cached = auth.cached_caller(
        clock=services.clock, bearer=bearer, session=session, account_name=account, cache=services.tokens
    )
    if cached is not None:
        return cached
    return await run_in_threadpool(
        partial(
            auth.authorize,
            uow=services.reader(),
            clock=services.clock,
            bearer=bearer,
            session=session,
            account_name=account,
            cache=services.tokens,
        )
    )


async def account_caller(
    services: ServicesDep,
    account: Annotated[str, Path(description="billing account name, e.g. 0000123456-00001")],
    authorization: AuthorizationDep,
    vz_m2m_token: SessionDep,
) -> Caller:
    return await _caller(services, authorization, vz_m2m_token, account)


CallerDep = Annotated[Caller, Depends(account_caller)]


async def token_caller(services: ServicesDep, authorization: AuthorizationDep, vz_m2m_token: SessionDep) -> Caller:
    """The caller of a route whose account is in the body (v1's POST /upgrades): the tokens are checked before the
    body is read, and the route compares the body's account with the caller's."""
    return await _caller(services, authorization, vz_m2m_token, None)


TokenCallerDep = Annotated[Caller, Depends(token_caller)]
