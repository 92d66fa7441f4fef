"""`/admin/v1/accounts/{account}/devices/{device_id}/bootstrap`: a device's LwM2M bootstrap settings."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from fota.adapters.http.api_route import ApiRoute
from fota.adapters.http.bootstrap_schemas import DeviceBootstrapRead, DeviceBootstrapUpdate
from fota.adapters.http.dependencies import ServicesDep
from fota.adapters.http.errors import ADMIN_ERROR_RESPONSES
from fota.adapters.http.routes.admin import require_admin
from fota.domain.bootstrap import BootstrapSettings, ManagementAccount
from fota.domain.security import SecurityMode
from fota.services import device_bootstrap
from fota.services.events import rfc3339

router = APIRouter(
    prefix="/admin/v1",
    tags=["admin"],
    dependencies=[Depends(require_admin)],
    responses=ADMIN_ERROR_RESPONSES,
    route_class=ApiRoute,
)


def _read(settings: BootstrapSettings) -> DeviceBootstrapRead:
    account = settings.account
    return DeviceBootstrapRead(
        device_id=settings.device_id,
        bootstrap_mode=settings.bootstrap_mode.value,
        bootstrap_psk_identity=settings.bootstrap_identity,
        server_uri=account.server_uri,
        security_mode=account.security_mode.value,
        short_server_id=account.short_server_id,
        lifetime=account.lifetime,
        binding=account.binding,
        disable_timeout=account.disable_timeout,
        communication_retry_count=account.retry_count,
        communication_retry_timer=account.retry_timer,
        communication_sequence_delay_timer=account.sequence_delay,
        communication_sequence_retry_count=account.sequence_retry_count,
        bootstrap_count=settings.bootstraps,
        last_bootstrap_time=rfc3339(settings.last_bootstrap_at) if settings.last_bootstrap_at else None,
    )


@router.put("/accounts/{account}/devices/{device_id}/bootstrap", response_model_exclude_none=True)
def set_device_bootstrap(
    account: str, device_id: str, body: DeviceBootstrapUpdate, services: ServicesDep
) -> DeviceBootstrapRead:
    """How the device bootstraps (its factory bootstrap PSK, or NoSec) and the management account it is given.

    Each bootstrap generates a new management PSK, writes it to the device and stores it encrypted: the earlier
    key stops working. No key is ever shown.
    """
    settings = device_bootstrap.set_bootstrap(
        uow=services.uow(),
        clock=services.clock,
        cipher=services.cipher,
        account_name=account,
        device_id=device_id,
        bootstrap_mode=SecurityMode(body.bootstrap_mode),
        bootstrap_identity=body.bootstrap_psk_identity,
        bootstrap_key_hex=body.bootstrap_psk_key,
        account=ManagementAccount(
            server_uri=body.server_uri,
            security_mode=SecurityMode(body.security_mode),
            short_server_id=body.short_server_id,
            lifetime=body.lifetime,
            binding=body.binding,
            disable_timeout=body.disable_timeout,
            retry_count=body.communication_retry_count,
            retry_timer=body.communication_retry_timer,
            sequence_delay=body.communication_sequence_delay_timer,
            sequence_retry_count=body.communication_sequence_retry_count,
        ),
    )
    return _read(settings)


@router.get("/accounts/{account}/devices/{device_id}/bootstrap", response_model_exclude_none=True)
def get_device_bootstrap(account: str, device_id: str, services: ServicesDep) -> DeviceBootstrapRead:
    """The device's bootstrap settings and how often it bootstrapped; 404 when it has none."""
    return _read(device_bootstrap.get_bootstrap(uow=services.reader(), account_name=account, device_id=device_id))
