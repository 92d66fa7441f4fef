"""v1 subscription and licenses: the license list by index, assign, remove, and the cancellation-candidate list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from fota.adapters.http.api_route import ApiRoute, many_rows
from fota.adapters.http.dependencies import CallerDep, ServicesDep
from fota.adapters.http.errors import ERROR_RESPONSES
from fota.adapters.http.presenters import MAX_PAGE_SIZE, rfc3339
from fota.adapters.http.v1.presenters import device_change
from fota.adapters.http.v1.schemas import (
    V1CancelListChangeRead,
    V1CancelListCreate,
    V1CancelListRead,
    V1LicenseChangeRead,
    V1LicenseDeviceRead,
    V1LicenseDevicesCreate,
    V1LicenseSummaryRead,
    V1SubscriptionRead,
    V1SuccessRead,
)
from fota.domain.accounts import Account
from fota.domain.errors import InvalidRequest
from fota.services import admin, licenses
from fota.services.licenses import LicenseChange

router = APIRouter(
    prefix="/api/fota/v1",
    tags=["v1 subscription and licenses"],
    responses=ERROR_RESPONSES,
    route_class=ApiRoute,
)

# An index into a list; bounded so a huge one cannot overflow the database's integers.
StartIndex = Annotated[int, Path(ge=0, le=2**31 - 1, description="zero-based position of the first item")]


@router.get("/subscriptions/{account}", response_model_exclude_none=True)
def get_account_subscription_status(account: str, services: ServicesDep, _: CallerDep) -> V1SubscriptionRead:
    """The account's FOTA subscription: purchase type and license counts."""
    found = admin.get_account(uow=services.reader(), name=account)
    return V1SubscriptionRead(
        account_name=found.name,
        purchase_type=found.purchase_type,
        license_count=found.license_count,
        license_used_count=found.licenses_used,
        update_time=rfc3339(found.updated_at),
    )


@router.get("/licenses/{account}/index/{start_index}", response_model_exclude_none=True)
@many_rows
def get_account_license_status(
    account: str, start_index: StartIndex, services: ServicesDep, _: CallerDep
) -> V1LicenseSummaryRead:
    """License counts and the licensed devices, 1000 a page from position startIndex."""
    result = licenses.summary(
        uow=services.reader(), account_name=account, after=None, page_size=MAX_PAGE_SIZE, offset=start_index
    )
    return V1LicenseSummaryRead(
        account_name=account,
        total_licenses=result.account.license_count,
        assigned_licenses=result.account.licenses_used,
        has_more_data=result.has_more,
        last_seen_device_id=start_index + len(result.devices) if result.has_more else 0,
        device_list=[
            V1LicenseDeviceRead(device_id=d.device_id, assignment_time=d.license_assigned_at) for d in result.devices
        ],
    )


def _license_change(account: Account, changes: list[LicenseChange]) -> V1LicenseChangeRead:
    return V1LicenseChangeRead(
        account_name=account.name,
        lic_count=account.license_count,
        lic_used_count=account.licenses_used,
        device_list=[device_change(x) for x in changes],
    )


@router.post("/licenses/{account}/assign")
def assign_licenses_to_devices(
    account: str, body: V1LicenseDevicesCreate, services: ServicesDep, _: CallerDep
) -> V1LicenseChangeRead:
    """Assigns a FOTA license from the account's pool to each listed device."""
    result, changes = licenses.assign(
        uow=services.uow(), clock=services.clock, account_name=account, device_ids=body.device_list
    )
    return _license_change(result, changes)


@router.post("/licenses/{account}/remove")
def remove_licenses_from_devices(
    account: str, body: V1LicenseDevicesCreate, services: ServicesDep, _: CallerDep
) -> V1LicenseChangeRead:
    """Returns the listed devices' licenses to the pool."""
    result, changes = licenses.remove(
        uow=services.uow(), clock=services.clock, account_name=account, device_ids=body.device_list
    )
    return _license_change(result, changes)


@router.post("/licenses/{account}/cancel")
def create_list_of_licenses_to_remove(
    account: str, body: V1CancelListCreate, services: ServicesDep, _: CallerDep
) -> V1CancelListChangeRead:
    """Replaces the license cancellation-candidate list, or appends to it with type=append."""
    if body.type not in (None, "append"):
        raise InvalidRequest(f"type {body.type!r} is not supported: use 'append', or leave it out to replace the list")
    result = licenses.set_cancel_list(
        uow=services.uow(),
        clock=services.clock,
        account_name=account,
        device_ids=body.device_list,
        append=body.type == "append",
    )
    return V1CancelListChangeRead(count=result.count, device_list=result.device_ids)


@router.delete("/licenses/{account}/cancel")
def delete_list_of_licenses_to_remove(account: str, services: ServicesDep, _: CallerDep) -> V1SuccessRead:
    """Deletes the license cancellation-candidate list."""
    licenses.clear_cancel_list(uow=services.uow(), account_name=account)
    return V1SuccessRead(success=True)


@router.get("/licenses/{account}/cancel/index/{start_index}", response_model_exclude_none=True)
def list_licenses_to_remove(
    account: str, start_index: StartIndex, services: ServicesDep, _: CallerDep
) -> V1CancelListRead:
    """The license cancellation-candidate list, 1000 a page from position startIndex."""
    result = licenses.read_cancel_list(
        uow=services.reader(), account_name=account, start_index=start_index, page_size=MAX_PAGE_SIZE
    )
    return V1CancelListRead(
        count=result.count, has_more_data=result.has_more, update_time=result.updated_at, device_list=result.device_ids
    )
