"""Devices of an account, their time zone (set by the administration or reported by the device), and the rule that
decides whether a device may join a campaign."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from fota.domain.campaign import Campaign
from fota.domain.errors import InvalidRequest
from fota.domain.protocols import Protocol
from fota.domain.windows import parse_time_zone

IMEI_PATTERN = re.compile(r"[0-9]{15}")


def check_imei(device_id: str) -> str:
    if not IMEI_PATTERN.fullmatch(device_id):
        raise InvalidRequest(f"deviceId {device_id!r} is not an IMEI of 15 digits")
    return device_id


class ZoneSource(StrEnum):
    """Where a device's time zone came from; the administration's choice wins over the device's report."""

    ADMIN = "admin"
    DEVICE = "device"


MAX_ZONE_LENGTH = 64


def check_time_zone(name: str) -> str:
    """An IANA zone name as given, or InvalidRequest; an empty name is not a zone (it is not UTC here)."""
    if not name or len(name) > MAX_ZONE_LENGTH:
        raise InvalidRequest(f"timeZone {name!r} is not an IANA zone name such as Europe/Berlin")
    return parse_time_zone(name).key


@dataclass(frozen=True, slots=True)
class Device:
    device_id: str
    account_name: str
    mdn: str | None
    make: str
    model: str
    firmware: str
    protocol: Protocol
    license_assigned: bool
    license_assigned_at: datetime | None
    created_at: datetime
    updated_at: datetime
    firmware_updated_at: datetime | None = None
    last_seen_at: datetime | None = None
    time_zone: str | None = None  # IANA; None: the device has none and campaigns use their own zone
    time_zone_source: ZoneSource | None = None


@dataclass(frozen=True, slots=True)
class DeviceKind:
    """What campaign eligibility reads of a device. A fleet's devices share a few kinds, so a campaign of 100 000
    devices is decided from a few objects rather than a Device each."""

    account_name: str
    make: str
    model: str
    firmware: str
    protocol: Protocol
    license_assigned: bool


def reported_zone(device: Device, reported: object) -> str | None:
    """The zone the device takes from its own report (the Device object's Timezone, /3/0/15), or None when the
    report changes nothing: the administration set a zone, the report is empty or not an IANA name (a device may
    answer a POSIX TZ string or nothing at all; that leaves the zone it had), or it is the zone the device has."""
    if device.time_zone_source is ZoneSource.ADMIN or not isinstance(reported, str):
        return None
    try:
        zone = check_time_zone(reported.strip())
    except InvalidRequest:
        return None
    return None if zone == device.time_zone else zone


def ineligibility_reason(
    device: Device | DeviceKind | None, campaign: Campaign, *, in_other_live_campaign: bool, license_obtainable: bool
) -> str | None:
    """None when the device may join the campaign; otherwise a reason a person can act on."""
    if device is None:
        return "Device not found in this account"
    if device.account_name != campaign.account_name:
        return "Device belongs to another account"
    if device.protocol is not campaign.protocol:
        return f"Device protocol {device.protocol.value} differs from the campaign's {campaign.protocol.value}"
    if device.make != campaign.make or device.model != campaign.model:
        return f"Device is a {device.make} {device.model}; the firmware is for {campaign.make} {campaign.model}"
    if campaign.package_kind != "file" and device.firmware != campaign.firmware_from:
        return f"Device runs firmware {device.firmware!r}, not the campaign's firmwareFrom {campaign.firmware_from!r}"
    if in_other_live_campaign:
        return "Device is already in another live campaign"
    if not device.license_assigned and not license_obtainable:
        if campaign.auto_assign_license:
            return "No FOTA license available in the account's pool"
        return "Device has no FOTA license and autoAssignLicenseFlag is false"
    return None
