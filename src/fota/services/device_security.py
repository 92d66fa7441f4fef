"""Device-side security: provisioning a device's security mode and PSK, and admitting its LwM2M requests.

The admission rule itself is `domain.security.refusal`; `admission_refusal_in` reads what it needs for either
server, and registrations, check-ins and bootstraps all go through it.
"""

from __future__ import annotations

from dataclasses import dataclass

from fota.clock import Clock
from fota.domain.errors import Conflict, InvalidRequest, NotFound
from fota.domain.security import (
    DeviceSecurity,
    LwM2MServer,
    SecurityMode,
    channel_refusal,
    check_psk,
    refusal,
)
from fota.services.ports import KeyCipher, UnitOfWork


def set_security(
    *,
    uow: UnitOfWork,
    clock: Clock,
    cipher: KeyCipher | None,
    account_name: str,
    device_id: str,
    mode: SecurityMode,
    psk_identity: str | None,
    psk_key_hex: str | None,
) -> DeviceSecurity:
    """Sets the device's mode; psk mode needs an identity no other device holds and a key, stored encrypted."""
    encrypted: bytes | None = None
    if mode is SecurityMode.PSK:
        if psk_identity is None or psk_key_hex is None:
            raise InvalidRequest("mode psk needs pskIdentity and pskKey")
        key = check_psk(psk_identity, psk_key_hex)
        if cipher is None:
            # Never store a usable key in the clear: the operator must configure the encryption secret first.
            raise InvalidRequest(
                "FOTA_SECRET_KEY is not configured on the server (16 characters or more), so it cannot store a PSK "
                "encrypted"
            )
        encrypted = cipher.encrypt(key, context=device_id.encode())
    elif psk_identity is not None or psk_key_hex is not None:
        raise InvalidRequest("pskIdentity and pskKey belong to mode psk only")
    security = DeviceSecurity(device_id, mode, psk_identity if mode is SecurityMode.PSK else None)
    with uow:
        device = uow.devices.get(device_id)
        if device is None or device.account_name != account_name:
            raise NotFound(f"device {device_id} not found in account {account_name}")
        if psk_identity is not None:
            owner = uow.device_security.owner_of_identity(psk_identity)
            if owner is not None and owner != device_id:
                raise Conflict("pskIdentity is already used by another device")
        uow.device_security.put(security, encrypted, at=clock.now())
        uow.commit()
    return security


def get_security(*, uow: UnitOfWork, account_name: str, device_id: str) -> DeviceSecurity:
    with uow:
        device = uow.devices.get(device_id)
        if device is None or device.account_name != account_name:
            raise NotFound(f"device {device_id} not found in account {account_name}")
        return uow.device_security.get(device_id) or DeviceSecurity(device_id, SecurityMode.NOSEC)


@dataclass(frozen=True)
class PskEntry:
    device_id: str
    key: bytes


def find_psk(*, uow: UnitOfWork, cipher: KeyCipher, identity: str) -> PskEntry | None:
    """The device and decrypted key of a PSK identity (one indexed read), or None."""
    with uow:
        found = uow.device_security.encrypted_key(identity)
    return decrypted(found, cipher)


def decrypted(found: tuple[str, bytes] | None, cipher: KeyCipher) -> PskEntry | None:
    """A stored (device id, encrypted key) pair as its entry; every key is encrypted bound to its device's id."""
    if found is None:
        return None
    device_id, encrypted = found
    return PskEntry(device_id, cipher.decrypt(encrypted, context=device_id.encode()))


def admission_refusal_in(
    uow: UnitOfWork,
    *,
    device_id: str,
    dtls_device_id: str | None,
    over_dtls: bool,
    allow_nosec: bool,
    server: LwM2MServer = LwM2MServer.MANAGEMENT,
) -> str | None:
    """Why a request of `device_id` to `server` on this channel is refused, or None, read in the caller's open unit
    of work: the management server applies the device's security record (none: nosec), the bootstrap server its
    bootstrap settings (none: refused), whose management account in psk mode hands out a PSK."""
    early = channel_refusal(over_dtls=over_dtls, allow_nosec=allow_nosec)
    if early is not None:
        return early  # refused whoever it is (a psk-mode device must use DTLS, and plain CoAP is off)
    hands_out_psk = False
    if server is LwM2MServer.BOOTSTRAP:
        settings = uow.bootstrap.get(device_id)
        if settings is None:
            return "the device has no bootstrap settings"
        mode, hands_out_psk = settings.bootstrap_mode, settings.account.security_mode is SecurityMode.PSK
    else:
        security = uow.device_security.get(device_id)
        mode = security.mode if security is not None else SecurityMode.NOSEC
    return refusal(
        device_id=device_id,
        mode=mode,
        dtls_device_id=dtls_device_id,
        over_dtls=over_dtls,
        allow_nosec=allow_nosec,
        server=server,
        hands_out_psk=hands_out_psk,
    )


def admission_refusal(
    *,
    uow: UnitOfWork,
    device_id: str | None = None,
    location: str | None = None,
    dtls_device_id: str | None,
    over_dtls: bool,
    allow_nosec: bool,
) -> str | None:
    """`admission_refusal_in` for the management server in a transaction of its own, for `device_id` or for the
    device registered at `location`.

    An unknown registration location is not refused here: the registration interface answers it 4.04 itself.
    """
    early = channel_refusal(over_dtls=over_dtls, allow_nosec=allow_nosec)
    if early is not None:
        return early  # nothing to read
    with uow:
        if device_id is None:
            assert location is not None
            registration = uow.registrations.get(location)
            if registration is None:
                return None
            device_id = registration.device_id
        return admission_refusal_in(
            uow, device_id=device_id, dtls_device_id=dtls_device_id, over_dtls=over_dtls, allow_nosec=allow_nosec
        )
