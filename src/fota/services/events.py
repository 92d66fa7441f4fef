"""Recording status changes: every change goes to history and, in the same transaction, becomes a callback event.

Services call `record` instead of writing history directly, so no status change can skip its callback.
"""

from __future__ import annotations

from collections.abc import Iterable

from fota.services.ports import HistoryEntry, UnitOfWork


def record(uow: UnitOfWork, entries: Iterable[HistoryEntry]) -> None:
    """Appends the entries to history; campaign and per-device status changes also enter the callback outbox."""
    batch = list(entries)
    uow.history.append(batch)
