"""The `/admin/v1` calls of signed firmware: publishers' signing keys, and each account's signed-firmware policy
(docs/adr/0014-signed-firmware.md). Images are signed on upload: see `PUT /admin/v1/firmware/{name}/image`."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from fota.adapters.http.admin_schemas import (
    SigningKeyCreate,
    SigningKeyListRead,
    SigningKeyRead,
    SigningPolicyRead,
    SigningPolicyUpdate,
)
from fota.adapters.http.dependencies import ContainerDep
from fota.adapters.http.errors import ADMIN_ERROR_RESPONSES
from fota.adapters.http.routes.admin import require_admin
from fota.domain.accounts import Account
from fota.domain.signing import SigningKey
from fota.services import admin, signing

router = APIRouter(
    prefix="/admin/v1", tags=["admin"], dependencies=[Depends(require_admin)], responses=ADMIN_ERROR_RESPONSES
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
def register_signing_key(body: SigningKeyCreate, c: ContainerDep) -> SigningKeyRead:
    """Trusts a publisher's Ed25519 or ECDSA P-256 public key (PEM) for image signatures under `keyId`."""
    key = signing.register_key(
        uow=c.uow(), clock=c.clock, verifier=c.verifier, key_id=body.key_id, public_key_pem=body.public_key
    )
    return _key_read(key)


@router.get("/signing-keys", response_model_exclude_none=True)
def list_signing_keys(c: ContainerDep) -> SigningKeyListRead:
    return SigningKeyListRead(key_list=[_key_read(k) for k in signing.list_keys(uow=c.reader())])


@router.get("/signing-keys/{key_id}", response_model_exclude_none=True)
def read_signing_key(key_id: str, c: ContainerDep) -> SigningKeyRead:
    return _key_read(signing.get_key(uow=c.reader(), key_id=key_id))


@router.delete("/signing-keys/{key_id}", response_model_exclude_none=True)
def revoke_signing_key(key_id: str, c: ContainerDep) -> SigningKeyRead:
    """Revokes the key: it verifies no new upload, and its images no longer start campaigns that require signing."""
    return _key_read(signing.revoke_key(uow=c.uow(), clock=c.clock, key_id=key_id))


def _policy_read(account: Account, c: ContainerDep) -> SigningPolicyRead:
    return SigningPolicyRead(
        account_name=account.name,
        require_signed_firmware=account.require_signed_firmware,
        deployment_requires_signed_firmware=c.settings.require_signed_firmware,
    )


@router.get("/accounts/{account}/signing-policy")
def read_signing_policy(account: str, c: ContainerDep) -> SigningPolicyRead:
    return _policy_read(admin.get_account(uow=c.reader(), name=account), c)


@router.put("/accounts/{account}/signing-policy")
def update_signing_policy(account: str, body: SigningPolicyUpdate, c: ContainerDep) -> SigningPolicyRead:
    """Whether the account's campaigns accept only images with a trusted signature."""
    updated = signing.set_signing_required(
        uow=c.uow(), clock=c.clock, account_name=account, required=body.require_signed_firmware
    )
    return _policy_read(updated, c)
