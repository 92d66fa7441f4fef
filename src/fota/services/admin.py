"""Provisioning that a carrier does and ThingSpace has no calls for: accounts, credentials, devices, firmware."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from fota.clock import Clock
from fota.domain.accounts import Account, TokenKind, check_account_name
from fota.domain.campaign import Firmware
from fota.domain.devices import Device, ZoneSource, check_imei, check_time_zone
from fota.domain.errors import Conflict, DomainError, InvalidRequest, NotFound
from fota.domain.protocols import Protocol
from fota.services import signing
from fota.services.enrolment import enrol_in_auto_add_campaigns
from fota.services.ports import PasswordHasher, SignatureVerifier, UnitOfWork
from fota.services.signing import ImageSignature
from fota.services.token_cache import TokenCache


def _account(uow: UnitOfWork, name: str) -> Account:
    account = uow.accounts.get(name)
    if account is None:
        raise NotFound(f"account {name} does not exist")
    return account


def create_account(
    *, uow: UnitOfWork, clock: Clock, name: str, license_count: int, purchase_type: str | None
) -> Account:
    check_account_name(name)
    if license_count < 0:
        raise InvalidRequest("licenseCount must not be negative")
    now = clock.now()
    account = Account(name, license_count, 0, purchase_type, now)
    with uow:
        if uow.accounts.get(name) is not None:
            raise Conflict(f"account {name} already exists")
        uow.accounts.add(account, created_at=now)
        uow.commit()
    return account


def set_license_count(*, uow: UnitOfWork, clock: Clock, name: str, license_count: int) -> Account:
    with uow:
        account = uow.accounts.lock(name)
        if account is None:
            raise NotFound(f"account {name} does not exist")
        if license_count < account.licenses_used:
            raise InvalidRequest(
                f"licenseCount {license_count} is below the {account.licenses_used} licenses in use; remove some first"
            )
        uow.accounts.set_license_count(name, license_count, at=clock.now())
        uow.commit()
    return replace(account, license_count=license_count)


def get_account(*, uow: UnitOfWork, name: str) -> Account:
    with uow:
        return _account(uow, name)


def create_client(
    *,
    uow: UnitOfWork,
    clock: Clock,
    hasher: PasswordHasher,
    account_name: str,
    client_id: str | None,
    client_secret: str | None,
) -> tuple[str, str]:
    client_id = client_id or secrets.token_hex(16)
    client_secret = client_secret or secrets.token_urlsafe(32)
    if not 1 <= len(client_id) <= 128:
        raise InvalidRequest("clientId must be 1-128 characters")
    secret_hash = hasher.hash(client_secret)
    with uow:
        _account(uow, account_name)
        if uow.credentials.client(client_id) is not None:
            raise Conflict(f"client {client_id} already exists")
        uow.credentials.add_client(account_name, client_id, secret_hash, at=clock.now())
        uow.commit()
    return client_id, client_secret


def revoke_client(
    *, uow: UnitOfWork, clock: Clock, account_name: str, client_id: str, cache: TokenCache | None = None
) -> int:
    """Removes an API client and revokes every access token it was issued, at once in every process; returns how
    many tokens were still live."""
    with uow:
        _account(uow, account_name)
        found = uow.credentials.client(client_id)
        if found is None or found[0] != account_name:
            raise NotFound(f"client {client_id} not found in account {account_name}")
        uow.credentials.remove_client(client_id)
        revoked = uow.tokens.revoke_subject(TokenKind.ACCESS, account_name, client_id, at=clock.now())
        uow.commit()
    if cache is not None:
        cache.clear()
    return revoked


def create_user(
    *, uow: UnitOfWork, clock: Clock, hasher: PasswordHasher, account_name: str, username: str, password: str
) -> None:
    if not 1 <= len(username) <= 128:
        raise InvalidRequest("username must be 1-128 characters")
    if len(password) < 8:
        raise InvalidRequest("password must be at least 8 characters")
    password_hash = hasher.hash(password)
    with uow:
        _account(uow, account_name)
        if uow.credentials.user_password_hash(account_name, username) is not None:
            raise Conflict(f"user {username} already exists in account {account_name}")
        uow.credentials.add_user(account_name, username, password_hash, at=clock.now())
        uow.commit()


@dataclass(frozen=True)
class DeviceSpec:
    device_id: str
    make: str
    model: str
    firmware: str
    protocol: str
    mdn: str | None = None
    time_zone: str | None = None  # IANA; None keeps the zone an existing device has


@dataclass(frozen=True)
class ProvisionResult:
    device_id: str
    status: str  # Created, Updated or Failed
    reason: str


def provision_devices(
    *, uow: UnitOfWork, clock: Clock, account_name: str, specs: Sequence[DeviceSpec]
) -> list[ProvisionResult]:
    """Creates or updates devices; a new device, or one whose firmware changed, may join an auto-add campaign."""
    now = clock.now()
    results: list[ProvisionResult] = []
    touched: list[str] = []
    created: list[Device] = []
    seen: set[str] = set()
    with uow:
        _account(uow, account_name)
        existing = uow.devices.get_many([s.device_id for s in specs])
        for spec in specs:
            try:
                check_imei(spec.device_id)
                protocol = Protocol.parse(spec.protocol)
                if not (spec.make and spec.model and spec.firmware):
                    raise InvalidRequest("make, model and firmware are required")
                zone = check_time_zone(spec.time_zone) if spec.time_zone is not None else None
            except DomainError as error:
                results.append(ProvisionResult(spec.device_id, "Failed", error.message))
                continue
            if spec.device_id in seen:
                results.append(ProvisionResult(spec.device_id, "Failed", "Device listed twice in this request"))
                continue
            seen.add(spec.device_id)
            current = existing.get(spec.device_id)
            if current is not None and current.account_name != account_name:
                results.append(ProvisionResult(spec.device_id, "Failed", "Device belongs to another account"))
                continue
            if current is None:
                device = Device(
                    spec.device_id,
                    account_name,
                    spec.mdn,
                    spec.make,
                    spec.model,
                    spec.firmware,
                    protocol,
                    False,
                    None,
                    now,
                    now,
                    now,
                    time_zone=zone,
                    time_zone_source=ZoneSource.ADMIN if zone is not None else None,
                )
                created.append(device)
                results.append(ProvisionResult(spec.device_id, "Created", "Device created"))
                touched.append(spec.device_id)
            else:
                firmware_changed = current.firmware != spec.firmware
                device = replace(
                    current,
                    mdn=spec.mdn or current.mdn,
                    make=spec.make,
                    model=spec.model,
                    firmware=spec.firmware,
                    protocol=protocol,
                    updated_at=now,
                    firmware_updated_at=now if firmware_changed else current.firmware_updated_at,
                    time_zone=zone or current.time_zone,
                    time_zone_source=ZoneSource.ADMIN if zone is not None else current.time_zone_source,
                )
                uow.devices.update(device)
                results.append(ProvisionResult(spec.device_id, "Updated", "Device updated"))
                if firmware_changed:
                    touched.append(spec.device_id)
        uow.devices.add_many(created)
        enrol_in_auto_add_campaigns(uow, touched, now=now)
        uow.commit()
    return results


def create_firmware(
    *,
    uow: UnitOfWork,
    name: str,
    make: str,
    model: str,
    firmware_from: str,
    firmware_to: str,
    protocol: str,
    release_note: str | None,
    launch_date: datetime | None,
    clock: Clock,
) -> Firmware:
    for field, value, limit in (
        ("firmwareName", name, 255),
        ("make", make, 128),
        ("model", model, 128),
        ("firmwareFrom", firmware_from, 128),
        ("firmwareTo", firmware_to, 128),
    ):
        if not value or len(value) > limit:
            raise InvalidRequest(f"{field} must be 1-{limit} characters")
    if firmware_from == firmware_to:
        raise InvalidRequest("firmwareFrom and firmwareTo must differ")
    firmware = Firmware(
        name,
        make,
        model,
        firmware_from,
        firmware_to,
        Protocol.parse(protocol),
        release_note or "",
        launch_date or clock.now(),
    )
    with uow:
        if uow.firmware.get(name) is not None:
            raise Conflict(f"firmware {name} already exists")
        uow.firmware.add(firmware)
        uow.commit()
    return firmware


@dataclass(frozen=True)
class StoredImage:
    size: int
    sha256: str
    signature: ImageSignature | None


def store_firmware_image(
    *,
    uow: UnitOfWork,
    verifier: SignatureVerifier,
    name: str,
    data: bytes,
    signature: str | None = None,
    key_id: str | None = None,
    signing_required: bool,
) -> StoredImage:
    """Stores the image after its signature (if any) verifies; `signing_required` (the deployment's
    FOTA_REQUIRE_SIGNED_FIRMWARE) refuses an upload without one. Nothing is stored when a check fails."""
    if not data:
        raise InvalidRequest("the firmware image is empty")
    digest = hashlib.sha256(data)
    with uow:
        if uow.firmware.get(name) is None:
            raise NotFound(f"firmware {name} does not exist")
        verified = signing.verify_image_signature(
            uow=uow, verifier=verifier, digest=digest.digest(), signature=signature, key_id=key_id
        )
        if verified is None and signing_required:
            raise InvalidRequest(
                "this deployment requires signed firmware: send X-Fota-Signature (base64 signature over the image's "
                "sha256) and X-Fota-Key-Id (a registered publisher key)"
            )
        uow.firmware.set_image(
            name,
            data,
            sha256=digest.hexdigest(),
            signature=verified.signature if verified else None,
            key_id=verified.key_id if verified else None,
        )
        uow.commit()
    return StoredImage(len(data), digest.hexdigest(), verified)
