"""Bodies of the `/admin/v1` provisioning API (design notes §7), camelCase like the ThingSpace API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, StrictBool, StrictInt, StrictStr

from fota.adapters.http.schemas import RequestBody, ResponseBody


class AccountCreate(RequestBody):
    account_name: StrictStr
    license_count: StrictInt = Field(ge=0, le=2_000_000_000)
    purchase_type: StrictStr | None = Field(default=None, max_length=128)


class AccountUpdate(RequestBody):
    license_count: StrictInt = Field(ge=0, le=2_000_000_000)


class AccountRead(ResponseBody):
    account_name: str
    license_count: int
    license_used_count: int
    purchase_type: str | None = None
    # Shown only when true, so accounts without the requirement read as before; see GET .../signing-policy.
    require_signed_firmware: bool | None = None


class ClientCreate(RequestBody):
    client_id: StrictStr | None = Field(default=None, min_length=1, max_length=128)
    client_secret: StrictStr | None = Field(default=None, min_length=8, max_length=256)


class ClientRead(ResponseBody):
    client_id: str
    client_secret: str


class ClientRevokeRead(ResponseBody):
    client_id: str
    revoked_tokens: int = Field(description="access tokens of the client that were still live and are now refused")


class UserCreate(RequestBody):
    username: StrictStr = Field(min_length=1, max_length=128)
    password: StrictStr = Field(min_length=8, max_length=256)


class UserRead(ResponseBody):
    account_name: str
    username: str


class DeviceCreate(RequestBody):
    device_id: StrictStr = Field(max_length=64)
    mdn: StrictStr | None = Field(default=None, max_length=32)
    make: StrictStr = Field(min_length=1, max_length=128)
    model: StrictStr = Field(min_length=1, max_length=128)
    firmware: StrictStr = Field(min_length=1, max_length=128)
    protocol: StrictStr = Field(default="LWM2M", max_length=16)
    # Checked per device (a bad zone fails that device only), like the IMEI and the protocol.
    time_zone: StrictStr | None = Field(
        default=None, description="IANA zone, e.g. Europe/Berlin; left out, an existing device keeps its zone"
    )


class DevicesCreate(RequestBody):
    device_list: list[DeviceCreate] = Field(max_length=1_000_000)


class DeviceProvisionRead(ResponseBody):
    device_id: str
    status: str
    reason: str


class DevicesProvisionRead(ResponseBody):
    account_name: str
    device_list: list[DeviceProvisionRead]


class DeviceUpdate(RequestBody):
    """`{"timeZone": "Europe/Berlin"}` sets the administration's zone; `{"timeZone": null}` clears it."""

    time_zone: StrictStr | None = Field(description="IANA zone, or null for none")


class DeviceRead(ResponseBody):
    """A device as the administration sees it; `timeZone` is null when the device has none (campaigns then use
    their own zone), and `timeZoneSource` says who set it: `admin` or `device` (its Timezone resource, /3/0/15)."""

    device_id: str
    account_name: str
    mdn: str | None
    make: str
    model: str
    firmware: str
    protocol: str
    license_assigned: bool
    time_zone: str | None
    time_zone_source: Literal["admin", "device"] | None
    created_at: datetime
    updated_at: datetime
    firmware_updated_at: datetime | None
    last_seen_at: datetime | None


class DeviceKeyRead(ResponseBody):
    device_id: str
    device_key: str


class FirmwareCreate(RequestBody):
    firmware_name: StrictStr = Field(min_length=1, max_length=255)
    make: StrictStr = Field(min_length=1, max_length=128)
    model: StrictStr = Field(min_length=1, max_length=128)
    firmware_from: StrictStr = Field(min_length=1, max_length=128)
    firmware_to: StrictStr = Field(min_length=1, max_length=128)
    protocol: StrictStr = Field(default="LWM2M", max_length=16)
    release_note: StrictStr | None = None
    launch_date: datetime | None = Field(default=None, strict=False)


class FirmwareRead(ResponseBody):
    firmware_name: str
    make: str
    model: str
    firmware_from: str
    firmware_to: str
    protocol: str
    release_note: str
    launch_date: datetime
    size: int | None = None
    sha256: str | None = None
    signature: str | None = Field(default=None, description="The verified base64 signature over the image's sha256")
    key_id: str | None = Field(default=None, description="The publisher key that verified the signature")


class ImageRead(ResponseBody):
    size: int
    sha256: str
    signature: str | None = None
    key_id: str | None = None


class SigningKeyCreate(RequestBody):
    key_id: StrictStr = Field(min_length=1, max_length=128)
    public_key: StrictStr = Field(min_length=1, max_length=4096, description="PEM SubjectPublicKeyInfo")


class SigningKeyRead(ResponseBody):
    key_id: str
    algorithm: Literal["ed25519", "ecdsa-p256"]
    public_key: str
    created_at: datetime
    revoked_at: datetime | None = None


class SigningKeyListRead(ResponseBody):
    key_list: list[SigningKeyRead]


class SigningPolicyUpdate(RequestBody):
    require_signed_firmware: StrictBool


class SigningPolicyRead(ResponseBody):
    account_name: str
    require_signed_firmware: bool
    deployment_requires_signed_firmware: bool


class ClockUpdate(RequestBody):
    now: datetime | None = Field(default=None, strict=False)
    advance_seconds: float | None = Field(default=None, strict=False, ge=0, le=100 * 366 * 86400, allow_inf_nan=False)


class ClockRead(ResponseBody):
    now: datetime
    simulated: bool


class CallbackSigningRead(ResponseBody):
    url: str
    signing_secret: str


class CallbackDeliveryRead(ResponseBody):
    id: int
    event_id: str
    url: str
    attempt: int
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class CallbackDeliveryListRead(ResponseBody):
    account_name: str
    delivery_list: list[CallbackDeliveryRead]
    next_before_id: int | None = None


class DeviceSecurityUpdate(RequestBody):
    """`{"mode": "psk", "pskIdentity", "pskKey": hex}` or `{"mode": "nosec"}` (docs/adr/0010-dtls-psk.md)."""

    mode: Literal["psk", "nosec"]
    psk_identity: StrictStr | None = Field(default=None, min_length=1, max_length=128)
    psk_key: StrictStr | None = Field(default=None, min_length=2, max_length=128)


class DeviceSecurityRead(ResponseBody):
    """The mode and identity; never the key, which only the DTLS handshake uses."""

    device_id: str
    mode: str
    psk_identity: str | None = None
