"""Many devices' check-ins recorded in one transaction with a statement per batch, not per device, for the common
check-in: a device reporting the firmware it was known to run, with no soak to judge. Any other check-in is
recorded on its own by `upgrades.reported_in`, in the same transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from fota.domain.devices import Device
from fota.domain.upgrade import Assignment
from fota.services import upgrades
from fota.services.device_logging import check_in_event
from fota.services.ports import CheckInRecord, DeviceLogEntry, UnitOfWork


@dataclass(frozen=True)
class Report:
    """What one check-in says: the device, and the firmware it runs (None when the check-in names none)."""

    device_id: str
    firmware: str | None


def reported_in_batch(
    uow: UnitOfWork, reports: Sequence[Report], *, now: datetime, client_type: str
) -> list[Assignment | None]:
    """`upgrades.reported_in` and then `upgrades.assignment_in` for each report, inside a unit the caller holds and
    commits; the assignments in input order. The caller passes the reports in device order: row locks are taken in
    it, so that two processes' batches never deadlock."""
    ids = [report.device_id for report in reports]
    known = uow.devices.get_many(ids)
    twice = {device_id for device_id, n in Counter(ids).items() if n > 1}  # the second must see the first's writes
    alone = uow.rollouts.soaking_among(ids) | twice
    common = [_is_common(report, known.get(report.device_id)) and report.device_id not in alone for report in reports]
    common_reports = [report for report, is_common in zip(reports, common, strict=True) if is_common]
    _note_check_ins(uow, common_reports, now, client_type)

    results: list[Assignment | None] = [None] * len(reports)
    touched: list[str] = []
    for i, report in enumerate(reports):
        if common[i]:
            touched.append(report.device_id)
            continue
        uow.devices.touch_many(touched, at=now)  # the rows before this one, so that locks stay in device order
        touched = []
        upgrades.reported_in(uow, report.device_id, firmware=report.firmware, now=now, check_in=client_type)
        results[i] = upgrades.assignment_in(uow, report.device_id, now)
    uow.devices.touch_many(touched, at=now)

    active = uow.upgrades.active_for_devices([report.device_id for report in common_reports])
    for i, report in enumerate(reports):
        found = active.get(report.device_id) if common[i] else None
        if found is not None:
            results[i] = upgrades.assignment_of(*found, now=now)
    return results


def _is_common(report: Report, device: Device | None) -> bool:
    return device is not None and (report.firmware is None or report.firmware == device.firmware)


def _note_check_ins(uow: UnitOfWork, reports: Sequence[Report], now: datetime, client_type: str) -> None:
    """`device_logging.note_check_in` for each report: its history row, and a log entry for the few devices that
    log."""
    records = [CheckInRecord(r.device_id, client_type, "Success", "None", now) for r in reports]
    uow.activity.add_check_ins(records)
    logging = uow.activity.logging_among([r.device_id for r in reports], now=now)
    entries = [
        DeviceLogEntry(status.account_name, r.device_id, now, "AgentService", check_in_event(client_type, r.firmware))
        for r in reports
        if (status := logging.get(r.device_id)) is not None
    ]
    if entries:
        uow.activity.add_logs(entries, received_at=now)
