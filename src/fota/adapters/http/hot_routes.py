"""The hottest read, GET campaign, answered as plain ASGI before FastAPI's routing and dependency solving, which cost
more than the read itself (docs/performance.md). Only a success is answered here: a caller whose tokens are not
cached, an error of any kind, or a path that is not exactly the route's goes on to the full route, which answers it
as it always has. The bytes are the full route's own: the same service, presenter and pydantic serialisation.
"""

from __future__ import annotations

import logging
import re
from functools import partial

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from fota.adapters.http.api_route import ROUTE_NOTE
from fota.adapters.http.dependencies import bearer_token
from fota.adapters.http.parts import ApiParts
from fota.adapters.http.presenters import campaign_read
from fota.domain.campaign import Campaign
from fota.domain.errors import DomainError
from fota.services import auth, rollouts
from fota.services.ports import UnitOfWork

log = logging.getLogger(__name__)

CAMPAIGN_TEMPLATE = "/api/fota/v3/campaigns/{account}/{campaign_id}"
# Starlette's `{name}` converter: one path segment, at least one character.
_CAMPAIGN_PATH = re.compile(r"/api/fota/v3/campaigns/([^/]+)/([^/]+)")
# `firmware/{account}` is the create route (POST) and no GET: a GET of it is the full router's 405 to give.
_NOT_AN_ACCOUNT = frozenset({"firmware"})


class HotRoutes:
    """Pure ASGI middleware in front of the routers, for GET campaign."""

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
                    await _send_json(scope, send, body)
                    return
        await self.app(scope, receive, send)

    async def _campaign(self, scope: Scope, account: str, campaign_id: str) -> bytes | None:
        services = self.parts.services
        authorization = session = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"vz-m2m-token":
                session = value.decode("latin-1")
        try:
            caller = auth.cached_caller(
                clock=services.clock,
                bearer=bearer_token(authorization),
                session=session,
                account_name=account,
                cache=services.tokens,
            )
            if caller is None:
                return None  # the full route reads the tokens, and caches them for the next call
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


async def _send_json(scope: Scope, send: Send, body: bytes) -> None:
    note = scope.get(ROUTE_NOTE)
    if note is not None:
        note["template"] = CAMPAIGN_TEMPLATE
    headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
