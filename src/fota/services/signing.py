"""Signed firmware: publishers' keys registered by the operator, image signatures verified before an image is
stored, and the requirement (per account, or for the whole deployment) that campaigns use signed images only."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from fota.clock import Clock
from fota.domain.accounts import Account
from fota.domain.campaign import Firmware
from fota.domain.errors import Conflict, InvalidRequest, NotFound
from fota.domain.signing import (
    MAX_PUBLIC_KEY_CHARS,
    MAX_SIGNATURE_CHARS,
    SigningKey,
    campaign_signing_refusal,
    check_key_id,
)
from fota.services.ports import SignatureVerifier, UnitOfWork


@dataclass(frozen=True)
class ImageSignature:
    """A signature that verified: the base64 text as given, and the key id."""

    signature: str
    key_id: str


def register_key(
    *, uow: UnitOfWork, clock: Clock, verifier: SignatureVerifier, key_id: str, public_key_pem: str
) -> SigningKey:
    check_key_id(key_id)
    if len(public_key_pem) > MAX_PUBLIC_KEY_CHARS:
        raise InvalidRequest(f"publicKey is longer than {MAX_PUBLIC_KEY_CHARS} characters")
    try:
        algorithm = verifier.algorithm_of(public_key_pem)
    except ValueError as error:
        raise InvalidRequest(str(error)) from None
    key = SigningKey(key_id, algorithm, public_key_pem.strip() + "\n", clock.now())
    with uow:
        if uow.signing_keys.get(key_id) is not None:
            # Never replaced in place: images signed by the old key would silently name a different key.
            raise Conflict(f"signing key {key_id} already exists; register the new key under a new keyId")
        uow.signing_keys.add(key)
        uow.commit()
    return key


def list_keys(*, uow: UnitOfWork) -> list[SigningKey]:
    with uow:
        return uow.signing_keys.list()


def get_key(*, uow: UnitOfWork, key_id: str) -> SigningKey:
    with uow:
        key = uow.signing_keys.get(key_id)
    if key is None:
        raise NotFound(f"signing key {key_id} not found")
    return key


def revoke_key(*, uow: UnitOfWork, clock: Clock, key_id: str) -> SigningKey:
    """Stops trusting the key: no new upload verifies with it, and where signing is required its images can no longer
    start campaigns. The record stays, so images it signed still say which key that was."""
    with uow:
        if uow.signing_keys.get(key_id) is None:
            raise NotFound(f"signing key {key_id} not found")
        uow.signing_keys.revoke(key_id, at=clock.now())
        key = uow.signing_keys.get(key_id)
        uow.commit()
    assert key is not None
    return key


def verify_image_signature(
    *, uow: UnitOfWork, verifier: SignatureVerifier, digest: bytes, signature: str | None, key_id: str | None
) -> ImageSignature | None:
    """The upload's signature once it verifies against an active key; None when the upload carries none.

    Called inside the unit of work that stores the image, so a key revoked concurrently is not used.
    """
    if signature is None and key_id is None:
        return None
    if not signature or not key_id:
        raise InvalidRequest("give both X-Fota-Signature and X-Fota-Key-Id, or neither")
    if len(signature) > MAX_SIGNATURE_CHARS:
        raise InvalidRequest("X-Fota-Signature is too long to be an Ed25519 or ECDSA P-256 signature")
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("X-Fota-Signature is not base64") from None
    key = uow.signing_keys.get(key_id)
    if key is None or not key.active:
        raise InvalidRequest(f"signing key {key_id!r} is not a registered, unrevoked publisher key")
    if not verifier.verify(key, raw, digest):
        raise InvalidRequest(
            f"the signature does not verify with key {key_id!r} over the image's sha256; the image was not stored"
        )
    return ImageSignature(signature.strip(), key_id)


def set_signing_required(*, uow: UnitOfWork, clock: Clock, account_name: str, required: bool) -> Account:
    with uow:
        if uow.accounts.lock(account_name) is None:
            raise NotFound(f"account {account_name} not found")
        uow.accounts.set_require_signed_firmware(account_name, required, at=clock.now())
        account = uow.accounts.get(account_name)
        uow.commit()
    assert account is not None
    return account


def check_campaign_firmware(uow: UnitOfWork, *, account_name: str, firmware: Firmware, deployment: bool) -> None:
    """Inside campaign creation's unit of work: refuses an image without a trusted signature where the deployment
    (`deployment`, FOTA_REQUIRE_SIGNED_FIRMWARE) or the account requires signed firmware."""
    account = uow.accounts.get(account_name)
    if not deployment and not (account is not None and account.require_signed_firmware):
        return
    keys = {}
    if firmware.image_key_id is not None:
        key = uow.signing_keys.get(firmware.image_key_id)
        keys = {key.key_id: key} if key is not None else {}
    reason = campaign_signing_refusal(firmware, keys)
    if reason is not None:
        who = "this deployment" if deployment else f"account {account_name}"
        raise InvalidRequest(f"{who} requires signed firmware: {reason}")
