"""Console pages under /console: sign-in, campaigns, the dry-run preview, cancellation, a staged rollout's pause,
resume and approve, devices, live JSON."""

from __future__ import annotations

import hmac
import json
import re
import secrets
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from fota.adapters.console import views
from fota.adapters.console.rollout_panel import DONE_NOTICE, MAX_REASON, OPERATIONS, WAVE_TONE, RolloutPanel
from fota.adapters.http.dependencies import ServicesDep
from fota.domain.errors import (
    Conflict,
    DomainError,
    InvalidCredentials,
    InvalidRequest,
    NotFound,
    TooManyAttempts,
    Unauthorized,
)
from fota.domain.rollout import RolloutSpec, parse_rollout
from fota.domain.statuses import DeviceStatus
from fota.domain.windows import TimeWindow
from fota.domain.zones import parse_window_zone
from fota.services import auth, campaigns, firmware, insight, rollouts
from fota.services.auth import ConsoleSession
from fota.services.campaigns import CampaignCreate
from fota.services.context import ServiceContext
from fota.services.preview import preview_campaign

HERE = Path(__file__).parent
COOKIE = "fota_console"
SIGN_IN_COOKIE = "fota_console_signin"  # double-submit CSRF token of the sign-in form, before any session exists
PAGE_SIZE = 50
DEVICE_ID_SPLIT = re.compile(r"[\s,;]+")
WINDOW_PATTERN = re.compile(r"^\s*(\d{1,2})\s*[-\u2013]\s*(\d{1,2})\s*$")

router = APIRouter(prefix="/console", include_in_schema=False)
templates = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]), auto_reload=False
)
templates.filters.update(
    when=views.when,
    when_s=views.when_seconds,
    duration=views.duration,
    short=views.short_status,
    windows=views.windows_text,
)
templates.globals.update(
    DEVICE_STATUSES=views.DEVICE_STATUSES,
    DEVICE_TONE=views.DEVICE_TONE,
    CAMPAIGN_TONE=views.CAMPAIGN_TONE,
    WAVE_TONE=WAVE_TONE,
)


def static_mount() -> Mount:
    """The console's stylesheet and script, under /console/static."""
    return Mount("/console/static", app=StaticFiles(directory=HERE / "static"), name="console-static")


