"""A campaign's retry policy is stored with it (SQL NULL without one), read back by the campaign read and by the
device's assignment join alike, and decides how the engine's step expiry ends a timed-out attempt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from fota.adapters.storage.tables import campaign_devices, campaigns
from fota.adapters.storage.unit_of_work import SqlUnitOfWorkFactory
from fota.clock import SimulatedClock
from fota.domain.statuses import DeviceStatus
from fota.domain.upgrade import RetryPolicy, UpgradePolicy
from fota.services import admin, upgrades
from fota.services import campaigns as campaign_service
from fota.services.campaigns import CampaignCreate
from fota.services.engine import tick
from tests.storage.provisioning import add_firmware

ACCOUNT = "0000000001-00001"
DEVICES = ["350000000000001", "350000000000002", "350000000000003"]


def test_the_policy_is_stored_read_back_and_decides_step_expiry(engine: Engine) -> None:
    uow = SqlUnitOfWorkFactory(engine)
    clock = SimulatedClock(datetime(2026, 12, 1, 10, tzinfo=UTC))
    policy = UpgradePolicy()
    admin.create_account(uow=uow(), clock=clock, name=ACCOUNT, license_count=5, purchase_type=None)
    add_firmware(uow, clock)
    admin.provision_devices(
        uow=uow(),
        clock=clock,
        account_name=ACCOUNT,
        specs=[admin.DeviceSpec(device_id, "M", "X", "1", "LWM2M") for device_id in DEVICES],
    )
    never_timeout = RetryPolicy.from_plain({"neverRetry": ["Timeout"]})
    slow = RetryPolicy.from_plain({"maxAttempts": 2, "backoffSeconds": [900]})
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
                start_date=clock.now().date(),
                end_date=clock.now().date(),
                device_ids=[device_id],
                auto_assign_license=True,
                auto_add_devices=False,
                retry_policy=retry_policy,
            ),
        )
        for device_id, retry_policy in zip(DEVICES, [never_timeout, slow, None], strict=True)
    ]
    with engine.connect() as connection:
        stored = {r.id: r.retry_policy for r in connection.execute(select(campaigns.c.id, campaigns.c.retry_policy))}
        unset = set(connection.execute(select(campaigns.c.id).where(campaigns.c.retry_policy.is_(None))).scalars())
    assert unset == {created[2].id}  # SQL NULL, not JSON null: the server's own rule
    assert stored[created[0].id] == never_timeout.to_plain()

    tick(uow_factory=uow, clock=clock)
    for campaign, device_id in zip(created, DEVICES, strict=True):
        reader = uow()
        with reader:
            read = reader.campaigns.get(ACCOUNT, campaign.id)
            found = reader.upgrades.active_for_device(device_id)
        assert read is not None and read.retry_policy == campaign.retry_policy
        assert found is not None and found[1].retry_policy == campaign.retry_policy
        assignment = upgrades.current_assignment(uow=uow(), clock=clock, device_id=device_id)
        assert assignment is not None
        assert upgrades.claim_start(uow=uow(), clock=clock, policy=policy, assignment=assignment, device_id=device_id)

    clock.advance((policy.start_timeout + timedelta(seconds=1)).total_seconds())
    expired_at = clock.now()
    assert upgrades.expire_steps(uow_factory=uow, clock=clock, policy=policy) == 3
    with engine.connect() as connection:
        rows = {
            r.device_id: r
            for r in connection.execute(
                select(campaign_devices.c.device_id, campaign_devices.c.status, campaign_devices.c.next_attempt_at)
            )
        }
    never, backed_off, default = (rows[d] for d in DEVICES)
    assert never.status == DeviceStatus.FAILED.value
    assert backed_off.status == DeviceStatus.PENDING.value
    assert backed_off.next_attempt_at == expired_at + timedelta(seconds=900)
    assert default.status == DeviceStatus.PENDING.value
    assert default.next_attempt_at == expired_at + policy.retry_base  # the server's rule, as before
