"""FastAPI dependencies: the wired container, and the caller of a ThingSpace call, checked against the path."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import Depends, Header, Path, Request
from starlette.concurrency import run_in_threadpool

from fota.bootstrap import Container
from fota.domain.errors import Unauthorized
from fota.services import auth
from fota.services.auth import Caller


async def container(request: Request) -> Container:
    value = request.app.state.container
    assert isinstance(value, Container)
    return value


ContainerDep = Annotated[Container, Depends(container)]


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return value.strip()


async def account_caller(
    c: ContainerDep,
    account: Annotated[str, Path(description="billing account name, e.g. 0000123456-00001")],
    authorization: Annotated[str | None, Header()] = None,
    vz_m2m_token: Annotated[str | None, Header(alias="VZ-M2M-Token")] = None,
) -> Caller:
    # Async, so that a call whose tokens are cached is authorised on the event loop with no thread hop and no read;
    # only a cache miss goes to the thread pool, for one read transaction.
    bearer = bearer_token(authorization)
    cached = auth.cached_caller(
        clock=c.clock, bearer=bearer, session=vz_m2m_token, account_name=account, cache=c.tokens
    )
    if cached is not None:
        return cached
    return await run_in_threadpool(
        partial(
            auth.authorize,
            uow=c.reader(),
            clock=c.clock,
            bearer=bearer,
            session=vz_m2m_token,
            account_name=account,
            cache=c.tokens,
        )
    )


CallerDep = Annotated[Caller, Depends(account_caller)]
