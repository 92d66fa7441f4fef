"""Request (`XCreate`, `XUpdate`) and response (`XRead`) bodies of ThingSpace v2 (contract §5.1), camelCase.

Only v2's own shapes live here; bodies v2 shares with v3 (device lists, callbacks, success) come from the v3 module.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AliasChoices, ConfigDict, Field, StrictStr

from fota.adapters.http import stated
from fota.adapters.http.schemas import DeviceIdList, RequestBody, ResponseBody, TimeWindowBody, TimeWindowRead, WireDate


class SoftwareCampaignCreate(RequestBody):
    """CampaignSoftwareUpgrade (POST /campaigns/{account})."""

    software_name: StrictStr = Field(min_length=1, max_length=255)
    software_from: StrictStr = Field(min_length=1, max_length=128)
    software_to: StrictStr = Field(min_length=1, max_length=128)
    distribution_type: StrictStr = Field(
        max_length=16, description="LWM2M, OMA (OMA-DM) or HTTP", json_schema_extra=stated.PROTOCOLS
    )
    start_date: WireDate
    end_date: WireDate
    device_list: DeviceIdList
    campaign_name: StrictStr | None = Field(default=None, max_length=255)
    download_after_date: WireDate | None = None
    download_time_window_list: list[TimeWindowBody] | None = None
    install_after_date: WireDate | None = None
    install_time_window_list: list[TimeWindowBody] | None = None


class SoftwareCampaignDatesUpdate(RequestBody):
    """V2ChangeCampaignDatesRequest: existing windows may not be removed."""

    start_date: WireDate
    end_date: WireDate
    download_after_date: WireDate | None = None
    download_time_window_list: list[TimeWindowBody] | None = None
    install_after_date: WireDate | None = None
    install_time_window_list: list[TimeWindowBody] | None = None


class CampaignDevicesUpdate(RequestBody):
    type: Literal["append", "remove"] = Field(validation_alias=AliasChoices("Type", "type"))
    device_list: DeviceIdList


class TextWindowBody(RequestBody):
    """DownloadTimeWindow: the hours as strings ("1", "5"), unlike v2/v3 time windows."""

    start_time: StrictStr | None = Field(default=None, max_length=8)
    end_time: StrictStr | None = Field(default=None, max_length=8)


class _TextScheduleBody(RequestBody):
    campaign_name: StrictStr | None = Field(default=None, max_length=255)
    distribution_type: StrictStr | None = Field(default=None, max_length=16, json_schema_extra=stated.PROTOCOLS)
    start_date: StrictStr | None = Field(default=None, max_length=32, json_schema_extra=stated.DATE)
    end_date: StrictStr | None = Field(default=None, max_length=32, json_schema_extra=stated.DATE)
    download_after_date: StrictStr | None = Field(default=None, max_length=32)
    download_time_window_list: list[TextWindowBody] | None = None
    install_after_date: StrictStr | None = Field(default=None, max_length=32)
    install_time_window_list: list[TextWindowBody] | None = None
    device_list: DeviceIdList | None = None


class FileCampaignCreate(_TextScheduleBody):
    """UploadAndScheduleFileRequest (POST /campaigns/files/{acc}); every field optional on the wire."""

    model_config = ConfigDict(json_schema_extra=stated.required("fileName", "distributionType", "startDate", "endDate"))

    file_name: StrictStr | None = Field(default=None, max_length=255, json_schema_extra=stated.NOT_EMPTY)
    file_version: StrictStr | None = Field(default=None, max_length=128)


class HttpSoftwareCampaignCreate(_TextScheduleBody):
    """SchedulesSoftwareUpgradeRequest (POST /campaigns/software/{acc})."""

    model_config = ConfigDict(
        json_schema_extra=stated.required(
            "softwareName", "softwareFrom", "softwareTo", "distributionType", "startDate", "endDate"
        )
    )

    software_name: StrictStr | None = Field(default=None, max_length=255, json_schema_extra=stated.NOT_EMPTY)
    software_from: StrictStr | None = Field(default=None, max_length=128, json_schema_extra=stated.NOT_EMPTY)
    software_to: StrictStr | None = Field(default=None, max_length=128, json_schema_extra=stated.NOT_EMPTY)


class LoggingCreate(RequestBody):
    device_ids: DeviceIdList = Field(json_schema_extra=stated.NOT_EMPTY_LIST)


class SoftwareCampaignRead(ResponseBody):
    """CampaignSoftware, and V2CampaignMetaInfo in campaign histories."""

    id: str
    account_name: str
    campaign_name: str | None = None
    software_name: str
    distribution_type: str
    make: str
    model: str
    software_from: str
    software_to: str
    start_date: date
    end_date: date
    download_after_date: date | None = None
    download_time_window_list: list[TimeWindowRead] | None = None
    install_after_date: date | None = None
    install_time_window_list: list[TimeWindowRead] | None = None
    status: str


class TextWindowRead(ResponseBody):
    start_time: str
    end_time: str


class ScheduledFileCampaignRead(ResponseBody):
    """UploadAndScheduleFileResponse: every scalar a string."""

    id: str
    account_name: str
    campaign_name: str | None = None
    software_name: str | None = None
    software_from: str | None = None
    software_to: str | None = None
    file_name: str | None = None
    file_version: str | None = None
    distribution_type: str
    make: str
    model: str
    start_date: str
    end_date: str
    download_after_date: str | None = None
    download_time_window_list: list[TextWindowRead] | None = None
    install_after_date: str | None = None
    install_time_window_list: list[TextWindowRead] | None = None
    device_list: list[str]
    status: str


class CampaignDevicesChangeRead(ResponseBody):
    account_name: str
    campaign_id: str
    request_id: str


class DeviceStatusRead(ResponseBody):
    device_id: str
    status: str
    result_reason: str | None = None


class LicenseDeviceRead(ResponseBody):
    device_id: str
    assignment_time: str | None = None


class LicenseSummaryRead(ResponseBody):
    account_name: str
    total_license: int
    assigned_licenses: int
    has_more_data: bool
    last_seen_device_id: str | None = None
    max_page_size: int
    device_list: list[LicenseDeviceRead]


class LicenseChangeRead(ResponseBody):
    account_name: str
    lic_total_count: int
    lic_used_count: int
    device_list: list[DeviceStatusRead]


class SoftwarePackageRead(ResponseBody):
    software_name: str
    launch_date: date
    release_note: str | None = None
    model: str
    make: str
    distribution_type: str
    device_platform_id: str


class SoftwareInfoRead(ResponseBody):
    name: str
    version: str
    upgrade_time: str


class AccountDeviceRead(ResponseBody):
    device_id: str
    mdn: str
    model: str
    make: str
    fota_eligible: bool
    app_fota_eligible: bool
    license_assigned: bool
    distribution_type: str
    software_list: list[SoftwareInfoRead]
    create_time: str | None = None
    upgrade_time: str | None = None
    update_time: str | None = None
    refresh_time: str | None = None


class AccountDeviceListRead(ResponseBody):
    account_name: str
    has_more_data: bool
    last_seen_device_id: str | None = None
    max_page_size: int
    device_list: list[AccountDeviceRead]


class DeviceSoftwareUpgradeRead(ResponseBody):
    device_id: str
    id: str
    account_name: str
    software_name: str | None = None
    start_date: date
    status: str
    reason: str


class CampaignHistoryRead(ResponseBody):
    has_more_data: bool
    last_seen_campaign_id: str | None = None
    campaign_list: list[SoftwareCampaignRead]


class CampaignDeviceReportRead(ResponseBody):
    total_device: int
    has_more_data: bool
    last_seen_device_id: str | None = None
    max_page_size: int
    device_list: list[DeviceStatusRead]


class LoggingStatusRead(ResponseBody):
    device_id: str
    expiry_date: date


class DeviceLogRead(ResponseBody):
    device_id: str
    log_time: datetime
    log_type: str
    event_log: str
    binary_log_file_base64: str = Field(serialization_alias="binaryLogFileBase64")
    binary_log_filename: str


class CheckInHistoryRead(ResponseBody):
    device_id: str
    client_type: str
    result: str
    failure_type: str
    time_completed: datetime


class AvailableFileRead(ResponseBody):
    file_name: str
    file_version: str
    release_note: str | None = None
    make: str
    model: str
    local_target_path: str | None = None
    distribution_type: str
    device_platform_id: str


class AvailableFileListRead(ResponseBody):
    available_files_response: list[AvailableFileRead] = Field(serialization_alias="AvailableFilesResponse")


class UploadedFileRead(ResponseBody):
    """UploadConfigurationFilesResponse; `size` and `sha256` are fota's, for checking the stored bytes."""

    file_name: str
    file_version: str
    launch_date: date
    release_note: str | None = None
    model: str
    make: str
    distribution_type: str
    device_platform_id: str
    local_target_path: str
    size: int | None = None
    sha256: str | None = None
