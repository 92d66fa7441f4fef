"""The `/admin/v1` provisioning API: accounts, API clients, users, devices, callbacks and the simulated clock
(firmware packages, images and signing: admin_firmware.py)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query

from fota.adapters.http.admin_schemas import (
    AccountCreate,
    AccountRead,
    AccountUpdate,
    CallbackDeliveryListRead,
    CallbackDeliveryRead,
    CallbackSigningRead,
    ClientCreate,
    ClientRead,
    ClientRevokeRead,
    ClockRead,
    ClockUpdate,
    DeviceKeyRead,
    DeviceProvisionRead,
    DeviceRead,
    DevicesCreate,
    DeviceSecurityRead,
    DeviceSecurityUpdate,
    DevicesProvisionRead,
    DeviceUpdate,
    UserCreate,
    UserRead,
)
from fota.adapters.http.api_route import ApiRoute
from fota.adapters.http.dependencies import ApiPartsDep, ServicesDep
from fota.adapters.http.errors import ADMIN_ERROR_RESPONSES
from fota.domain.accounts import Account
from fota.domain.devices import Device
from fota.domain.errors import InvalidRequest, NotFound, Unauthorized
from fota.domain.security import DeviceSecurity, SecurityMode
from fota.services import admin, callbacks, device_poll, device_security, device_zones


def require_admin(parts: ApiPartsDep, authorization: Annotated[str | None, Header()] = None) -> None:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), parts.admin_token.encode()):
        raise Unauthorized("the admin API needs 'Authorization: Bearer <FOTA_ADMIN_TOKEN>'")


router = APIRouter(
    prefix="/admin/v1",
    tags=["admin"],
    dependencies=[Depends(require_admin)],
    responses=ADMIN_ERROR_RESPONSES,
    route_class=ApiRoute,
)


def _account_read(account: Account) -> AccountRead:
    return AccountRead(
        account_name=account.name,
        license_count=account.license_count,
        license_used_count=account.licenses_used,
        purchase_type=account.purchase_type,
        require_signed_firmware=account.require_signed_firmware or None,
    )


@router.post("/accounts", status_code=201, response_model_exclude_none=True)
def create_account(body: AccountCreate, services: ServicesDep) -> AccountRead:
    """Creates an account with its license pool."""
    account = admin.create_account(
        uow=services.uow(),
        clock=services.clock,
        name=body.account_name,
        license_count=body.license_count,
        purchase_type=body.purchase_type,
    )
    return _account_read(account)


@router.get("/accounts/{account}", response_model_exclude_none=True)
def get_account(account: str, services: ServicesDep) -> AccountRead:
    """The account with its license counts."""
    return _account_read(admin.get_account(uow=services.reader(), name=account))


@router.patch("/accounts/{account}", response_model_exclude_none=True)
def update_account(account: str, body: AccountUpdate, services: ServicesDep) -> AccountRead:
    """Changes the account's license count."""
    return _account_read(
        admin.set_license_count(
            uow=services.uow(), clock=services.clock, name=account, license_count=body.license_count
        )
    )


@router.post("/accounts/{account}/clients", status_code=201)
def create_client(account: str, body: ClientCreate, services: ServicesDep) -> ClientRead:
    """Creates an API client of the account; its secret is shown once."""
    client_id, secret = admin.create_client(
        uow=services.uow(),
        clock=services.clock,
        hasher=services.hasher,
        account_name=account,
        client_id=body.client_id,
        client_secret=body.client_secret,
    )
    return ClientRead(client_id=client_id, client_secret=secret)


@router.delete("/accounts/{account}/clients/{client_id}")
def revoke_client(account: str, client_id: str, services: ServicesDep) -> ClientRevokeRead:
    """Remove an API client; every access token it was issued is refused at once, in every process."""
    revoked = admin.revoke_client(
        uow=services.uow(), clock=services.clock, account_name=account, client_id=client_id, cache=services.tokens
    )
    return ClientRevokeRead(client_id=client_id, revoked_tokens=revoked)


@router.post("/accounts/{account}/users", status_code=201)
def create_user(account: str, body: UserCreate, services: ServicesDep) -> UserRead:
    """Creates a user of the account (for ThingSpace sessions and the console)."""
    admin.create_user(
        uow=services.uow(),
        clock=services.clock,
        hasher=services.hasher,
        account_name=account,
        username=body.username,
        password=body.password,
    )
    return UserRead(account_name=account, username=body.username)


@router.post("/accounts/{account}/devices", status_code=201)
def provision_devices(account: str, body: DevicesCreate, services: ServicesDep) -> DevicesProvisionRead:
    """Adds devices to the account, or updates those it already has."""
    specs = [
        admin.DeviceSpec(d.device_id, d.make, d.model, d.firmware, d.protocol, d.mdn, d.time_zone)
        for d in body.device_list
    ]
    results = admin.provision_devices(uow=services.uow(), clock=services.clock, account_name=account, specs=specs)
    return DevicesProvisionRead(
        account_name=account,
        device_list=[DeviceProvisionRead(device_id=r.device_id, status=r.status, reason=r.reason) for r in results],
    )


def _device_read(device: Device) -> DeviceRead:
    return DeviceRead(
        device_id=device.device_id,
        account_name=device.account_name,
        mdn=device.mdn,
        make=device.make,
        model=device.model,
        firmware=device.firmware,
        protocol=device.protocol.value,
        license_assigned=device.license_assigned,
        time_zone=device.time_zone,
        time_zone_source=device.time_zone_source.value if device.time_zone_source is not None else None,
        created_at=device.created_at,
        updated_at=device.updated_at,
        firmware_updated_at=device.firmware_updated_at,
        last_seen_at=device.last_seen_at,
    )


