"""v1 callbacks: the account's callback as the named service `Fota`, with credentials echoed in its messages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from fota.adapters.http import stated
from fota.adapters.http.api_route import ApiRoute
from fota.adapters.http.dependencies import CallerDep, ServicesDep
from fota.adapters.http.errors import ERROR_RESPONSES
from fota.adapters.http.v1.schemas import (
    V1CallbackServiceCreate,
    V1CallbackServiceRead,
    V1RegisteredCallbackRead,
    V1SuccessRead,
)
from fota.services import callbacks
from fota.services.callbacks import FOTA_SERVICE

router = APIRouter(prefix="/api/fota/v1", tags=["v1 callbacks"], responses=ERROR_RESPONSES, route_class=ApiRoute)


@router.get("/callbacks/{account}", response_model_exclude_none=True)
def list_registered_callbacks(account: str, services: ServicesDep, _: CallerDep) -> list[V1RegisteredCallbackRead]:
    """The account's registered callback services: the `Fota` service, or none."""
    return [
        V1RegisteredCallbackRead(
            aname=account, name=FOTA_SERVICE, url=r.url, username=r.username or None, password=r.password or None
        )
        for r in callbacks.registered_services(uow=services.reader(), account_name=account)
    ]


@router.post("/callbacks/{account}")
def register_callback(
    account: str, body: V1CallbackServiceCreate, services: ServicesDep, _: CallerDep
) -> V1CallbackServiceRead:
    """Registers the URL of the `Fota` service; its messages are in v1's shape."""
    callbacks.register_service(
        uow=services.uow(),
        clock=services.clock,
        outbound=services.outbound,
        account_name=account,
        name=body.name,
        url=body.url,
        username=body.username,
        password=body.password,
    )
    return V1CallbackServiceRead(account_name=account, service_name=FOTA_SERVICE)


@router.delete("/callbacks/{account}/name/{service}")
def deregister_callback(
    account: str,
    service: Annotated[str, Path(json_schema_extra=stated.one_of(FOTA_SERVICE))],
    services: ServicesDep,
    _: CallerDep,
) -> V1SuccessRead:
    """Deregisters the named callback service (`Fota`)."""
    callbacks.deregister_service(uow=services.uow(), account_name=account, name=service)
    return V1SuccessRead(success=True)
