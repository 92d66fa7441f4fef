"""v2 subscription, license summary and assign/remove, and the callback URL (contract §5 rows 1-4, 15-18); the
cancellation-candidate list (rows 5-7) is served beside v3's licenses in routes/licenses.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from fota.adapters.http.api_route import ApiRoute, many_rows
from fota.adapters.http.dependencies import CallerDep, ServicesDep
from fota.adapters.http.errors import ERROR_RESPONSES
from fota.adapters.http.presenters import MAX_PAGE_SIZE, rfc3339
from fota.adapters.http.schemas import CallbackCreate, CallbackRead, DeviceListBody, SubscriptionRead, SuccessRead
from fota.adapters.http.v2.schemas import DeviceStatusRead, LicenseChangeRead, LicenseSummaryRead
from fota.adapters.http.written_pages import with_items
from fota.domain.accounts import Account
from fota.services import admin, callbacks, licenses
from fota.services.licenses import LicenseChange

router = APIRouter(prefix="/api/fota/v2", tags=["v2 account"], responses=ERROR_RESPONSES, route_class=ApiRoute)
VERSION = "v2"


@router.get("/subscriptions/{account}", response_model_exclude_none=True)
def get_account_subscription_status(account: str, services: ServicesDep, _: CallerDep) -> SubscriptionRead:
    """The account's FOTA subscription."""
    found = admin.get_account(uow=services.reader(), name=account)
    return SubscriptionRead(
        account_name=found.name,
        purchase_type=found.purchase_type,
        license_count=found.license_count,
        license_used_count=found.licenses_used,
        update_time=rfc3339(found.updated_at),
    )


@router.get("/licenses/{account}", response_model=LicenseSummaryRead, response_model_exclude_none=True)
@many_rows
def get_account_license_status(
    account: str,
    services: ServicesDep,
    _: CallerDep,
    last_seen_device_id: Annotated[str | None, Query(alias="lastSeenDeviceId")] = None,
) -> Response:
    """License usage and the licensed devices, paged by lastSeenDeviceId."""
    result = licenses.written_summary(
        uow=services.reader(), account_name=account, after=last_seen_device_id, page_size=MAX_PAGE_SIZE
    )
    envelope = LicenseSummaryRead(
        account_name=account,
        total_license=result.account.license_count,
        assigned_licenses=result.account.licenses_used,
        has_more_data=result.page.has_more,
        last_seen_device_id=result.page.last_device_id,
        max_page_size=MAX_PAGE_SIZE,
        device_list=[],
    )
    return with_items(envelope, result.page.items)


def _license_change(account: Account, changes: list[LicenseChange]) -> LicenseChangeRead:
    # v2 answers Success or Failure per device where v3 says LicenseAssignSuccess, LicenseRemoveFailed, ...
    return LicenseChangeRead(
        account_name=account.name,
        lic_total_count=account.license_count,
        lic_used_count=account.licenses_used,
        device_list=[
            DeviceStatusRead(
                device_id=x.device_id,
                status="Success" if x.status.endswith("Success") else "Failure",
                result_reason=x.reason,
            )
            for x in changes
        ],
    )


@router.post("/licenses/{account}/assign", response_model_exclude_none=True)
def assign_licenses_to_devices(
    account: str, body: DeviceListBody, services: ServicesDep, _: CallerDep
) -> LicenseChangeRead:
    """Assign licenses from the account's pool."""
    result, changes = licenses.assign(
        uow=services.uow(), clock=services.clock, account_name=account, device_ids=body.device_list
    )
    return _license_change(result, changes)


@router.post("/licenses/{account}/remove", response_model_exclude_none=True)
def remove_licenses_from_devices(
    account: str, body: DeviceListBody, services: ServicesDep, _: CallerDep
) -> LicenseChangeRead:
    """Return licenses to the pool."""
    result, changes = licenses.remove(
        uow=services.uow(), clock=services.clock, account_name=account, device_ids=body.device_list
    )
    return _license_change(result, changes)


@router.get("/callbacks/{account}", response_model_exclude_none=True)
def list_registered_callbacks(account: str, services: ServicesDep, _: CallerDep) -> CallbackRead:
    """The registered callback URL."""
    return CallbackRead(url=callbacks.get_callback(uow=services.reader(), account_name=account))


@router.post("/callbacks/{account}", response_model_exclude_none=True)
def register_callback(account: str, body: CallbackCreate, services: ServicesDep, _: CallerDep) -> CallbackRead:
    """Register the callback URL; events go to it in v2's payload shape."""
    url = callbacks.register_callback(
        uow=services.uow(),
        clock=services.clock,
        outbound=services.outbound,
        account_name=account,
        url=body.url,
        api_version=VERSION,
    )
    return CallbackRead(url=url)


@router.put("/callbacks/{account}", response_model_exclude_none=True)
def update_callback(account: str, body: CallbackCreate, services: ServicesDep, _: CallerDep) -> CallbackRead:
    """Change the callback URL; events go to it in v2's payload shape."""
    url = callbacks.update_callback(
        uow=services.uow(),
        clock=services.clock,
        outbound=services.outbound,
        account_name=account,
        url=body.url,
        api_version=VERSION,
    )
    return CallbackRead(url=url)


@router.delete("/callbacks/{account}")
def deregister_callback(account: str, services: ServicesDep, _: CallerDep) -> SuccessRead:
    """Remove the callback URL."""
    callbacks.deregister_callback(uow=services.uow(), account_name=account)
    return SuccessRead(success=True)
