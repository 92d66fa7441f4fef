"""Bodies of the `/admin/v1` provisioning API (design notes §7), camelCase like the ThingSpace API."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, StrictInt, StrictStr

from fota.adapters.http.schemas import RequestBody, ResponseBody


class AccountCreate(RequestBody):
    account_name: StrictStr
    license_count: StrictInt = Field(ge=0)
    purchase_type: StrictStr | None = None


class AccountUpdate(RequestBody):
    license_count: StrictInt = Field(ge=0)


class AccountRead(ResponseBody):
    account_name: str
    license_count: int
    license_used_count: int
    purchase_type: str | None = None


class ClientCreate(RequestBody):
    client_id: StrictStr | None = None
    client_secret: StrictStr | None = None


class ClientRead(ResponseBody):
    client_id: str
    client_secret: str


class UserCreate(RequestBody):
    username: StrictStr
    password: StrictStr


class UserRead(ResponseBody):
    account_name: str
    username: str


class DeviceCreate(RequestBody):
    device_id: StrictStr
    mdn: StrictStr | None = None
    make: StrictStr
    model: StrictStr
    firmware: StrictStr
    protocol: StrictStr = "LWM2M"


class DevicesCreate(RequestBody):
    device_list: list[DeviceCreate] = Field(max_length=1_000_000)


class DeviceProvisionRead(ResponseBody):
    device_id: str
    status: str
    reason: str


class DevicesProvisionRead(ResponseBody):
    account_name: str
    device_list: list[DeviceProvisionRead]


class FirmwareCreate(RequestBody):
    firmware_name: StrictStr
    make: StrictStr
    model: StrictStr
    firmware_from: StrictStr
    firmware_to: StrictStr
    protocol: StrictStr = "LWM2M"
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


class ImageRead(ResponseBody):
    size: int
    sha256: str


class ClockUpdate(RequestBody):
    now: datetime | None = Field(default=None, strict=False)
    advance_seconds: float | None = Field(default=None, strict=False, ge=0)


class ClockRead(ResponseBody):
    now: datetime
    simulated: bool
