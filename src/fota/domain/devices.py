"""Devices of an account, and the rule that decides whether a device may join a campaign."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from fota.domain.campaign import Campaign
from fota.domain.errors import InvalidRequest
from fota.domain.protocols import Protocol

IMEI_PATTERN = re.compile(r"[0-9]{15}")


def check_imei(device_id: str) -> str:
    if not IMEI_PATTERN.fullmatch(device_id):
        raise InvalidRequest(f"deviceId {device_id!r} is not an IMEI of 15 digits")
    return device_id


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


def ineligibility_reason(
    device: Device | None, campaign: Campaign, *, in_other_live_campaign: bool, license_obtainable: bool
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
