"""Many devices' check-ins recorded in one transaction with a statement per batch, not per device, for the common
check-in: a device reporting the firmware it was known to run, with no soak to judge. Any other check-in is
recorded on its own by `upgrades.reported_in`, in the same transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from fota.domain.upgrade import Assignment
from fota.services import upgrades
from fota.services.device_logging import check_in_event, note_check_ins
from fota.services.ports import CheckInFacts, UnitOfWork


@dataclass(frozen=True)
class Report:
    """What one check-in says: the device, and the firmware it runs (None when the check-in names none); `event`,
    its log entry where it is not `check_in_event`'s."""

    device_id: str
    firmware: str | None
    event: str | None = None


def reported_in_batch(
    uow: UnitOfWork,
    reports: Sequence[Report],
    *,
    facts: Mapping[str, CheckInFacts],
    now: datetime,
    client_type: str,
) -> list[Assignment | None]:
    """`upgrades.reported_in` and then `upgrades.assignment_in` for each report, inside a unit the caller holds and
    commits; the assignments in input order. `facts`: the devices' `check_in_facts`, read in this unit. The caller
    passes the reports in device order: row locks are taken in it, so that two processes' batches never deadlock."""
    twice = {device_id for device_id, n in Counter(r.device_id for r in reports).items() if n > 1}
    # The second of a device's two check-ins must see what the first wrote.
    common = [_is_common(report, facts.get(report.device_id)) and report.device_id not in twice for report in reports]
    common_reports = [report for report, is_common in zip(reports, common, strict=True) if is_common]
    noted = [
        (r.device_id, r.event or check_in_event(client_type, r.firmware), facts[r.device_id].logging_account)
        for r in common_reports
    ]
    note_check_ins(uow, noted, client_type, now=now)

    results: list[Assignment | None] = [None] * len(reports)
    touched: list[str] = []
    for i, report in enumerate(reports):
        if common[i]:
            touched.append(report.device_id)
            continue
        uow.devices.touch_many(touched, at=now)  # the rows before this one, so that locks stay in device order
        touched = []
        upgrades.reported_in(
            uow, report.device_id, firmware=report.firmware, now=now, check_in=client_type, event=report.event
        )
        results[i] = upgrades.assignment_in(uow, report.device_id, now)
    uow.devices.touch_many(touched, at=now)

    active = uow.upgrades.active_for_devices([report.device_id for report in common_reports])
    for i, report in enumerate(reports):
        found = active.get(report.device_id) if common[i] else None
        if found is not None:
            results[i] = upgrades.assignment_of(*found, now=now)
    return results


def _is_common(report: Report, facts: CheckInFacts | None) -> bool:
    return facts is not None and not facts.soaking and (report.firmware is None or report.firmware == facts.firmware)
