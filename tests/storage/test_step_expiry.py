"""A time-out ends only the attempt whose deadline passed: a newer attempt of the same device is left alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fota.adapters.storage.database import make_engine, migrate
from fota.adapters.storage.unit_of_work import SqlUnitOfWorkFactory
from fota.clock import SimulatedClock
from fota.domain.statuses import DeviceStatus
from fota.domain.upgrade import Step, UpgradePolicy
from fota.services import admin, campaigns, upgrades
from fota.services.campaigns import CampaignCreate
from fota.services.engine import tick
from tests.storage.provisioning import add_firmware


def test_expiry_concludes_only_the_attempt_it_read(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fota.db'}")
    migrate(engine)
    uow = SqlUnitOfWorkFactory(engine)
    clock = SimulatedClock(datetime(2026, 12, 1, 10, tzinfo=UTC))
    policy = UpgradePolicy()
    admin.create_account(uow=uow(), clock=clock, name="0000000001-00001", license_count=5, purchase_type=None)
    add_firmware(uow, clock)
    admin.provision_devices(
        uow=uow(),
        clock=clock,
        account_name="0000000001-00001",
        specs=[admin.DeviceSpec("350000000000001", "M", "X", "1", "LWM2M")],
    )
    campaigns.create_campaign(
        uow=uow(),
        clock=clock,
        account_name="0000000001-00001",
        signing_required=False,
        request=CampaignCreate(
            firmware_name="fw",
            firmware_from="1",
            firmware_to="2",
            protocol="LWM2M",
            start_date=clock.now().date(),
            end_date=clock.now().date(),
            device_ids=["350000000000001"],
            auto_assign_license=True,
            auto_add_devices=False,
        ),
    )
    tick(uow_factory=uow, clock=clock)
    assignment = upgrades.current_assignment(uow=uow(), clock=clock, device_id="350000000000001")
    assert assignment is not None
    assert upgrades.claim_start(
        uow=uow(), clock=clock, policy=policy, assignment=assignment, device_id="350000000000001"
    )

    # The time-out read the attempt when its deadline had passed ...
    clock.advance((policy.start_timeout + timedelta(seconds=1)).total_seconds())
    stale_read = clock.now()
    # ... but the attempt moved on meanwhile (its step and deadline renewed) before the time-out wrote.
    assert upgrades.advance(
        uow=uow(),
        clock=clock,
        policy=policy,
        assignment=assignment,
        device_id="350000000000001",
        from_steps=(Step.STARTING,),
        to=Step.STARTING,
    )
    late = upgrades.conclude(
        uow=uow(),
        clock=clock,
        policy=policy,
        campaign_id=assignment.campaign_id,
        account_name=assignment.account_name,
        device_id="350000000000001",
        outcome=upgrades.Outcome(False, "time-out", retryable=True),
        attempts=1,
        expected_step=Step.STARTING,
        expired_by=stale_read - timedelta(seconds=1),
    )
    assert late is None
    still = upgrades.current_assignment(uow=uow(), clock=clock, device_id="350000000000001")
    assert still is not None and still.step is Step.STARTING

    # Once that deadline too has passed, the engine's expiry ends it.
    clock.advance((policy.start_timeout + timedelta(seconds=1)).total_seconds())
    assert upgrades.expire_steps(uow_factory=uow, clock=clock, policy=policy) == 1
    uow_ = uow()
    with uow_:
        found = uow_.upgrades.active_for_device("350000000000001")
    assert found is not None and found[0].status is DeviceStatus.PENDING  # retried later, not failed
    engine.dispose()
