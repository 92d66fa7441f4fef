"""The hottest routes, GET campaign, a device report page already cached and the HTTP device check-in, answered as
plain ASGI before FastAPI's routing and dependency solving, which cost more than the work itself
(docs/performance.md). The two GETs are answered here only on success: a caller whose tokens are not cached, an error
of any kind, a page not cached, or a path or query that is not exactly the route's goes on to the full route, which
answers it as it always has. A check-in whose body the full route would
not read as the same JSON goes on too. The bytes are the full route's own: the same services, models and pydantic
serialisation.
"""

from __future__ import annotations

import json
import logging
import re
from functools import partial
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fota.adapters.http.api_route import ROUTE_NOTE
from fota.adapters.http.dependencies import bearer_token
from fota.adapters.http.errors import domain_error_response
from fota.adapters.http.parts import ApiParts
from fota.adapters.http.presenters import MAX_PAGE_SIZE, campaign_read
from fota.adapters.http.routes.device_api import CheckInBody, instruction_for
from fota.adapters.http.routes.reports import written_device_report_json
from fota.domain.campaign import Campaign
from fota.domain.errors import DomainError
from fota.services import auth, reports, rollouts
from fota.services.ports import UnitOfWork

log = logging.getLogger(__name__)

CAMPAIGN_TEMPLATE = "/api/fota/v3/campaigns/{account}/{campaign_id}"
# Starlette's `{name}` converter: one path segment, at least one character.
_CAMPAIGN_PATH = re.compile(r"/api/fota/v3/campaigns/([^/]+)/([^/]+)")
# `firmware/{account}` is the create route (POST) and no GET: a GET of it is the full router's 405 to give.
_NOT_AN_ACCOUNT = frozenset({"firmware"})
REPORT_TEMPLATE = "/api/fota/v3/reports/{account}/campaigns/{campaign_id}/devices"
_REPORT_PATH = re.compile(r"/api/fota/v3/reports/([^/]+)/campaigns/([^/]+)/devices")
CHECK_IN_TEMPLATE = "/device/v1/devices/{device_id}/checkin"
_CHECK_IN_PATH = re.compile(r"/device/v1/devices/([^/]+)/checkin")


class HotRoutes:
    """Pure ASGI middleware in front of the routers, for GET campaign and the HTTP device check-in."""

    def __init__(self, app: ASGIApp, parts: ApiParts) -> None:
        self.app = app
        self.parts = parts
        self.answers = CampaignAnswers()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            match = _CAMPAIGN_PATH.fullmatch(scope["path"])
            if match is not None and match[1] not in _NOT_AN_ACCOUNT:
                body = await self._campaign(scope, match[1], match[2])
                if body is not None:
                    await _send_json(scope, send, body, CAMPAIGN_TEMPLATE)
                    return
            match = _REPORT_PATH.fullmatch(scope["path"])
            if match is not None:
                body = await self._report(scope, match[1], match[2])
                if body is not None:
                    await _send_json(scope, send, body, REPORT_TEMPLATE)
                    return
        elif scope["type"] == "http" and scope["method"] == "POST":
            match = _CHECK_IN_PATH.fullmatch(scope["path"])
            if match is not None and _is_json(scope):
                await self._check_in(scope, receive, send, match[1])
                return
        await self.app(scope, receive, send)

    async def _check_in(self, scope: Scope, receive: Receive, send: Send, device_id: str) -> None:
        raw = await _body(receive)
        try:
            body = CheckInBody.model_validate(json.loads(raw))  # as FastAPI reads a JSON body: json, then pydantic
        except (ValueError, RecursionError):  # not JSON, or not a check-in: the full route's 400 to give
            await self.app(scope, _replay(raw, receive), send)
            return
        authorization = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None)
        try:
            answer = await instruction_for(self.parts, device_id, body, authorization)
        except DomainError as error:
            _note(scope, CHECK_IN_TEMPLATE)
            await domain_error_response(error)(scope, receive, send)
            return
        await _send_json(
            scope, send, answer.model_dump_json(by_alias=True, exclude_none=True).encode(), CHECK_IN_TEMPLATE
        )

    def _cached_caller(self, scope: Scope, account: str) -> auth.Caller | None:
        """The caller if its tokens are cached; None: the full route reads them, and caches them for the next call."""
        authorization = session = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"vz-m2m-token":
                session = value.decode("latin-1")
        return auth.cached_caller(
            clock=self.parts.services.clock,
            bearer=bearer_token(authorization),
            session=session,
            account_name=account,
            cache=self.parts.services.tokens,
        )

    async def _report(self, scope: Scope, account: str, campaign_id: str) -> bytes | None:
        after = _last_seen(scope["query_string"])
        if after is None:
            return None  # a query the full route reads
        services = self.parts.services
        try:
            if self._cached_caller(scope, account) is None:
                return None
            if self.parts.campaign_reads is not None:
                found = await self.parts.campaign_reads.campaign_and_report(account, campaign_id)
            else:
                read = partial(reports.campaign_and_report_version, account_name=account, campaign_id=campaign_id)
                # Two one-row reads on SQLite: as GET campaign's, cheaper on the loop than a trip to the thread pool.
                if services.loop_reader is not None:
                    found = read(uow=services.loop_reader())
                else:
                    found = await run_in_threadpool(partial(read, uow=services.reader()))
            if found is None:
                return None  # the full route's 404
            cached = reports.cached_page(
                pages=services.report_pages,
                campaign=found[0],
                version=found[1],
                clock=services.clock,
                after=after,
                page_size=MAX_PAGE_SIZE,
            )
        except DomainError:
            return None  # the full route raises it again and answers it in the API's shape
        except Exception:
            log.debug("a report page goes to the full route after an unexpected error", exc_info=True)
            return None
        return None if cached is None else written_device_report_json(cached, page_size=MAX_PAGE_SIZE)

    async def _campaign(self, scope: Scope, account: str, campaign_id: str) -> bytes | None:
        services = self.parts.services
        try:
            if self._cached_caller(scope, account) is None:
                return None
            if self.parts.campaign_reads is not None:
                campaign = await self.parts.campaign_reads.campaign(account, campaign_id)
                if campaign is None:
                    return None  # the full route's 404
                if campaign.rollout is None:
                    return self.answers.of(campaign)
            # A SQLite read of one row is a few tens of microseconds and never waits for the writer (WAL): a trip
            # to the thread pool would cost more than the read.
            if services.loop_reader is not None:
                return self.answers.json(services.loop_reader(), account, campaign_id)
            return await run_in_threadpool(partial(self.answers.json, services.reader(), account, campaign_id))
        except DomainError:
            return None  # the full route raises it again and answers it in the API's shape
        except Exception:
            log.debug("GET campaign goes to the full route after an unexpected error", exc_info=True)
            return None


