"""The `/admin/v1` calls of firmware packages, their images and signatures: packages and image uploads, the
publishers' signing keys, and each account's signed-firmware policy (docs/adr/0016-signed-firmware.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from fota.adapters.http.admin_schemas import (
    FirmwareCreate,
    FirmwareRead,
    ImageRead,
    SigningKeyCreate,
    SigningKeyListRead,
    SigningKeyRead,
    SigningPolicyRead,
    SigningPolicyUpdate,
)
from fota.adapters.http.api_route import ApiRoute
from fota.adapters.http.dependencies import ServicesDep
from fota.adapters.http.errors import ADMIN_ERROR_RESPONSES
from fota.adapters.http.routes.admin import require_admin
from fota.domain.accounts import Account
from fota.domain.campaign import Firmware
from fota.domain.errors import InvalidRequest
from fota.domain.signing import SigningKey
from fota.services import admin, signing
from fota.services import firmware as firmware_service

MAX_IMAGE_BYTES = 256 * 1024 * 1024

router = APIRouter(
    prefix="/admin/v1",
    tags=["admin"],
    dependencies=[Depends(require_admin)],
    responses=ADMIN_ERROR_RESPONSES,
    route_class=ApiRoute,
)


def _firmware_read(firmware: Firmware) -> FirmwareRead:
    return FirmwareRead(
        firmware_name=firmware.name,
        make=firmware.make,
        model=firmware.model,
        firmware_from=firmware.firmware_from,
        firmware_to=firmware.firmware_to,
        protocol=firmware.protocol.firmware_spelling,
        release_note=firmware.release_note,
        launch_date=firmware.launch_date,
        size=firmware.image_size,
        sha256=firmware.image_sha256,
        signature=firmware.image_signature,
        key_id=firmware.image_key_id,
    )


@router.get("/firmware/{firmware_name}", response_model_exclude_none=True)
def read_firmware(firmware_name: str, services: ServicesDep) -> FirmwareRead:
    """The firmware with its image's size, sha256 and, when signed, the verified signature and its key id."""
    return _firmware_read(firmware_service.get_firmware(uow=services.reader(), name=firmware_name))


@router.post("/firmware", status_code=201, response_model_exclude_none=True)
def create_firmware(body: FirmwareCreate, services: ServicesDep) -> FirmwareRead:
    """Registers a firmware package (make, model, from and to versions, protocol)."""
    firmware = admin.create_firmware(
        uow=services.uow(),
        clock=services.clock,
        name=body.firmware_name,
        make=body.make,
        model=body.model,
        firmware_from=body.firmware_from,
        firmware_to=body.firmware_to,
        protocol=body.protocol,
        release_note=body.release_note,
        launch_date=body.launch_date,
    )
    return _firmware_read(firmware)


@router.put(
    "/firmware/{firmware_name}/image",
    response_model_exclude_none=True,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def upload_firmware_image(
    firmware_name: str,
    request: Request,
    services: ServicesDep,
    signature: Annotated[
        str | None,
        Header(
            alias="X-Fota-Signature",
            description="Base64 detached signature over the image's SHA-256 digest (Ed25519, or ECDSA P-256 DER or "
            "r||s); required when the deployment requires signed firmware",
        ),
    ] = None,
    key_id: Annotated[
        str | None, Header(alias="X-Fota-Key-Id", description="The registered publisher key that made the signature")
    ] = None,
) -> ImageRead:
    """Stores the image, after verifying its signature when one is given (docs/adr/0016-signed-firmware.md)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_IMAGE_BYTES:
        raise InvalidRequest(f"the image is larger than {MAX_IMAGE_BYTES} bytes")
    data = await request.body()
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidRequest(f"the image is larger than {MAX_IMAGE_BYTES} bytes")
    stored = await run_in_threadpool(
        admin.store_firmware_image,
        uow=services.uow(),
        verifier=services.verifier,
        name=firmware_name,
        data=data,
        signature=signature,
        key_id=key_id,
        signing_required=services.require_signed_firmware,
    )
    verified = stored.signature
    return ImageRead(
        size=stored.size,
        sha256=stored.sha256,
        signature=verified.signature if verified else None,
        key_id=verified.key_id if verified else None,
    )


def _key_read(key: SigningKey) -> SigningKeyRead:
    return SigningKeyRead(
        key_id=key.key_id,
        algorithm=key.algorithm.value,
        public_key=key.public_key_pem,
        created_at=key.created_at,
        revoked_at=key.revoked_at,
    )


@router.post("/signing-keys", status_code=201, response_model_exclude_none=True)
def register_signing_key(body: SigningKeyCreate, services: ServicesDep) -> SigningKeyRead:
    """Trusts a publisher's Ed25519 or ECDSA P-256 public key (PEM) for image signatures under `keyId`."""
    key = signing.register_key(
        uow=services.uow(),
        clock=services.clock,
        verifier=services.verifier,
        key_id=body.key_id,
        public_key_pem=body.public_key,
    )
    return _key_read(key)


@router.get("/signing-keys", response_model_exclude_none=True)
def list_signing_keys(services: ServicesDep) -> SigningKeyListRead:
    """The publisher keys trusted for image signatures, revoked ones included."""
    return SigningKeyListRead(key_list=[_key_read(k) for k in signing.list_keys(uow=services.reader())])


@router.get("/signing-keys/{key_id}", response_model_exclude_none=True)
def read_signing_key(key_id: str, services: ServicesDep) -> SigningKeyRead:
    """One publisher key."""
    return _key_read(signing.get_key(uow=services.reader(), key_id=key_id))


@router.delete("/signing-keys/{key_id}", response_model_exclude_none=True)
def revoke_signing_key(key_id: str, services: ServicesDep) -> SigningKeyRead:
    """Revokes the key: it verifies no new upload, and its images no longer start campaigns that require signing."""
    return _key_read(signing.revoke_key(uow=services.uow(), clock=services.clock, key_id=key_id))


def _policy_read(account: Account, services: ServicesDep) -> SigningPolicyRead:
    return SigningPolicyRead(
        account_name=account.name,
        require_signed_firmware=account.require_signed_firmware,
        deployment_requires_signed_firmware=services.require_signed_firmware,
    )


@router.get("/accounts/{account}/signing-policy")
def read_signing_policy(account: str, services: ServicesDep) -> SigningPolicyRead:
    """Whether the account's campaigns accept only images with a trusted signature."""
    return _policy_read(admin.get_account(uow=services.reader(), name=account), services)


@router.put("/accounts/{account}/signing-policy")
def update_signing_policy(account: str, body: SigningPolicyUpdate, services: ServicesDep) -> SigningPolicyRead:
    """Whether the account's campaigns accept only images with a trusted signature."""
    updated = signing.set_signing_required(
        uow=services.uow(), clock=services.clock, account_name=account, required=body.require_signed_firmware
    )
    return _policy_read(updated, services)
