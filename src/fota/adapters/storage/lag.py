"""How late the campaign engine is: the oldest work that was due by a given time and is still waiting.

A read-only query of its own, for the engine loop's lag gauge, so the repositories the services use stay as they are.
Both columns are indexed (ix_campaigns_next_transition, ix_campaign_devices_deadline): two cheap MIN lookups.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, func, select

from fota.adapters.storage.database import READ_ONLY_OPTION
from fota.adapters.storage.tables import campaign_devices, campaigns
from fota.domain.statuses import DeviceStatus


def oldest_due_work(engine: Engine, now: datetime) -> datetime | None:
    """The earliest campaign transition or upgrade-step deadline at or before `now`; None when nothing is due."""
    transition = select(func.min(campaigns.c.next_transition_at)).where(campaigns.c.next_transition_at <= now)
    deadline = select(func.min(campaign_devices.c.step_deadline)).where(
        campaign_devices.c.step_deadline <= now,
        campaign_devices.c.status == DeviceStatus.IN_PROGRESS.value,
    )
    with engine.connect().execution_options(**{READ_ONLY_OPTION: True}) as connection:
        found = [connection.execute(transition).scalar(), connection.execute(deadline).scalar()]
    due = [f for f in found if f is not None]
    return min(due) if due else None
