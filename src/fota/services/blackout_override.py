"""The blackout override (fota-extensions §2 `blackouts/override`): upgrades may start during a campaign's blackouts
until a local time, set by a user with a reason, kept on the campaign and recorded in its history and its audit."""

from __future__ import annotations

from dataclasses import replace

from fota.clock import Clock
from fota.domain.blackouts import RecordedOverride, parse_blackout_override
from fota.domain.errors import Conflict, NotFound
from fota.domain.wall_clock import format_local_minute
from fota.services import events
from fota.services.ports import AuditRecord, HistoryEntry, UnitOfWork

# The audit's name for it, beside the rollout's actions (fota-extensions.md §2).
OVERRIDE_ACTION = "blackoutOverride"


def override_blackouts(
    *, uow: UnitOfWork, clock: Clock, account_name: str, campaign_id: str, until: object, reason: object, user: str
) -> RecordedOverride:
    """Lets upgrades start in the campaign's blackouts until `until` (local, in its `timeZone`); a later override
    replaces an earlier one. Returns what an audit entry needs: who (`by`), when (`at`), why and until when.

    404 for an unknown campaign; 409 (the extensions' answer to a state that forbids a call) for a final one or
    one without blackouts; 400 for a bad `until` or no reason.
    """
    now = clock.now()
    with uow:
        campaign = uow.campaigns.get_for_update(account_name, campaign_id)
        if campaign is None:
            raise NotFound(f"campaign {campaign_id} not found in account {account_name}")
        if campaign.status.is_final:
            raise Conflict(f"campaign {campaign_id} is {campaign.status.value}; its blackouts no longer apply")
        if campaign.blackouts is None:
            raise Conflict(f"campaign {campaign_id} has no blackouts to override")
        zone = campaign.schedule.zone
        recorded = RecordedOverride(parse_blackout_override(until, reason, zone, now), user, now)
        overridden = replace(campaign, blackout_override=recorded)
        uow.campaigns.update(overridden, at=now)
        local_until = format_local_minute(recorded.override.local_until)
        why = f"blackouts overridden until {local_until} ({zone.key}) by {user}: {recorded.override.reason}"
        events.record(uow, [HistoryEntry(account_name, campaign_id, None, campaign.status.value, why, now)])
        uow.audit.add(
            [
                AuditRecord(
                    campaign_id,
                    account_name,
                    now,
                    user,
                    OVERRIDE_ACTION,
                    recorded.override.reason,
                    {"until": local_until, "timeZone": zone.key},
                )
            ]
        )
        uow.commit()
    return recorded