class CampaignAnswers:
    """The last answer for each campaign, given again while the read returns the very same `Campaign` object.

    A campaign is frozen and the presenter is a pure function of it, so the same object has the same bytes. Both
    stores hand out one object per stored row (storage/sqlite_campaign_reads.py, storage/postgresql_campaign_reads.py).
    A rollout's view is read from other tables, so it is never reused.
    """

    REMEMBERED = 4096

    def __init__(self) -> None:
        self._last: dict[str, tuple[Campaign, bytes]] = {}

    def json(self, uow: UnitOfWork, account: str, campaign_id: str) -> bytes:
        read = rollouts.campaign_with_rollout(uow=uow, account_name=account, campaign_id=campaign_id)
        if read.view is not None:
            return _campaign_json(read)
        return self.of(read.campaign)

    def of(self, campaign: Campaign) -> bytes:
        """The answer for a campaign without a rollout."""
        last = self._last.get(campaign.id)
        if last is not None and last[0] is campaign:
            return last[1]
        body = _campaign_json(rollouts.CampaignRollout(campaign, None))
        if len(self._last) >= self.REMEMBERED:
            self._last.clear()
        self._last[campaign.id] = (campaign, body)
        return body


def _campaign_json(read: rollouts.CampaignRollout) -> bytes:
    # As FastAPI serialises the route's response model (response_model_exclude_none, by alias).
    return campaign_read(read.campaign, read.view).model_dump_json(by_alias=True, exclude_none=True).encode()


def _last_seen(query: bytes) -> str | None:
    """The report's `lastSeenDeviceId` ("" for none), read as Starlette reads a query; None for any other query."""
    if not query:
        return ""
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    if len(pairs) == 1 and pairs[0][0] == "lastSeenDeviceId":
        return pairs[0][1]
    return None


def _is_json(scope: Scope) -> bool:
    """Whether the content type is plain JSON. FastAPI refuses a body with no content type, or one that is not JSON,
    and the full route is left to say so (it also reads `+json` types, rare enough to leave to it)."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bool(value.split(b";")[0].strip().lower() == b"application/json")
    return False


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away: the body so far, which the full route's validation refuses
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` for the full route: the body already read, then whatever the connection says next."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


def _note(scope: Scope, template: str) -> None:
    note = scope.get(ROUTE_NOTE)
    if note is not None:
        note["template"] = template


async def _send_json(scope: Scope, send: Send, body: bytes, template: str) -> None:
    _note(scope, template)
    headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
