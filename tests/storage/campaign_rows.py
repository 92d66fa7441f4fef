"""Campaign rows for storage tests that insert a campaign's devices directly."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, insert

from fota.adapters.storage.tables import accounts, campaigns, firmware

AT = datetime(2026, 12, 1, 12, tzinfo=UTC)
ACCOUNT = "0000123456-00001"


def insert_campaigns(engine: Engine, *ids: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(accounts).values(name=ACCOUNT, license_count=1, licenses_used=0, created_at=AT, updated_at=AT)
        )
        connection.execute(
            insert(firmware).values(
                name="fw", make="M", model="X", firmware_from="1", firmware_to="2", protocol="LWM2M", launch_date=AT
            )
        )
        for campaign_id in ids:
            connection.execute(
                insert(campaigns).values(
                    id=campaign_id,
                    account_name=ACCOUNT,
                    firmware_name="fw",
                    firmware_from="1",
                    firmware_to="2",
                    protocol="LWM2M",
                    make="M",
                    model="X",
                    start_date=AT.date(),
                    end_date=AT.date(),
                    time_zone="UTC",
                    windows=[],
                    auto_assign_license=True,
                    auto_add_devices=False,
                    status="CampaignQueued",
                    created_at=AT,
                    updated_at=AT,
                )
            )