def _render(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(templates.get_template(name).render(**context), status_code=status_code)


def _fragment(name: str, **context: Any) -> str:
    return templates.get_template(name).render(**context)


def _session(request: Request, services: ServiceContext) -> ConsoleSession | None:
    try:
        return auth.console_session(
            uow=services.reader(), clock=services.clock, token=request.cookies.get(COOKIE), cache=services.tokens
        )
    except Unauthorized:
        return None


def _to_sign_in(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/console/sign-in?next={quote(target)}", status_code=303)


def _csrf_ok(session: ConsoleSession, submitted: str) -> bool:
    return bool(submitted) and hmac.compare_digest(session.csrf_token, submitted)


def _forbidden() -> HTMLResponse:
    return _render(
        "message.html",
        403,
        session=None,
        title="Request refused",
        message="The form's security token is missing or wrong. Reload the page and try again.",
    )


def _not_found(session: ConsoleSession, error: NotFound) -> HTMLResponse:
    return _render("message.html", 404, session=session, title="Not found", message=error.message)


# --- sign-in -------------------------------------------------------------------------------------------------------


@router.get("", response_model=None)
@router.get("/", response_model=None)
def home() -> RedirectResponse:
    """The console's start page: the campaign list."""
    return RedirectResponse("/console/campaigns", status_code=303)


def _safe_next(target: str) -> str:
    # Only paths inside the console: never an open redirect to another site.
    return target if target.startswith("/console/") and not target.startswith("//") else "/console/campaigns"


def _sign_in_page(
    request: Request,
    *,
    next_url: str,
    error: str | None = None,
    account: str = "",
    user: str = "",
    status_code: int | None = None,
) -> Response:
    token = request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(24)
    response = _render(
        "sign_in.html",
        status_code or (400 if error else 200),
        session=None,
        csrf=token,
        next_url=next_url,
        error=error,
        account=account,
        username=user,
    )
    response.set_cookie(SIGN_IN_COOKIE, token, path="/console", secure=True, httponly=True, samesite="lax")
    return response


@router.get("/sign-in", response_model=None)
def sign_in_form(request: Request, next: str = "") -> Response:
    """The sign-in form, with a fresh CSRF cookie."""
    return _sign_in_page(request, next_url=_safe_next(next))


@router.post("/sign-in", response_model=None)
def sign_in(
    request: Request,
    services: ServicesDep,
    account: Annotated[str, Form()] = "",
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    """Signs a user of an account in and returns to the page they asked for."""
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf_token):
        return _forbidden()
    try:
        session = auth.console_sign_in(
            uow=services.uow(),
            clock=services.clock,
            hasher=services.hasher,
            account_name=account.strip(),
            username=username.strip(),
            password=password,
            throttle=services.throttle,
            address=request.client.host if request.client is not None else None,
        )
    except TooManyAttempts as error:
        page = _sign_in_page(
            request,
            next_url=_safe_next(next),
            error=f"Too many failed sign-ins; try again in {error.retry_after} seconds.",
            account=account,
            user=username,
            status_code=429,
        )
        page.headers["Retry-After"] = str(error.retry_after)
        return page
    except InvalidCredentials:
        return _sign_in_page(
            request,
            next_url=_safe_next(next),
            error="Account, username or password is not correct.",
            account=account,
            user=username,
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    max_age = int((session.expires_at - services.clock.now()).total_seconds())
    response.set_cookie(
        COOKIE, session.token, max_age=max_age, path="/console", secure=True, httponly=True, samesite="lax"
    )
    response.delete_cookie(SIGN_IN_COOKIE, path="/console")
    return response


@router.post("/sign-out", response_model=None)
def sign_out(request: Request, services: ServicesDep, csrf_token: Annotated[str, Form()] = "") -> Response:
    """Ends the console session."""
    session = _session(request, services)
    if session is None:
        return RedirectResponse("/console/sign-in", status_code=303)
    if not _csrf_ok(session, csrf_token):
        return _forbidden()
    auth.console_sign_out(uow=services.uow(), clock=services.clock, token=session.token, cache=services.tokens)
    response = RedirectResponse("/console/sign-in", status_code=303)
    response.delete_cookie(COOKIE, path="/console", secure=True, httponly=True, samesite="lax")
    return response


# --- campaigns -----------------------------------------------------------------------------------------------------


def _campaign_rows(services: ServiceContext, session: ConsoleSession) -> str:
    summaries = insight.campaign_overview(uow=services.reader(), account_name=session.account_name)
    return _fragment("_campaign_rows.html", summaries=summaries, bar=views.status_bar)


@router.get("/campaigns", response_model=None)
def campaigns_page(request: Request, services: ServicesDep) -> Response:
    """The account's campaigns with their progress."""
    session = _session(request, services)
    if session is None:
        return _to_sign_in(request)
    return _render("campaigns.html", session=session, rows=_campaign_rows(services, session), now=services.clock.now())


@router.get("/campaigns/live", response_model=None)
def campaigns_live(request: Request, services: ServicesDep) -> Response:
    """The campaign list's rows, refreshed while the page is open."""
    session = _session(request, services)
    if session is None:
        return JSONResponse({"errorCode": "Unauthorized", "errorMessage": "sign in again"}, status_code=401)
    return JSONResponse({"regions": {"campaigns": _campaign_rows(services, session)}})


def _parse_status(text: str) -> DeviceStatus | None:
    try:
        return DeviceStatus(text) if text else None
    except ValueError:
        return None


def _rollout_regions(services: ServiceContext, session: ConsoleSession, campaign_id: str) -> dict[str, str]:
    """The rollout panel's regions; none for a campaign without a rollout, whose page stays as it was."""
    read = rollouts.campaign_with_rollout(
        uow=services.reader(), account_name=session.account_name, campaign_id=campaign_id
    )
    campaign = read.campaign
    if read.view is None or campaign.rollout is None:
        return {}
    audit = rollouts.campaign_audit(uow=services.reader(), account_name=session.account_name, campaign_id=campaign_id)
    context = {
        "campaign": campaign,
        "panel": RolloutPanel(read.view, campaign.rollout, live=not campaign.status.is_final),
        "session": session,
        "audit": audit,
    }
    return {
        "rollout": _fragment("_campaign_rollout.html", **context),
        "rollout-actions": _fragment("_campaign_rollout_actions.html", **context),
        "audit": _fragment("_campaign_audit.html", **context),
    }


def _campaign_regions(
    services: ServiceContext,
    session: ConsoleSession,
    detail: insight.CampaignDetail,
    status: DeviceStatus | None,
    after: str,
) -> dict[str, str]:
    summary = detail.summary
    context = {
        "detail": detail,
        "summary": summary,
        "campaign": summary.campaign,
        "counts": summary.counts,
        "filter": status.value if status else "",
        "after": after,
        "chart": views.progress_chart(detail.progress, summary.counts.enrolled),
        "strip": views.window_strip(summary.campaign.schedule, detail.now),
        "bar": views.status_bar(summary.counts),
    }
    return {
        "header": _fragment("_campaign_header.html", **context),
        "counts": _fragment("_campaign_counts.html", **context),
        "chart": _fragment("_campaign_chart.html", **context),
        "strip": _fragment("_campaign_strip.html", **context),
        "devices": _fragment("_campaign_devices.html", **context),
        **(
            _rollout_regions(services, session, summary.campaign.id)
            if summary.campaign.rollout is not None
            else _audit_region(services, session, summary.campaign.id)
        ),
    }


def _audit_region(services: ServiceContext, session: ConsoleSession, campaign_id: str) -> dict[str, str]:
    """The audit of a campaign without a rollout (blackout overrides, follow-ups), only once it has an entry."""
    audit = rollouts.campaign_audit(uow=services.reader(), account_name=session.account_name, campaign_id=campaign_id)
    return {"audit": _fragment("_campaign_audit.html", audit=audit)} if audit else {}


def _detail(
    services: ServiceContext, session: ConsoleSession, campaign_id: str, status: DeviceStatus | None, after: str
) -> Any:
    return insight.campaign_detail(
        uow=services.reader(),
        clock=services.clock,
        account_name=session.account_name,
        campaign_id=campaign_id,
        status=status,
        after=after or None,
        page_size=PAGE_SIZE,
    )


@router.get("/campaigns/new", response_model=None)
def new_campaign(request: Request, services: ServicesDep) -> Response:
    """The form for a new campaign."""
    session = _session(request, services)
    if session is None:
        return _to_sign_in(request)
    today = services.clock.now().date()
    form = {"start_date": today.isoformat(), "end_date": (today + timedelta(days=7)).isoformat(), "auto_license": "on"}
    return _campaign_form(services, session, form)


def _campaign_form(
    services: ServiceContext, session: ConsoleSession, form: dict[str, str], error: str | None = None
) -> Response:
    packages = firmware.list_firmware(uow=services.reader(), protocol=None)
    return _render(
        "new_campaign.html", 400 if error else 200, session=session, form=form, firmware=packages, error=error
    )


FORM_FIELDS = (
    "name",
    "firmware",
    "start_date",
    "end_date",
    "time_zone",
    "windows",
    "auto_license",
    "device_ids",
    "window_zone",
    "rollout",
)


async def _form(request: Request) -> dict[str, str]:
    data = await request.form()
    return {k: str(v) for k, v in data.items() if isinstance(v, str)}


def _campaign_request(services: ServiceContext, form: dict[str, str]) -> CampaignCreate:
    packages = {f.name: f for f in firmware.list_firmware(uow=services.reader(), protocol=None)}
    package = packages.get(form.get("firmware", ""))
    if package is None:
        raise InvalidRequest("choose a firmware package")
    try:
        start, end = date.fromisoformat(form.get("start_date", "")), date.fromisoformat(form.get("end_date", ""))
    except ValueError:
        raise InvalidRequest("start and end dates must be dates (YYYY-MM-DD)") from None
    windows: list[TimeWindow] = []
    for part in filter(None, (p.strip() for p in form.get("windows", "").split(","))):
        match = WINDOW_PATTERN.match(part)
        if match is None:
            raise InvalidRequest(f"time window {part!r} is not of the form START-END, e.g. 18-22")
        windows.append(TimeWindow(int(match[1]), int(match[2])))
    device_ids = [d for d in DEVICE_ID_SPLIT.split(form.get("device_ids", "")) if d]
    if not device_ids:
        raise InvalidRequest("list at least one device id (IMEI)")
    return CampaignCreate(
        firmware_name=package.name,
        firmware_from=package.firmware_from,
        firmware_to=package.firmware_to,
        protocol=package.protocol.value,
        start_date=start,
        end_date=end,
        device_ids=device_ids,
        auto_assign_license=form.get("auto_license") == "on",
        auto_add_devices=False,
        campaign_name=form.get("name", "").strip() or None,
        windows=windows,
        time_zone=form.get("time_zone", "").strip() or None,
        window_zone=parse_window_zone(form.get("window_zone") or None),
        rollout=_rollout(form),
    )


@router.post("/campaigns/new", response_model=None)
async def edit_campaign(request: Request, services: ServicesDep) -> Response:
    """Back from the preview to the form, with everything typed so far."""
    form = await _form(request)
    return await _run(_edit_campaign, request, services, form)


def _edit_campaign(
    request: Request, services: ServiceContext, session: ConsoleSession, form: dict[str, str]
) -> Response:
    return _campaign_form(services, session, form)


async def _run(handler: Any, request: Request, services: ServiceContext, form: dict[str, str]) -> Response:
    """Signs-in and CSRF checks for a form POST, then its handler in the thread pool (form parsing is async;
    the use cases block on the database)."""

    def checked() -> Response:
        session = _session(request, services)
        if session is None:
            return _to_sign_in(request)
        if not _csrf_ok(session, form.get("csrf_token", "")):
            return _forbidden()
        response: Response = handler(request, services, session, form)
        return response

    return await run_in_threadpool(checked)


@router.post("/campaigns/preview", response_model=None)
async def preview(request: Request, services: ServicesDep) -> Response:
    """What the campaign typed in the form would do, before it is created."""
    form = await _form(request)
    return await _run(_preview, request, services, form)


def _rollout(form: dict[str, str]) -> RolloutSpec | None:
    """The form's optional rollout, the JSON object of the API's `rollout` field."""
    text = form.get("rollout", "").strip()
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise InvalidRequest('rollout must be JSON, e.g. {"waves": [{"devices": 5}, {"percent": 100}]}') from None
    return parse_rollout(value)


def _preview(request: Request, services: ServiceContext, session: ConsoleSession, form: dict[str, str]) -> Response:
    try:
        create = _campaign_request(services, form)
        result = preview_campaign(
            uow=services.reader(),
            clock=services.clock,
            account_name=session.account_name,
            request=create,
            signing_required=services.require_signed_firmware,
        )
    except DomainError as error:
        return _campaign_form(services, session, form, error.message)
    return _render(
        "preview.html",
        session=session,
        form={k: form.get(k, "") for k in FORM_FIELDS},
        create=create,
        preview=result,
        now=services.clock.now(),
    )


@router.post("/campaigns", response_model=None)
async def create(request: Request, services: ServicesDep) -> Response:
    """Creates the previewed campaign."""
    form = await _form(request)
    return await _run(_create, request, services, form)


def _create(request: Request, services: ServiceContext, session: ConsoleSession, form: dict[str, str]) -> Response:
    try:
        created = campaigns.create_campaign(
            uow=services.uow(),
            clock=services.clock,
            account_name=session.account_name,
            request=_campaign_request(services, form),
            signing_required=services.require_signed_firmware,
        )
    except DomainError as error:
        return _campaign_form(services, session, form, error.message)
    return RedirectResponse(f"/console/campaigns/{created.id}?created=1", status_code=303)


@router.get("/campaigns/{campaign_id}", response_model=None)
def campaign_page(
    request: Request,
    services: ServicesDep,
    campaign_id: str,
    status: str = "",
    after: str = "",
    created: str = "",
    cancelled: str = "",
    done: str = "",
) -> Response:
    """One campaign: its schedule, progress and devices, filtered by status, and its rollout if it has one."""
    session = _session(request, services)
    if session is None:
        return _to_sign_in(request)
    selected = _parse_status(status)
    try:
        detail = _detail(services, session, campaign_id, selected, after)
    except NotFound as error:
        return _not_found(session, error)
    live_query = urlencode({k: v for k, v in (("status", status), ("after", after)) if v})
    notice = "Campaign created." if created else "Campaign stopped." if cancelled else DONE_NOTICE.get(done)
    return _render(
        "campaign.html",
        session=session,
        campaign=detail.summary.campaign,
        regions=_campaign_regions(services, session, detail, selected, after),
        live_url=f"/console/campaigns/{campaign_id}/live" + (f"?{live_query}" if live_query else ""),
        notice=notice,
    )


@router.get("/campaigns/{campaign_id}/live", response_model=None)
def campaign_live(
    request: Request, services: ServicesDep, campaign_id: str, status: str = "", after: str = ""
) -> Response:
    """The campaign page's regions, refreshed while it is open."""
    session = _session(request, services)
    if session is None:
        return JSONResponse({"errorCode": "Unauthorized", "errorMessage": "sign in again"}, status_code=401)
    selected = _parse_status(status)
    try:
        detail = _detail(services, session, campaign_id, selected, after)
    except NotFound as error:
        return JSONResponse({"errorCode": "NotFound", "errorMessage": error.message}, status_code=404)
    counts = detail.summary.counts
    return JSONResponse(
        {
            "status": detail.summary.campaign.status.value,
            "counts": {s.value: n for s, n in counts.by_status.items()},
            "enrolled": counts.enrolled,
            "progress": round(counts.progress * 100, 1),
            "final": detail.summary.campaign.status.is_final,
            "regions": _campaign_regions(services, session, detail, selected, after),
        }
    )


@router.get("/campaigns/{campaign_id}/cancel", response_model=None)
def cancel_confirmation(request: Request, services: ServicesDep, campaign_id: str) -> Response:
    """Asks whether to stop the campaign."""
    session = _session(request, services)
    if session is None:
        return _to_sign_in(request)
    try:
        summary = insight.campaign_summary(
            uow=services.reader(), account_name=session.account_name, campaign_id=campaign_id
        )
    except NotFound as error:
        return _not_found(session, error)
    campaign = summary.campaign
    now = services.clock.now()
    return _render(
        "cancel.html",
        session=session,
        campaign=campaign,
        counts=summary.counts,
        aborts=now >= campaign.schedule.starts_at,
        error=None,
    )


@router.post("/campaigns/{campaign_id}/cancel", response_model=None)
def cancel(
    request: Request,
    services: ServicesDep,
    campaign_id: str,
    csrf_token: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    """Stops the campaign once confirmed."""
    session = _session(request, services)
    if session is None:
        return _to_sign_in(request)
    if not _csrf_ok(session, csrf_token):
        return _forbidden()
    if confirm != "yes":
        return RedirectResponse(f"/console/campaigns/{campaign_id}/cancel", status_code=303)
    try:
        campaigns.cancel_campaign(
            uow=services.uow(), clock=services.clock, account_name=session.account_name, campaign_id=campaign_id
        )
    except NotFound as error:
        return _not_found(session, error)
    except DomainError as error:
        return _render("message.html", 400, session=session, title="Cannot stop this campaign", message=error.message)
    return RedirectResponse(f"/console/campaigns/{campaign_id}?cancelled=1", status_code=303)


@router.post("/campaigns/{campaign_id}/rollout/{operation}", response_model=None)
def rollout_call(
    request: Request,
    services: ServicesDep,
    campaign_id: str,
    operation: str,
    csrf_token: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Pauses, resumes or approves the campaign's rollout, as the signed-in user."""
    session = _session(request, services)
    if session is None:
        return _to_sign_in(request)
    if not _csrf_ok(session, csrf_token):
        return _forbidden()
    if operation not in OPERATIONS:
        return _not_found(session, NotFound(f"no rollout operation {operation!r}: use pause, resume or approve"))
    call = {"pause": rollouts.pause_rollout, "resume": rollouts.resume_rollout, "approve": rollouts.approve_rollout}
    try:
        if len(reason) > MAX_REASON:
            raise InvalidRequest(f"reason is {len(reason)} characters long; at most {MAX_REASON} are allowed")
        call[operation](
            uow=services.uow(),
            clock=services.clock,
            account_name=session.account_name,
            campaign_id=campaign_id,
            actor=session.username,
            reason=reason.strip() or None,
        )
    except NotFound as error:
        return _not_found(session, error)
    except DomainError as error:
        return _render(
            "message.html",
            409 if isinstance(error, Conflict) else 400,
            session=session,
            title=f"Cannot {operation} this rollout",
            message=error.message,
            back=f"/console/campaigns/{campaign_id}",
        )
    return RedirectResponse(f"/console/campaigns/{campaign_id}?done={operation}", status_code=303)


# --- devices -------------------------------------------------------------------------------------------------------


@router.get("/devices/{device_id}", response_model=None)
def device_page(request: Request, services: ServicesDep, device_id: str) -> Response:
    """One device and its upgrade history."""
    session = _session(request, services)
    if session is None:
        return _to_sign_in(request)
    try:
        detail = insight.device_detail(uow=services.reader(), account_name=session.account_name, device_id=device_id)
    except NotFound as error:
        return _not_found(session, error)
    return _render(
        "device.html",
        session=session,
        detail=detail,
        history=_fragment("_device_history.html", detail=detail),
        now=services.clock.now(),
    )


@router.get("/devices/{device_id}/live", response_model=None)
def device_live(request: Request, services: ServicesDep, device_id: str) -> Response:
    """The device page's history, refreshed while it is open."""
    session = _session(request, services)
    if session is None:
        return JSONResponse({"errorCode": "Unauthorized", "errorMessage": "sign in again"}, status_code=401)
    try:
        detail = insight.device_detail(uow=services.reader(), account_name=session.account_name, device_id=device_id)
    except NotFound as error:
        return JSONResponse({"errorCode": "NotFound", "errorMessage": error.message}, status_code=404)
    return JSONResponse({"regions": {"history": _fragment("_device_history.html", detail=detail)}})
