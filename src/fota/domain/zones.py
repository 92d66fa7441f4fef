"""IANA time zone names of campaigns and devices, and which zone a device's windows are evaluated in."""

from __future__ import annotations

from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fota.domain.errors import InvalidRequest

MAX_ZONE_NAME = 64  # the width of the stored column

# Entries of the zone database that are not places: `localtime` is whatever the server's clock is set to,
# `posixrules` a compiler default and `Factory` a placeholder without an offset anyone lives by.
_NOT_PLACES = frozenset({"localtime", "posixrules", "Factory"})


class WindowZone(StrEnum):
    """The contract's `windowZone`: in whose zone the campaign's hourly windows are read."""

    CAMPAIGN = "campaign"
    DEVICE = "device"


def zone_or_none(name: str) -> ZoneInfo | None:
    """The zone of an IANA name, or None when the name is not one."""
    if not name or len(name) > MAX_ZONE_NAME or name in _NOT_PLACES:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # ValueError: a path or a file that is not a zone
        return None


def parse_zone_name(value: object, field: str) -> str:
    """A request's zone field (`timeZone` of a campaign or of a device) checked to be an IANA name; returns it."""
    if not isinstance(value, str) or zone_or_none(value) is None:
        raise InvalidRequest(f"{field} {value!r} is not an IANA time zone name such as Europe/Berlin")
    return value


def reported_zone(value: str | None) -> str | None:
    """A zone a device reports of itself (LwM2M /3/0/15), kept only when it is an IANA name: a device that reports
    something else is treated as one without a zone rather than refused."""
    if value is None:
        return None
    name = value.strip()
    return name if zone_or_none(name) is not None else None


def parse_window_zone(value: object) -> WindowZone:
    """`windowZone`: absent means `campaign`, as a campaign without the field has always behaved."""
    if value is None:
        return WindowZone.CAMPAIGN
    for zone in WindowZone:
        if value == zone.value:
            return zone
    allowed = " or ".join(repr(z.value) for z in WindowZone)
    raise InvalidRequest(f"windowZone {value!r} must be {allowed}")


def effective_zone(window_zone: WindowZone, device_zone: str | None, campaign_zone: str) -> str:
    """The zone a device's windows are read in: its own under `device`, when it has one; else the campaign's."""
    if window_zone is WindowZone.DEVICE and device_zone is not None:
        return device_zone
    return campaign_zone
