"""A campaign's rollout in SQL (migration 0016): the spec and state round-trip (SQL NULL without one), the plan is
idempotent, a wave's tally is one grouped query that keeps failed, unhealthy and soaked apart, the next check only
moves earlier, the soaking index finds a device's soaks, the audit lists oldest first, and a hold leaves the reason
of a device waiting out a back-off of its own alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select, update

from fota.adapters.storage.tables import campaign_devices, campaigns
from fota.adapters.storage.unit_of_work import SqlUnitOfWorkFactory
from fota.clock import SimulatedClock
from fota.domain.rollout import RolloutState, RolloutStatus, WaveTally, parse_rollout
from fota.domain.statuses import DeviceStatus
from fota.domain.upgrade import Step
from fota.services import admin, rollouts
from fota.services import campaigns as campaign_service
from fota.services.campaigns import CampaignCreate
from fota.services.ports import AuditRecord
from tests.storage.provisioning import add_firmware

ACCOUNT = "0000000001-00001"
DEVICES = [f"3500000000000{i:02d}" for i in range(15)]
SPEC = parse_rollout({"waves": [{"devices": 2}, {"percent": 50}, {"percent": 100}]})


def test_rollout_storage(engine: Engine) -> None:
    uow = SqlUnitOfWorkFactory(engine)
    clock = SimulatedClock(datetime(2026, 12, 1, 10, tzinfo=UTC))
    now = clock.now()
    admin.create_account(uow=uow(), clock=clock, name=ACCOUNT, license_count=20, purchase_type=None)
    add_firmware(uow, clock)
    admin.provision_devices(
        uow=uow(),
        clock=clock,
        account_name=ACCOUNT,
        specs=[admin.DeviceSpec(device_id, "M", "X", "1", "LWM2M") for device_id in DEVICES],
    )
    created = [
        campaign_service.create_campaign(
            uow=uow(),
            clock=clock,
            account_name=ACCOUNT,
            signing_required=False,
            request=CampaignCreate(
                firmware_name="fw",
                firmware_from="1",
                firmware_to="2",
                protocol="LWM2M",
                start_date=now.date(),
                end_date=now.date() + timedelta(days=1),
                device_ids=devices,
                auto_assign_license=True,
                auto_add_devices=False,
                rollout=rollout,
            ),
        )
        for devices, rollout in ((DEVICES[:14], SPEC), (DEVICES[14:], None))
    ]
    staged, plain = created
    with engine.connect() as connection:
        stored = {r.id: (r.rollout, r.rollout_status) for r in connection.execute(select(campaigns))}
        waves = dict(
            connection.execute(
                select(campaign_devices.c.device_id, campaign_devices.c.wave).where(
                    campaign_devices.c.campaign_id == staged.id
                )
            ).all()
        )
    assert stored[plain.id] == (None, None)
    assert stored[staged.id] == (SPEC.as_dict(), "running")
    assert sorted(waves.values()) == [0] * 2 + [1] * 5 + [2] * 7

    reader = uow()
    with reader:
        read = reader.campaigns.get(ACCOUNT, staged.id)
        assert read is not None and read.rollout == SPEC and read.rollout_state == RolloutState()
        assert reader.campaigns.get(ACCOUNT, plain.id).rollout is None  # type: ignore[union-attr]
        # Planning again (a crash between the layout and Scheduled) changes nothing.
        rollouts.plan_members(reader, read)
        reader.commit()
    with engine.connect() as connection:
        again = dict(
            connection.execute(
                select(campaign_devices.c.device_id, campaign_devices.c.wave).where(
                    campaign_devices.c.campaign_id == staged.id
                )
            ).all()
        )
    assert again == waves

    # Wave 2's five members: one failed, two succeeded (one soaked), one unhealthy, one pending.
    second = sorted(d for d, w in waves.items() if w == 1)
    third = sorted(d for d, w in waves.items() if w == 2)
    concluded = ["UpgradeFailed", "UpgradeSuccess", "UpgradeSuccess", "UpgradeSuccess"]
    with engine.begin() as connection:  # the statuses as conclusions would leave them
        for device_id, status in zip(second, concluded, strict=False):
            connection.execute(
                update(campaign_devices)
                .where(campaign_devices.c.campaign_id == staged.id, campaign_devices.c.device_id == device_id)
                .values(status=status, active=False)
            )
    writer = uow()
    with writer:
        writer.rollouts.set_state(staged.id, RolloutState(current_wave=1), check_at=None)
        for device_id in second[1:4]:
            writer.rollouts.start_soak(staged.id, device_id, at=now, lifetime=600)
        writer.commit()
    writer = uow()
    with writer:
        assert [s.device_id for s in writer.rollouts.soaking(staged.id, 1)] == second[1:4]
        found = writer.rollouts.soaking_for_device(second[1])
        assert [(s.device_id, s.lifetime, c.id) for s, c in found] == [(second[1], 600, staged.id)]
        assert writer.rollouts.soaking_for_device(third[0]) == []
        writer.rollouts.set_health(staged.id, second[2], "healthy")
        writer.rollouts.set_health(staged.id, second[3], "silent")
        writer.rollouts.set_health(staged.id, second[3], "healthy")  # a verdict is kept
        writer.rollouts.hold_pending(staged.id, first_wave=2, last_wave=2, reason="Waiting for wave wave-3")
        writer.commit()
    reader = uow()
    with reader:
        assert reader.rollouts.tally(staged.id, 1) == WaveTally(devices=5, succeeded=2, soaked=1, failed=1, unhealthy=1)
        assert reader.rollouts.tallies(staged.id, 3) == [
            WaveTally(2),
            WaveTally(devices=5, succeeded=2, soaked=1, failed=1, unhealthy=1),
            WaveTally(7),
        ]
        assert reader.rollouts.soaking_for_device(second[2]) == []  # judged: out of the soaking index
        rows = reader.campaign_devices.get_many(staged.id, third)
        assert {r.reason for r in rows.values()} == {"Waiting for wave wave-3"}
        assert {r.wave for r in rows.values()} == {2}

    # The next check only moves earlier; a campaign without a rollout never gets one.
    later, sooner = now + timedelta(hours=1), now + timedelta(minutes=5)
    writer = uow()
    with writer:
        writer.rollouts.set_state(staged.id, RolloutState(current_wave=1), check_at=later)
        writer.rollouts.mark_due(staged.id, now + timedelta(hours=2))
        writer.rollouts.mark_due(plain.id, sooner)
        writer.commit()
    reader = uow()
    with reader:
        assert reader.rollouts.due(later - timedelta(seconds=1), 10) == []
        assert [c.id for c in reader.rollouts.due(later, 10)] == [staged.id]
    writer = uow()
    with writer:
        writer.rollouts.mark_due(staged.id, sooner)
        writer.commit()
    reader = uow()
    with reader:
        assert [c.id for c in reader.rollouts.due(sooner, 10)] == [staged.id]

    # The audit, oldest first, with its detail.
    writer = uow()
    with writer:
        writer.rollouts.set_state(staged.id, RolloutState(RolloutStatus.PAUSED, 1, "by hand"), check_at=None)
        writer.audit.add(
            [
                AuditRecord(staged.id, ACCOUNT, now, "alice", "pause", "by hand", {"wave": "wave-2"}),
                AuditRecord(staged.id, ACCOUNT, now + timedelta(seconds=1), "fota", "autoPause", None),
            ]
        )
        writer.commit()
    reader = uow()
    with reader:
        entries = reader.audit.for_campaign(staged.id)
        state = reader.campaigns.get(ACCOUNT, staged.id).rollout_state  # type: ignore[union-attr]
    assert [(e.actor, e.action, e.reason, e.detail) for e in entries] == [
        ("alice", "pause", "by hand", {"wave": "wave-2"}),
        ("fota", "autoPause", None, None),
    ]
    assert entries[0].at == now
    assert state == RolloutState(RolloutStatus.PAUSED, 1, "by hand")


def test_a_hold_leaves_the_reason_of_a_device_with_a_back_off_alone(engine: Engine) -> None:
    uow = SqlUnitOfWorkFactory(engine)
    clock = SimulatedClock(datetime(2026, 12, 1, 10, tzinfo=UTC))
    now = clock.now()
    admin.create_account(uow=uow(), clock=clock, name=ACCOUNT, license_count=20, purchase_type=None)
    add_firmware(uow, clock)
    members = DEVICES[:5]
    admin.provision_devices(
        uow=uow(),
        clock=clock,
        account_name=ACCOUNT,
        specs=[admin.DeviceSpec(device_id, "M", "X", "1", "LWM2M") for device_id in members],
    )
    campaign = campaign_service.create_campaign(
        uow=uow(),
        clock=clock,
        account_name=ACCOUNT,
        signing_required=False,
        request=CampaignCreate(
            firmware_name="fw",
            firmware_from="1",
            firmware_to="2",
            protocol="LWM2M",
            start_date=now.date(),
            end_date=now.date() + timedelta(days=1),
            device_ids=members,
            auto_assign_license=True,
            auto_add_devices=False,
            rollout=parse_rollout({"waves": [{"percent": 100}]}),
        ),
    )
    plain, retrying, deferred, re_added, started = members
    retry_reason = "attempt 1 failed (time-out); retrying after 2026-12-01T10:01:00+00:00"
    budget_reason = "Waiting for the bandwidth budget of the next hour"
    writer = uow()
    with writer:  # the rows as the upgrade store's own statements leave them
        for device_id in (retrying, re_added, started):
            claimed = writer.upgrades.claim(
                campaign.id, device_id, step=Step.STARTING, reason="Starting", now=now, deadline=now
            )
            assert claimed
        for device_id in (retrying, re_added):
            writer.upgrades.conclude(
                campaign.id,
                device_id,
                status=DeviceStatus.PENDING,
                reason=retry_reason,
                now=now,
                next_attempt_at=now + timedelta(minutes=1),
            )
        assert writer.upgrades.defer(
            campaign.id, deferred, reason=budget_reason, until=now + timedelta(hours=1), now=now
        )
        writer.commit()
    # Removed and added again: pending with its attempt on record but no back-off, the campaign's reason again.
    for change in (campaign_service.remove_devices, campaign_service.add_devices):
        change(uow=uow(), clock=clock, account_name=ACCOUNT, campaign_id=campaign.id, device_ids=[re_added])
    writer = uow()
    with writer:
        writer.rollouts.hold_pending(campaign.id, first_wave=0, last_wave=0, reason="Rollout paused: by hand")
        writer.commit()
    reader = uow()
    with reader:
        found = reader.campaign_devices.get_many(campaign.id, members)
    assert {d: (r.status, r.reason, r.attempts) for d, r in found.items()} == {
        plain: (DeviceStatus.PENDING, "Rollout paused: by hand", 0),
        retrying: (DeviceStatus.PENDING, retry_reason, 1),
        deferred: (DeviceStatus.PENDING, budget_reason, 0),
        re_added: (DeviceStatus.PENDING, "Rollout paused: by hand", 1),
        started: (DeviceStatus.IN_PROGRESS, "Starting", 1),
    }
