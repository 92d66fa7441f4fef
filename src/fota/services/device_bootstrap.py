"""LwM2M bootstrap use cases: the operator's bootstrap settings of a device, and each bootstrap the device runs.

A bootstrap is admitted by `device_security.admission_refusal_in`, as registrations are; its management key is
generated here, stored encrypted in `device_security` (replacing any earlier key) and recorded in the device's history.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace

from fota.clock import Clock
from fota.domain.bootstrap import BootstrapSettings, ManagementAccount, management_identity
from fota.domain.errors import Conflict, InvalidRequest, NotFound
from fota.domain.security import MAX_KEY_BYTES, DeviceSecurity, LwM2MServer, SecurityMode, check_psk
from fota.services import events
from fota.services.device_security import PskEntry, admission_refusal_in, decrypted
from fota.services.ports import HistoryEntry, KeyCipher, UnitOfWork

BOOTSTRAP_SETTINGS_CHANGED = "BootstrapSettingsChanged"
BOOTSTRAPPED = "Bootstrapped"
BOOTSTRAP_FAILED = "BootstrapFailed"


def _device_account(uow: UnitOfWork, account_name: str, device_id: str) -> None:
    device = uow.devices.get(device_id)
    if device is None or device.account_name != account_name:
        raise NotFound(f"device {device_id} not found in account {account_name}")


def set_bootstrap(
    *,
    uow: UnitOfWork,
    clock: Clock,
    cipher: KeyCipher | None,
    account_name: str,
    device_id: str,
    bootstrap_mode: SecurityMode,
    bootstrap_identity: str | None,
    bootstrap_key_hex: str | None,
    account: ManagementAccount,
) -> BootstrapSettings:
    """Sets what the device bootstraps with (its factory bootstrap PSK, or NoSec) and the account it is given."""
    account.checked()
    encrypted: bytes | None = None
    if bootstrap_mode is SecurityMode.PSK:
        if bootstrap_identity is None or bootstrap_key_hex is None:
            raise InvalidRequest("bootstrapMode psk needs bootstrapPskIdentity and bootstrapPskKey")
        key = check_psk(bootstrap_identity, bootstrap_key_hex)
        if cipher is None:
            raise InvalidRequest(
                "FOTA_SECRET_KEY is not configured on the server (16 characters or more), so it cannot store a PSK "
                "encrypted"
            )
        encrypted = cipher.encrypt(key, context=device_id.encode())
    elif bootstrap_identity is not None or bootstrap_key_hex is not None:
        raise InvalidRequest("bootstrapPskIdentity and bootstrapPskKey belong to bootstrapMode psk only")
    if account.security_mode is SecurityMode.PSK and cipher is None:
        raise InvalidRequest("FOTA_SECRET_KEY is not configured on the server, so it cannot keep a management PSK")
    now = clock.now()
    with uow:
        _device_account(uow, account_name, device_id)
        if bootstrap_identity is not None:
            owner = uow.bootstrap.owner_of_identity(bootstrap_identity)
            if owner is not None and owner != device_id:
                raise Conflict("bootstrapPskIdentity is already used by another device")
        earlier = uow.bootstrap.get(device_id)
        settings = BootstrapSettings(
            device_id=device_id,
            bootstrap_mode=bootstrap_mode,
            bootstrap_identity=bootstrap_identity,
            account=account,
            bootstraps=earlier.bootstraps if earlier is not None else 0,
            last_bootstrap_at=earlier.last_bootstrap_at if earlier is not None else None,
        )
        uow.bootstrap.put(settings, encrypted, at=now)
        reason = f"bootstrap {bootstrap_mode.value}, management {account.security_mode.value}"
        events.record(uow, [HistoryEntry(account_name, None, device_id, BOOTSTRAP_SETTINGS_CHANGED, reason, now)])
        uow.commit()
    return settings


def get_bootstrap(*, uow: UnitOfWork, account_name: str, device_id: str) -> BootstrapSettings:
    with uow:
        _device_account(uow, account_name, device_id)
        settings = uow.bootstrap.get(device_id)
    if settings is None:
        raise NotFound(f"device {device_id} has no bootstrap settings")
    return settings


def find_bootstrap_psk(*, uow: UnitOfWork, cipher: KeyCipher, identity: str) -> PskEntry | None:
    """The device and decrypted bootstrap key of a bootstrap PSK identity (one indexed read), or None."""
    with uow:
        found = uow.bootstrap.encrypted_key(identity)
    return decrypted(found, cipher)


@dataclass(frozen=True)
class BootstrapPlan:
    """What one admitted Bootstrap-Request will write into the device; `refused` says why there is nothing."""

    device_id: str
    settings: BootstrapSettings | None
    refused: str | None = None


def admit(
    *, uow: UnitOfWork, device_id: str, dtls_device_id: str | None, over_dtls: bool, allow_nosec: bool
) -> BootstrapPlan:
    with uow:
        reason = admission_refusal_in(
            uow,
            device_id=device_id,
            dtls_device_id=dtls_device_id,
            over_dtls=over_dtls,
            allow_nosec=allow_nosec,
            server=LwM2MServer.BOOTSTRAP,
        )
        settings = uow.bootstrap.get(device_id) if reason is None else None
    return BootstrapPlan(device_id, settings, reason)


@dataclass(frozen=True)
class ManagementCredentials:
    """What the device gets for the management server: an identity and a fresh key in psk mode, nothing in nosec."""

    mode: SecurityMode
    identity: str | None = None
    key: bytes | None = None


def new_management_credentials(*, device_id: str, mode: SecurityMode) -> ManagementCredentials:
    if mode is SecurityMode.NOSEC:
        return ManagementCredentials(mode)
    return ManagementCredentials(mode, management_identity(device_id), secrets.token_bytes(MAX_KEY_BYTES))


def keep_management_credentials(
    *, uow: UnitOfWork, clock: Clock, cipher: KeyCipher | None, device_id: str, credentials: ManagementCredentials
) -> str | None:
    """Makes the credentials the device's own for the management server, replacing its earlier key, which stops
    working. Returns the earlier PSK identity (to forget in key caches), if any."""
    encrypted: bytes | None = None
    if credentials.key is not None:
        if cipher is None:
            raise InvalidRequest("FOTA_SECRET_KEY is not configured, so no management PSK can be kept")
        encrypted = cipher.encrypt(credentials.key, context=device_id.encode())
    with uow:
        earlier = uow.device_security.get(device_id)
        if credentials.identity is not None:
            owner = uow.device_security.owner_of_identity(credentials.identity)
            if owner is not None and owner != device_id:
                raise Conflict(f"the PSK identity {credentials.identity} is held by device {owner}")
        security = DeviceSecurity(device_id, credentials.mode, credentials.identity)
        uow.device_security.put(security, encrypted, at=clock.now())
        uow.commit()
    return earlier.psk_identity if earlier is not None else None


def record_bootstrap(
    *, uow: UnitOfWork, clock: Clock, device_id: str, finished: bool, reason: str | None
) -> BootstrapSettings | None:
    """One bootstrap, finished or failed, in the device's history; a finished one is counted on its settings."""
    now = clock.now()
    with uow:
        device = uow.devices.get(device_id)
        settings = uow.bootstrap.get(device_id)
        if device is None or settings is None:
            return None
        if finished:
            uow.bootstrap.bootstrapped(device_id, at=now)
            settings = replace(settings, bootstraps=settings.bootstraps + 1, last_bootstrap_at=now)
        status = BOOTSTRAPPED if finished else BOOTSTRAP_FAILED
        events.record(uow, [HistoryEntry(device.account_name, None, device_id, status, reason, now)])
        uow.commit()
    return settings
