"""A follow-up's origin (campaigns.follow_up_of) and each carried device's reason (campaign_devices.carried_reason)
are written with the rows, read back, and left alone by the row updates of the device's later steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from fota.adapters.storage.tables import campaign_devices, campaigns
from fota.adapters.storage.unit_of_work import SqlUnitOfWorkFactory
from fota.clock import SimulatedClock
from fota.services import admin, follow_up
from fota.services import campaigns as campaign_service
from fota.services.campaigns import CampaignCreate
from tests.storage.provisioning import add_firmware

ACCOUNT = "0000000001-00001"
DEVICES = ["350000000000001", "350000000000002"]


def test_origin_and_carried_reasons_are_stored_and_kept(engine: Engine) -> None:
    uow = SqlUnitOfWorkFactory(engine)
    clock = SimulatedClock(datetime(2026, 12, 1, 10, tzinfo=UTC))
    admin.create_account(uow=uow(), clock=clock, name=ACCOUNT, license_count=5, purchase_type=None)
    add_firmware(uow, clock)
    admin.provision_devices(
        uow=uow(),
        clock=clock,
        account_name=ACCOUNT,
        specs=[admin.DeviceSpec(device_id, "M", "X", "1", "LWM2M") for device_id in DEVICES],
    )
    today = clock.now().date()
    source = campaign_service.create_campaign(
        uow=uow(),
        clock=clock,
        account_name=ACCOUNT,
        signing_required=False,
        request=CampaignCreate("fw", "1", "2", "LWM2M", today, today, DEVICES, True, False),
    )
    campaign_service.cancel_campaign(uow=uow(), clock=clock, account_name=ACCOUNT, campaign_id=source.id)
    made = follow_up.create_follow_up(
        uow=uow(),
        clock=clock,
        account_name=ACCOUNT,
        campaign_id=source.id,
        request=follow_up.FollowUpRequest(today + timedelta(days=1), today + timedelta(days=2), None),
        actor="alice",
        signing_required=False,
    )
    assert (made.carried, made.actor, made.at, made.source_id) == (2, "alice", clock.now(), source.id)

    read = campaign_service.get_campaign(uow=uow(), account_name=ACCOUNT, campaign_id=made.campaign.id)
    assert read.follow_up_of == source.id
    assert campaign_service.get_campaign(uow=uow(), account_name=ACCOUNT, campaign_id=source.id).follow_up_of is None

    # A later update of the row (here: the device removed from the follow-up) keeps the reason it was carried for.
    campaign_service.remove_devices(
        uow=uow(), clock=clock, account_name=ACCOUNT, campaign_id=made.campaign.id, device_ids=DEVICES[:1]
    )
    with engine.connect() as c:
        rows = c.execute(
            select(campaign_devices.c.device_id, campaign_devices.c.status, campaign_devices.c.carried_reason)
            .where(campaign_devices.c.campaign_id == made.campaign.id)
            .order_by(campaign_devices.c.device_id)
        ).all()
        origin = c.execute(select(campaigns.c.follow_up_of).where(campaigns.c.id == made.campaign.id)).scalar_one()
    reason = "CampaignAborted: campaign aborted before the device upgraded"  # it had started: aborted
    assert [tuple(r) for r in rows] == [(DEVICES[0], "DeviceRemoved", reason), (DEVICES[1], "UpgradePending", reason)]
    assert origin == source.id
