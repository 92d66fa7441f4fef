"""v1 firmware and upgrades: the firmware list, and scheduling, reading, changing and cancelling an upgrade.

An upgrade is a campaign (services/campaigns.py); these routes only translate v1's bodies and statuses.
"""

from __future__ import annotations

from fastapi import APIRouter

from fota.adapters.http.api_route import ApiRoute
from fota.adapters.http.dependencies import CallerDep, ServicesDep, TokenCallerDep
from fota.adapters.http.errors import ERROR_RESPONSES
from fota.adapters.http.v1.presenters import device_change, upgrade_read
from fota.adapters.http.v1.schemas import (
    V1FirmwareRead,
    V1SuccessRead,
    V1UpgradeChangeRead,
    V1UpgradeCreate,
    V1UpgradeDevicesUpdate,
    V1UpgradeRead,
)
from fota.domain.errors import Forbidden
from fota.services import campaigns, firmware, upgrade_reports

router = APIRouter(
    prefix="/api/fota/v1",
    tags=["v1 firmware and upgrades"],
    responses=ERROR_RESPONSES,
    route_class=ApiRoute,
)


@router.get("/firmware/{account}", response_model_exclude_none=True)
def list_available_firmware(account: str, services: ServicesDep, _: CallerDep) -> list[V1FirmwareRead]:
    """Firmware the account's devices can be upgraded with."""
    return [
        V1FirmwareRead(
            firmware_name=f.name,
            launch_date=f.launch_date,
            release_note=f.release_note,
            model=f.model,
            make=f.make,
            from_version=f.firmware_from,
            to_version=f.firmware_to,
        )
        for f in firmware.list_firmware(uow=services.reader(), protocol=None)
    ]


@router.post("/upgrades", response_model_exclude_none=True)
def schedule_firmware_upgrade(body: V1UpgradeCreate, services: ServicesDep, caller: TokenCallerDep) -> V1UpgradeRead:
    """Schedules a firmware upgrade of the listed devices; the account is named in the body."""
    if caller.account_name != body.account_name:
        raise Forbidden(f"these credentials are not valid for account {body.account_name}")
    campaign = campaigns.create_upgrade(
        uow=services.uow(),
        clock=services.clock,
        account_name=body.account_name,
        firmware_name=body.firmware_name,
        firmware_to=body.firmware_to,
        start_date=body.start_date,
        end_date=body.end_date,
        device_ids=body.device_list,
        signing_required=services.require_signed_firmware,
    )
    created = upgrade_reports.upgrade(
        uow=services.reader(), clock=services.clock, account_name=body.account_name, upgrade_id=campaign.id
    )
    return upgrade_read(created)


@router.get("/upgrades/{account}/upgrade/{upgrade_id}", response_model_exclude_none=True)
def list_firmware_upgrade_details(account: str, upgrade_id: str, services: ServicesDep, _: CallerDep) -> V1UpgradeRead:
    """The upgrade, its status and every device's status in it."""
    return upgrade_read(
        upgrade_reports.upgrade(
            uow=services.reader(), clock=services.clock, account_name=account, upgrade_id=upgrade_id
        )
    )


@router.put("/upgrades/{account}/upgrade/{upgrade_id}")
def update_firmware_upgrade_devices(
    account: str, upgrade_id: str, body: V1UpgradeDevicesUpdate, services: ServicesDep, _: CallerDep
) -> V1UpgradeChangeRead:
    """Adds devices to the upgrade (type=append) or removes them (type=remove), answering per device."""
    change = campaigns.add_devices if body.type == "append" else campaigns.remove_devices
    results = change(
        uow=services.uow(),
        clock=services.clock,
        account_name=account,
        campaign_id=upgrade_id,
        device_ids=body.device_list,
    )
    return V1UpgradeChangeRead(account_name=account, id=upgrade_id, device_list=[device_change(r) for r in results])


@router.delete("/upgrades/{account}/upgrade/{upgrade_id}")
def cancel_scheduled_firmware_upgrade(
    account: str, upgrade_id: str, services: ServicesDep, _: CallerDep
) -> V1SuccessRead:
    """Cancels the upgrade before its start date; after it, stops it for the devices not yet upgraded."""
    campaigns.cancel_campaign(uow=services.uow(), clock=services.clock, account_name=account, campaign_id=upgrade_id)
    return V1SuccessRead(success=True)
