"""How a campaign's windowZone, blackouts and blackout override are kept in its row: blackouts and the override as
the local times they were given (JSON), rebuilt in the campaign's zone when read; SQL NULL when not set."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fota.domain.blackouts import BlackoutCalendar, BlackoutOverride, RecordedOverride, parse_blackouts
from fota.domain.wall_clock import format_local_minute, instant_of
from fota.domain.zones import WindowZone


def window_zone_of(stored: str | None) -> WindowZone | None:
    return WindowZone(stored) if stored is not None else None


def blackouts_json(calendar: BlackoutCalendar | None) -> list[dict[str, str | None]] | None:
    return None if calendar is None else [b.local_fields for b in calendar.blackouts]


def blackouts_of(stored: Any, zone: ZoneInfo) -> BlackoutCalendar | None:
    # Stored as the request gave them (and as they are echoed), so the request's parser rebuilds them.
    return None if stored is None else BlackoutCalendar(parse_blackouts(stored, zone))


def override_json(recorded: RecordedOverride | None) -> dict[str, str] | None:
    if recorded is None:
        return None
    return {
        "until": format_local_minute(recorded.override.local_until),
        "reason": recorded.override.reason,
        "by": recorded.by,
        "at": recorded.at.isoformat(),
    }


def override_of(stored: Any, zone: ZoneInfo) -> RecordedOverride | None:
    if stored is None:
        return None
    local_until = datetime.fromisoformat(stored["until"])
    override = BlackoutOverride(instant_of(local_until, zone), local_until, stored["reason"])
    return RecordedOverride(override, stored["by"], datetime.fromisoformat(stored["at"]))