@router.get("/accounts/{account}/devices/{device_id}")
def read_device(account: str, device_id: str, services: ServicesDep) -> DeviceRead:
    """One device of the account, with its time zone and where that zone came from."""
    return _device_read(device_zones.get_device(uow=services.reader(), account_name=account, device_id=device_id))


@router.patch("/accounts/{account}/devices/{device_id}")
def update_device(account: str, device_id: str, body: DeviceUpdate, services: ServicesDep) -> DeviceRead:
    """Sets the device's time zone (`{"timeZone": "Europe/Berlin"}`) or clears it (`{"timeZone": null}`).

    A zone set here wins over the one the device reports in its Timezone resource (/3/0/15)."""
    return _device_read(
        device_zones.set_time_zone(
            uow=services.uow(),
            clock=services.clock,
            account_name=account,
            device_id=device_id,
            time_zone=body.time_zone,
        )
    )


@router.post("/accounts/{account}/devices/{device_id}/key", status_code=201)
def issue_device_key(account: str, device_id: str, services: ServicesDep) -> DeviceKeyRead:
    """A secret for an HTTP-protocol device (`Authorization: Bearer <deviceKey>` on /device/v1); shown once."""
    key = device_poll.issue_device_key(
        uow=services.uow(), clock=services.clock, account_name=account, device_id=device_id
    )
    return DeviceKeyRead(device_id=device_id, device_key=key)


def _security_read(security: DeviceSecurity) -> DeviceSecurityRead:
    return DeviceSecurityRead(
        device_id=security.device_id, mode=security.mode.value, psk_identity=security.psk_identity
    )


@router.put("/accounts/{account}/devices/{device_id}/security", response_model_exclude_none=True)
def set_device_security(
    account: str, device_id: str, body: DeviceSecurityUpdate, services: ServicesDep
) -> DeviceSecurityRead:
    """The device's LwM2M security: `psk` (DTLS with this identity and hex key, stored encrypted) or `nosec`."""
    security = device_security.set_security(
        uow=services.uow(),
        clock=services.clock,
        cipher=services.cipher,
        account_name=account,
        device_id=device_id,
        mode=SecurityMode(body.mode),
        psk_identity=body.psk_identity,
        psk_key_hex=body.psk_key,
    )
    return _security_read(security)


@router.get("/accounts/{account}/devices/{device_id}/security", response_model_exclude_none=True)
def get_device_security(account: str, device_id: str, services: ServicesDep) -> DeviceSecurityRead:
    """The device's security mode and PSK identity; the key is never shown."""
    return _security_read(
        device_security.get_security(uow=services.reader(), account_name=account, device_id=device_id)
    )


@router.get("/clock")
def read_clock(services: ServicesDep) -> ClockRead:
    """The server's clock, and whether it is simulated."""
    return ClockRead(now=services.clock.now(), simulated=services.simulated_clock is not None)


@router.post("/clock")
def move_clock(body: ClockUpdate, parts: ApiPartsDep) -> ClockRead:
    """Moves the simulated clock, then runs the engine so the new time's transitions are visible at once."""
    clock = parts.services.simulated_clock
    if clock is None:
        raise NotFound("the server runs on the system clock; start it with --simulated-clock to move time")
    if (body.now is None) == (body.advance_seconds is None):
        raise InvalidRequest("give exactly one of now (RFC 3339) or advanceSeconds")
    try:
        if body.now is not None:
            if body.now.tzinfo is None:
                raise InvalidRequest("now must carry a UTC offset, e.g. 2026-12-01T18:00:00Z")
            clock.set(body.now)
        else:
            assert body.advance_seconds is not None
            clock.advance(body.advance_seconds)
    except (ValueError, OverflowError) as error:
        raise InvalidRequest(f"cannot move the clock there: {error}") from None
    parts.run_due_work()
    return ClockRead(now=clock.now(), simulated=True)


@router.get("/accounts/{account}/callback")
def read_callback_signing(account: str, services: ServicesDep) -> CallbackSigningRead:
    """The callback URL and the secret its receiver verifies `X-Fota-Signature` with (docs/callbacks.md)."""
    registration = callbacks.signing_registration(uow=services.uow(), account_name=account)
    assert registration.signing_secret is not None
    return CallbackSigningRead(url=registration.url, signing_secret=registration.signing_secret)


@router.get("/accounts/{account}/callback-deliveries")
def read_callback_deliveries(
    account: str,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=callbacks.MAX_LOG_PAGE)] = 100,
    before_id: Annotated[int | None, Query(alias="beforeId", ge=1)] = None,
) -> CallbackDeliveryListRead:
    """Delivery attempts, newest first; pass the last page's `nextBeforeId` as `beforeId` for the next page."""
    attempts = callbacks.delivery_log(uow=services.reader(), account_name=account, before_id=before_id, limit=limit)
    items = [
        CallbackDeliveryRead(
            id=a.id or 0,
            event_id=a.event_id,
            url=a.url,
            attempt=a.attempt,
            attempted_at=a.attempted_at,
            status_code=a.status_code,
            error=a.error,
            duration_ms=a.duration_ms,
        )
        for a in attempts
    ]
    next_before = items[-1].id if len(items) == limit else None
    return CallbackDeliveryListRead(account_name=account, delivery_list=items, next_before_id=next_before)
