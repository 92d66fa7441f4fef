"""The device's time zone rules: which names are zones, and when a device's own report (/3/0/15) is taken."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fota.domain.devices import Device, ZoneSource, check_time_zone, reported_zone
from fota.domain.errors import InvalidRequest
from fota.domain.protocols import Protocol

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _device(zone: str | None = None, source: ZoneSource | None = None) -> Device:
    return Device(
        "350000000000001", "acc", None, "Acme", "M1", "1.0", Protocol.LWM2M, False, None, NOW, NOW,
        time_zone=zone, time_zone_source=source,
    )  # fmt: skip


@pytest.mark.parametrize("name", ["Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata", "UTC"])
def test_iana_names_are_zones(name: str) -> None:
    assert check_time_zone(name) == name


@pytest.mark.parametrize("name", ["", "Mars/Olympus_Mons", "+05:30", "../etc/passwd", "/etc/localtime", "x" * 65])
def test_other_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidRequest):
        check_time_zone(name)


def test_a_device_without_a_zone_takes_its_report() -> None:
    assert reported_zone(_device(), "Asia/Kolkata") == "Asia/Kolkata"
    assert reported_zone(_device(), " Asia/Kolkata ") == "Asia/Kolkata"


def test_a_reported_zone_replaces_an_earlier_report_but_not_the_administrations() -> None:
    assert reported_zone(_device("Europe/Berlin", ZoneSource.DEVICE), "Asia/Kolkata") == "Asia/Kolkata"
    assert reported_zone(_device("Europe/Berlin", ZoneSource.ADMIN), "Asia/Kolkata") is None


@pytest.mark.parametrize("report", [None, "", "GMT+5:30", 42])
def test_a_missing_or_garbled_report_changes_nothing(report: object) -> None:
    assert reported_zone(_device("Europe/Berlin", ZoneSource.DEVICE), report) is None
    assert reported_zone(_device(), report) is None


def test_the_zone_the_device_has_is_no_change() -> None:
    assert reported_zone(_device("Asia/Kolkata", ZoneSource.DEVICE), "Asia/Kolkata") is None
