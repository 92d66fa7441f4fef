"""Subscription and licenses: v3 summary/assign/remove and the v2 license cancellation-candidate list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from fota.adapters.http.api_route import ApiRoute, many_rows
from fota.adapters.http.dependencies import CallerDep, ServicesDep
from fota.adapters.http.errors import ERROR_RESPONSES
from fota.adapters.http.presenters import MAX_PAGE_SIZE, rfc3339
from fota.adapters.http.schemas import (
    CancelListChangeRead,
    CancelListCreate,
    CancelListRead,
    DeviceListBody,
    DeviceStatusRead,
    LicenseChangeRead,
    LicenseSummaryRead,
    SubscriptionRead,
    SuccessRead,
)
from fota.adapters.http.written_pages import with_items
from fota.domain.accounts import Account
from fota.domain.devices import check_imei
from fota.domain.errors import InvalidRequest
from fota.services import admin, licenses
from fota.services.licenses import LicenseChange

v3 = APIRouter(prefix="/api/fota/v3", tags=["v3 licenses"], responses=ERROR_RESPONSES, route_class=ApiRoute)
v2 = APIRouter(prefix="/api/fota/v2", tags=["v2 licenses"], responses=ERROR_RESPONSES, route_class=ApiRoute)


@v3.get("/subscriptions/{account}", response_model_exclude_none=True)
def get_account_subscription_status(account: str, services: ServicesDep, _: CallerDep) -> SubscriptionRead:
    """Read the account's subscription: license counts."""
    found = admin.get_account(uow=services.reader(), name=account)
    return SubscriptionRead(
        account_name=found.name,
        purchase_type=found.purchase_type,
        license_count=found.license_count,
        license_used_count=found.licenses_used,
        update_time=rfc3339(found.updated_at),
    )


@v3.get("/licenses/{account}", response_model=LicenseSummaryRead, response_model_exclude_none=True)
@many_rows
def get_account_licenses_status(
    account: str,
    services: ServicesDep,
    _: CallerDep,
    last_seen_device_id: Annotated[str | None, Query(alias="lastSeenDeviceId")] = None,
) -> Response:
    """List the account's licensed devices, a page at a time."""
    result = licenses.written_summary(
        uow=services.reader(), account_name=account, after=last_seen_device_id, page_size=MAX_PAGE_SIZE
    )
    envelope = LicenseSummaryRead(
        account_name=account,
        total_licenses=result.account.license_count,
        assigned_licenses=result.account.licenses_used,
        has_more_data=result.page.has_more,
        last_seen_device_id=result.page.last_device_id,
        max_page_size=MAX_PAGE_SIZE,
        device_list=[],
    )
    return with_items(envelope, result.page.items)


def _license_change(account: Account, changes: list[LicenseChange]) -> LicenseChangeRead:
    return LicenseChangeRead(
        account_name=account.name,
        lic_count=account.license_count,
        lic_used_count=account.licenses_used,
        device_list=[
            DeviceStatusRead(device_id=x.device_id, status=x.status, result_reason=x.reason, updated_time=x.at)
            for x in changes
        ],
    )


@v3.post("/licenses/{account}/assign", response_model_exclude_none=True)
def assign_licenses_to_devices(
    account: str, body: DeviceListBody, services: ServicesDep, _: CallerDep
) -> LicenseChangeRead:
    """Assign licenses from the account's pool to devices."""
    result, changes = licenses.assign(
        uow=services.uow(), clock=services.clock, account_name=account, device_ids=body.device_list
    )
    return _license_change(result, changes)


@v3.post("/licenses/{account}/remove", response_model_exclude_none=True)
def remove_licenses_from_devices(
    account: str, body: DeviceListBody, services: ServicesDep, _: CallerDep
) -> LicenseChangeRead:
    """Return devices' licenses to the account's pool."""
    result, changes = licenses.remove(
        uow=services.uow(), clock=services.clock, account_name=account, device_ids=body.device_list
    )
    return _license_change(result, changes)


@v2.get("/licenses/{account}/cancel")
def list_licenses_to_remove(
    account: str,
    services: ServicesDep,
    _: CallerDep,
    # Bounded: a larger offset pages past any list and overflowed SQLite's 64-bit INTEGER (a 500).
    start_index: Annotated[int, Query(alias="startIndex", ge=0, le=2**31 - 1)] = 0,
) -> CancelListRead:
    """List the devices whose licenses are marked for cancellation."""
    result = licenses.read_cancel_list(
        uow=services.reader(), account_name=account, start_index=start_index, page_size=MAX_PAGE_SIZE
    )
    return CancelListRead(
        count=result.count,
        has_more_data=result.has_more,
        update_time=rfc3339(result.updated_at) if result.updated_at else "",
        device_list=result.device_ids,
    )


@v2.post("/licenses/{account}/cancel")
def create_list_of_licenses_to_remove(
    account: str, body: CancelListCreate, services: ServicesDep, _: CallerDep
) -> CancelListChangeRead:
    """Mark devices' licenses for cancellation."""
    if body.type not in (None, "append"):
        raise InvalidRequest(f"type {body.type!r} is not supported: use 'append', or leave it out to replace the list")
    for device_id in body.device_list:
        check_imei(device_id)
    result = licenses.set_cancel_list(
        uow=services.uow(),
        clock=services.clock,
        account_name=account,
        device_ids=body.device_list,
        append=body.type == "append",
    )
    return CancelListChangeRead(count=result.count, device_list=result.device_ids)


@v2.delete("/licenses/{account}/cancel")
def delete_list_of_licenses_to_remove(account: str, services: ServicesDep, _: CallerDep) -> SuccessRead:
    """Clear the list of licenses marked for cancellation."""
    licenses.clear_cancel_list(uow=services.uow(), account_name=account)
    return SuccessRead(success=True)
