"""Request (`XCreate`, `XUpdate`) and response (`XRead`) bodies of the ThingSpace v3/v2 API, camelCase on the wire.

Requests are strict about types (a string is not a boolean); dates are `YYYY-MM-DD` strings.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from pydantic.alias_generators import to_camel

from fota.adapters.http import stated

WireDate = Annotated[date, Field(strict=False)]
Imei = Annotated[StrictStr, Field(pattern=r"^[0-9]{15}$", description="IMEI, 15 digits")]
DeviceIdList = Annotated[list[Imei], Field(max_length=1_000_000)]


class RequestBody(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, strict=True, extra="ignore")


class ResponseBody(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True)


class TimeWindowBody(RequestBody):
    start_time: StrictInt
    end_time: StrictInt


class TimeWindowRead(ResponseBody):
    start_time: int
    end_time: int


class CampaignCreate(RequestBody):
    firmware_name: StrictStr = Field(min_length=1, max_length=255)
    firmware_from: StrictStr = Field(min_length=1, max_length=128)
    firmware_to: StrictStr = Field(min_length=1, max_length=128)
    protocol: StrictStr = Field(max_length=16, json_schema_extra=stated.PROTOCOLS)
    start_date: WireDate
    end_date: WireDate
    device_list: DeviceIdList
    auto_assign_license_flag: StrictBool
    auto_add_devices_flag: StrictBool
    campaign_name: StrictStr | None = Field(default=None, max_length=255)
    campaign_time_window_list: list[TimeWindowBody] | None = Field(
        default=None, validation_alias=AliasChoices("campaignTimeWindowList", "timeWindowList")
    )
    time_zone: StrictStr | None = Field(default=None, max_length=64, description="IANA zone; UTC when absent")
    # Checked by the domain's RetryPolicy.from_plain, whose errors name the field at fault.
    retry_policy: dict[str, object] | None = Field(default=None, json_schema_extra=stated.retry_policy(echoed=False))
    # Checked by the domain's parse_rollout, whose errors name the field at fault.
    rollout: dict[str, object] | None = Field(
        default=None,
        description="waves, canary, advance and abort of a staged rollout (fota-extensions.md §1)",
        examples=[{"waves": [{"devices": 5}, {"percent": 25}, {"percent": 100}], "canary": "stratified"}],
    )
    # Checked by the domain's BandwidthBudget.from_plain, whose errors name the field at fault.
    bandwidth: dict[str, object] | None = Field(default=None, json_schema_extra=stated.bandwidth)
    # Checked by the domain's parse_window_zone and parse_blackouts (in the campaign's timeZone).
    window_zone: StrictStr | None = Field(
        default=None, description="whose zone the windows are read in", json_schema_extra=stated.WINDOW_ZONES
    )
    blackouts: list[dict[str, object]] | None = Field(default=None, json_schema_extra=stated.BLACKOUTS)


class BlackoutOverrideBody(RequestBody):
    model_config = ConfigDict(json_schema_extra=stated.required("until", "reason"))

    until: StrictStr | None = Field(default=None, description="local time in the campaign's timeZone")
    reason: StrictStr | None = None


class BlackoutOverrideRead(ResponseBody):
    until: str = Field(description="local time in the campaign's timeZone, as given")
    reason: str
    by: str = Field(description="the session's user who set it")
    at: datetime


class CampaignDatesUpdate(RequestBody):
    start_date: WireDate
    end_date: WireDate
    campaign_time_window_list: list[TimeWindowBody] | None = Field(
        default=None, validation_alias=AliasChoices("campaignTimeWindowList", "timeWindowList")
    )


class CampaignDevicesUpdate(RequestBody):
    type: Literal["append", "remove"] = Field(validation_alias=AliasChoices("Type", "type"))
    device_list: DeviceIdList


class DeviceListBody(RequestBody):
    device_list: DeviceIdList


class CancelListCreate(RequestBody):
    device_list: DeviceIdList
    type: StrictStr | None = Field(default=None, json_schema_extra=stated.one_of("append"))
    count: StrictInt | None = None


class CallbackCreate(RequestBody):
    model_config = ConfigDict(json_schema_extra=stated.required("url"))

    url: StrictStr | None = Field(default=None, json_schema_extra=stated.CALLBACK_URL)


class LoginBody(RequestBody):
    username: StrictStr = Field(json_schema_extra=stated.NOT_EMPTY)
    password: StrictStr = Field(json_schema_extra=stated.NOT_EMPTY)


class PasswordResetBody(RequestBody):
    old_password: StrictStr


class FirmwareCampaignRead(ResponseBody):
    id: str
    account_name: str
    campaign_name: str | None = None
    firmware_name: str
    firmware_from: str
    firmware_to: str
    protocol: str
    make: str
    model: str
    start_date: date
    end_date: date
    campaign_time_window_list: list[TimeWindowRead]
    status: str
    time_zone: str | None = None
    retry_policy: dict[str, object] | None = Field(
        default=None,
        description="the campaign's retryPolicy with every field filled in; absent when not set",
        json_schema_extra=stated.retry_policy(echoed=True),
    )
    window_zone: str | None = Field(default=None, json_schema_extra=stated.WINDOW_ZONES)
    blackouts: list[dict[str, str | None]] | None = Field(default=None, json_schema_extra=stated.BLACKOUTS)
    blackout_override: BlackoutOverrideRead | None = Field(default=None, description="the override last set, if any")
    bandwidth: dict[str, int] | None = Field(
        default=None,
        description="the campaign's bandwidth budget (image bytes per UTC clock hour); absent when not set",
        json_schema_extra=stated.bandwidth,
    )
    follow_up_of: str | None = Field(default=None, description="the campaign this one follows up; absent if none")
    rollout: dict[str, object] | None = Field(
        default=None,
        description=(
            "the campaign's rollout with every field filled in and its state (fota-extensions.md §3): state, "
            "pausedReason, currentWave, and per wave its members and outcomes; absent when not set"
        ),
    )


class RolloutCallBody(RequestBody):
    reason: StrictStr | None = Field(default=None, max_length=2000, description="why, for the campaign's audit")


class AuditEntryRead(ResponseBody):
    at: datetime
    actor: str = Field(description="the session's user, or fota for an automatic decision")
    action: str = Field(
        description=(
            "pause, resume, approve, advance, autoPause, awaitApproval, complete, unhealthy, blackoutOverride, "
            "followUp, followsUp"
        )
    )
    reason: str | None
    detail: dict[str, object] | None = Field(description="what the action concerned, such as the wave it left open")


class CampaignRead(FirmwareCampaignRead):
    auto_assign_license_flag: bool
    auto_add_devices_flag: bool
    time_window_list: list[TimeWindowRead] = Field(description="the seed page's name for campaignTimeWindowList")


class DeviceChangeRead(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)
    device_id: str = Field(serialization_alias="deviceId")
    status: str
    reason: str = Field(serialization_alias="Reason")


class CampaignDevicesChangeRead(ResponseBody):
    account_name: str
    campaign_id: str
    device_list: list[DeviceChangeRead]


class SuccessRead(ResponseBody):
    success: bool


class DeviceStatusRead(ResponseBody):
    device_id: str
    status: str
    result_reason: str | None = None
    updated_time: datetime | None = None
    recent_attempt_time: datetime | None = None
    next_attempt_time: datetime | None = None
    carried_reason: str | None = Field(
        default=None, description="in a follow-up campaign: how the device ended the campaign it was carried from"
    )


class CampaignDeviceReportRead(ResponseBody):
    total_device: int
    has_more_data: bool
    last_seen_device_id: str | None = None
    max_page_size: int
    device_list: list[DeviceStatusRead]


class CampaignHistoryRead(ResponseBody):
    has_more_data: bool
    last_seen_campaign_id: str | None = None
    campaign_list: list[FirmwareCampaignRead]


class DeviceFirmwareUpgradeRead(ResponseBody):
    device_id: str
    campaign_id: str
    account_name: str
    firmware_name: str
    firmware_from: str
    firmware_to: str
    start_date: date
    report_updated_time: str
    status: str
    reason: str


class SubscriptionRead(ResponseBody):
    account_name: str
    purchase_type: str | None = None
    license_count: int
    license_used_count: int
    update_time: str


class LicenseDeviceRead(ResponseBody):
    device_id: str
    assignment_time: str | None = None


class LicenseSummaryRead(ResponseBody):
    account_name: str
    total_licenses: int
    assigned_licenses: int
    has_more_data: bool
    last_seen_device_id: str | None = None
    max_page_size: int
    device_list: list[LicenseDeviceRead]


class LicenseChangeRead(ResponseBody):
    account_name: str
    lic_count: int
    lic_used_count: int
    device_list: list[DeviceStatusRead]


class FirmwarePackageRead(ResponseBody):
    firmware_name: str
    firmware_from: str
    firmware_to: str
    launch_date: datetime
    release_note: str
    model: str
    make: str
    protocol: str


class DeviceFirmwareVersionRead(ResponseBody):
    device_id: str
    firmware_version: str
    status: str
    reason: str | None = None
    firmware_version_update_time: datetime | None = None


class DeviceFirmwareListRead(ResponseBody):
    account_name: str
    device_firmwar_version_list: list[DeviceFirmwareVersionRead] = Field(serialization_alias="deviceFirmwarVersionList")


class FirmwareReportRequestRead(ResponseBody):
    account_name: str
    request_id: str


class CallbackRead(ResponseBody):
    url: str | None = None


class SoftwareInfoRead(ResponseBody):
    name: str
    version: str
    upgrade_time: str


class AccountDeviceRead(ResponseBody):
    device_id: str
    mdn: str
    model: str
    make: str
    firmware: str
    fota_eligible: bool
    status: str
    license_assigned: bool
    protocol: str
    software_list: list[SoftwareInfoRead]
    create_time: str
    upgrade_time: str | None = None
    update_time: str
    refresh_time: str | None = None


class AccountDeviceListRead(ResponseBody):
    account_name: str
    has_more_data: bool
    last_seen_device_id: str | None = None
    max_page_size: int
    device_list: list[AccountDeviceRead]


class DeviceLookupRead(ResponseBody):
    device_id: str
    request_status: str
    result_reason: str | None = None
    mdn: str | None = None
    model: str | None = None
    make: str | None = None
    firmware: str | None = None
    fota_eligible: bool | None = None
    status: str | None = None
    license_assigned: bool | None = None
    protocol: str | None = None
    create_time: str | None = None
    update_time: str | None = None
    last_connection_time: datetime | None = None


class DeviceLookupListRead(ResponseBody):
    account_name: str
    device_count: int
    device_list: list[DeviceLookupRead]


class CancelListRead(ResponseBody):
    count: int
    has_more_data: bool
    update_time: str
    device_list: list[str]


class CancelListChangeRead(ResponseBody):
    count: int
    device_list: list[str]


class LoginRead(ResponseBody):
    session_token: str


class PasswordResetRead(ResponseBody):
    new_password: str


class ErrorRead(ResponseBody):
    error_code: str
    error_message: str
