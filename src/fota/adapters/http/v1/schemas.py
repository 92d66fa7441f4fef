"""Request (`V1XCreate`, `V1XUpdate`) and response (`V1XRead`) bodies of the ThingSpace v1 API, camelCase on the wire.

v1 has its own names (`hasMoreFlag`, `fromVersion`, `Reason`, integer `lastSeen...` indexes); the types and the
strictness are those of the v3 bodies. The `V1` prefix keeps OpenAPI's schema names apart from v3's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StrictStr

from fota.adapters.http import stated
from fota.adapters.http.schemas import DeviceIdList, RequestBody, ResponseBody, WireDate
from fota.services.callbacks import FOTA_SERVICE


class V1UpgradeCreate(RequestBody):
    account_name: StrictStr = Field(min_length=1, max_length=64)
    firmware_name: StrictStr = Field(min_length=1, max_length=255)
    firmware_to: StrictStr = Field(min_length=1, max_length=128)
    start_date: WireDate
    end_date: WireDate
    device_list: DeviceIdList


class V1UpgradeDevicesUpdate(RequestBody):
    type: Literal["append", "remove"] = Field(validation_alias=AliasChoices("type", "Type"))
    device_list: DeviceIdList


class V1LicenseDevicesCreate(RequestBody):
    device_list: DeviceIdList


class V1CancelListCreate(RequestBody):
    device_list: DeviceIdList
    type: StrictStr | None = Field(default=None, json_schema_extra=stated.one_of("append"))


class V1CallbackServiceCreate(RequestBody):
    name: StrictStr = Field(max_length=32, json_schema_extra=stated.one_of(FOTA_SERVICE))
    url: StrictStr = Field(max_length=2048, json_schema_extra=stated.CALLBACK_URL)
    username: StrictStr | None = Field(default=None, max_length=255)
    password: StrictStr | None = Field(default=None, max_length=255)


class V1SubscriptionRead(ResponseBody):
    account_name: str
    purchase_type: str | None = None
    license_count: int
    license_used_count: int
    update_time: str


class V1LicenseDeviceRead(ResponseBody):
    device_id: str
    assignment_time: datetime | None = None


class V1LicenseSummaryRead(ResponseBody):
    account_name: str
    total_licenses: int
    assigned_licenses: int
    has_more_data: bool
    last_seen_device_id: int = Field(description="the startIndex of the next page; 0 when there is none")
    device_list: list[V1LicenseDeviceRead]


class V1DeviceChangeRead(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)
    device_id: str = Field(serialization_alias="deviceId")
    status: str
    reason: str = Field(serialization_alias="Reason")


class V1LicenseChangeRead(ResponseBody):
    account_name: str
    lic_count: int
    lic_used_count: int
    device_list: list[V1DeviceChangeRead]


class V1CancelListChangeRead(ResponseBody):
    count: int
    device_list: list[str]


class V1CancelListRead(ResponseBody):
    count: int
    has_more_data: bool
    update_time: datetime | None = None
    device_list: list[str]


class V1SuccessRead(ResponseBody):
    success: bool


class V1FirmwareRead(ResponseBody):
    firmware_name: str
    launch_date: datetime
    release_note: str
    model: str
    make: str
    from_version: str
    to_version: str


class V1UpgradeDeviceRead(ResponseBody):
    device_id: str
    status: str
    result_reason: str | None = None


class V1UpgradeRead(ResponseBody):
    id: str
    account_name: str
    firmware_name: str
    firmware_to: str
    start_date: str = Field(description="YYYY-MM-DD")
    status: str
    device_list: list[V1UpgradeDeviceRead]


class V1UpgradeChangeRead(ResponseBody):
    account_name: str
    id: str
    device_list: list[V1DeviceChangeRead]


class V1RegisteredCallbackRead(ResponseBody):
    aname: str
    name: str
    url: str
    username: str | None = None
    password: str | None = None


class V1CallbackServiceRead(ResponseBody):
    account_name: str
    service_name: str


class V1DeviceRead(ResponseBody):
    device_id: str
    mdn: str
    model: str
    make: str
    firmware: str
    fota_eligible: bool
    license_assigned: bool
    upgrade_time: str


class V1DeviceListRead(ResponseBody):
    account_name: str
    has_more_data: bool
    last_seen_device_id: int = Field(description="the startIndex of the next page (an IMEI); 0 when there is none")
    device_list: list[V1DeviceRead]


class V1UpgradeListRead(ResponseBody):
    has_more_flag: bool
    last_seen_upgrade_id: int = Field(description="the startIndex of the next page; 0 when there is none")
    report_list: list[V1UpgradeRead]


class V1DeviceUpgradeHistoryRead(ResponseBody):
    device_id: str
    id: str
    account_name: str
    firmware_from: str
    firmware_to: str
    start_date: str
    upgrade_start_time: str
    status: str
    reason: str
