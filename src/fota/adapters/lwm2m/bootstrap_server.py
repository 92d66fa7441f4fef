"""The LwM2M bootstrap server: its own CoAP port (and coaps, with per-device bootstrap PSKs) in the LwM2M process.

A client's `POST /bs?ep=...` is admitted by `services.device_bootstrap`, answered 2.04, and followed by one
bootstrap session (lwm2m/bootstrap_session.py) that hands the client its management account on the management
server beside it (docs/adr/0013-lwm2m-bootstrap.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiocoap import BAD_REQUEST, CHANGED, FORBIDDEN, Context, Message
from aiocoap import error as coap_error
from aiocoap.interfaces import Resource
from aiocoap.numbers.codes import Code

from fota.adapters import metrics
from fota.adapters.lwm2m.bootstrap_session import BootstrapClient, BootstrapFailed, BootstrapOrder, run_bootstrap
from fota.adapters.lwm2m.credentials import PskCredentials
from fota.adapters.lwm2m.dtls import add_dtls_server, claim_of, dtls_available
from fota.adapters.lwm2m.refusal_gate import RefusalGate
from fota.adapters.lwm2m.registration import MAX_ENDPOINT_LENGTH, device_id_of
from fota.adapters.lwm2m.send_errors import send_past_earlier_errors
from fota.adapters.lwm2m.server import Lwm2mServer
from fota.domain.errors import DomainError
from fota.domain.security import SecurityMode
from fota.services import device_bootstrap
from fota.services.context import ServiceContext

log = logging.getLogger(__name__)

# How long the server waits for each answer of a bootstrapping client: it has just asked, so it is awake.
REQUEST_TIMEOUT = 15.0


class BootstrapServer:
    def __init__(
        self,
        services: ServiceContext,
        *,
        host: str,
        port: int,
        coaps_port: int,
        management: Lwm2mServer,
        allow_nosec: bool,
    ) -> None:
        self.services = services
        self.host = host
        self.port = port
        self.coaps_port = coaps_port
        self.management = management
        self.cipher = services.cipher
        self.allow_nosec = allow_nosec
        self.context: Context | None = None
        self.credentials: PskCredentials | None = None
        self.sessions: dict[str, asyncio.Task[None]] = {}
        # One refusal budget per address for both interfaces, shared by every LwM2M process on PostgreSQL.
        self.refusals = RefusalGate(management.refusals)

    async def start(self) -> None:
        self.context = await Context.create_server_context(
            _Root(self), bind=(self.host, self.port), transports=["udp6"]
        )
        send_past_earlier_errors(self.context)
        log.info("LwM2M bootstrap server listening on %s:%d (coap)", self.host, self.port)
        if self.management.credentials is None:
            log.warning("the management server has no coaps: devices given psk accounts will not be able to register")
        if not self.coaps_port:
            return
        if not dtls_available() or self.cipher is None:
            log.warning("bootstrap over coaps is off: DTLSSocket is not installed or FOTA_SECRET_KEY is not set")
            return
        self.credentials = PskCredentials(self.services.reader, self.cipher, find=device_bootstrap.find_bootstrap_psk)
        await add_dtls_server(self.context, host=self.host, port=self.coaps_port, credentials=self.credentials)
        log.info("LwM2M bootstrap server listening on %s:%d (coaps, DTLS-PSK)", self.host, self.coaps_port)

    async def stop(self) -> None:
        for task in list(self.sessions.values()):
            task.cancel()
        for task in list(self.sessions.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.context is not None:
            await self.context.shutdown()
            self.context = None

    def _refuse(self, request: Message, reason: str, *, label: str, code: Code = FORBIDDEN) -> Message:
        metrics.LWM2M_BOOTSTRAPS.labels("refused").inc()
        metrics.LWM2M_REFUSED.labels(label).inc()
        log.warning("refused Bootstrap-Request from %s: %s", request.remote.hostinfo, reason)
        return Message(code=code, payload=reason.encode()[:200])

    async def bootstrap_request(self, request: Message) -> Message:
        query = dict(part.partition("=")[::2] for part in request.opt.uri_query)
        endpoint = query.get("ep", "")
        if not 0 < len(endpoint) <= MAX_ENDPOINT_LENGTH:
            return self._refuse(request, "the endpoint name (ep) is required", label="bad_request", code=BAD_REQUEST)
        preferred = int(query["pct"]) if query.get("pct", "").isdigit() else None
        device_id = device_id_of(endpoint)
        if device_id is None:
            return self._refuse(request, f"unknown endpoint {endpoint!r}", label="unknown_endpoint", code=BAD_REQUEST)
        claim = claim_of(request.remote)
        plan = await asyncio.to_thread(
            device_bootstrap.admit,
            uow=self.services.reader(),
            device_id=device_id,
            dtls_device_id=claim.device_id if claim is not None else None,
            over_dtls=request.remote.scheme == "coaps",
            allow_nosec=self.allow_nosec,
        )
        if plan.refused is not None or plan.settings is None:
            return self._refuse(request, f"{device_id}: {plan.refused}", label="security")
        account = plan.settings.account
        if account.server_uri is not None:
            server_uri = account.server_uri
        elif account.security_mode is SecurityMode.PSK:
            server_uri = self.management.coaps_base_url
        else:
            server_uri = self.management.config.coap_base_url
        order = BootstrapOrder(
            plan.settings,
            server_uri,
            device_bootstrap.new_management_credentials(device_id=device_id, mode=account.security_mode),
            preferred,
        )
        running = self.sessions.get(device_id)
        if running is not None and not running.done():
            running.cancel()  # the client started over: its new request supersedes the old sequence
        task = asyncio.create_task(self._session(request.remote, order), name=f"lwm2m-bootstrap-{device_id}")
        self.sessions[device_id] = task
        task.add_done_callback(lambda t: self._forget(device_id, t))
        return Message(code=CHANGED)

    def _forget(self, device_id: str, task: asyncio.Task[None]) -> None:
        if self.sessions.get(device_id) is task:
            del self.sessions[device_id]

    async def _session(self, remote: Any, order: BootstrapOrder) -> None:
        device_id = order.settings.device_id
        assert self.context is not None
        client = BootstrapClient(self.context, remote, timeout=REQUEST_TIMEOUT)

        async def keep_credentials() -> None:
            replaced = await asyncio.to_thread(
                device_bootstrap.keep_management_credentials,
                uow=self.services.uow(),
                clock=self.services.clock,
                cipher=self.cipher,
                device_id=device_id,
                credentials=order.credentials,
            )
            # The old key must stop working now, not when this process's key cache expires (other LwM2M
            # processes drop it within their cache's 30 s).
            cache = self.management.credentials
            if cache is not None:
                for identity in {replaced, order.credentials.identity} - {None}:
                    cache.forget(str(identity).encode("utf-8"))

        try:
            version = await run_bootstrap(client, order, keep_credentials=keep_credentials)
        except Exception as error:  # any failure ends this device's bootstrap, not the server
            reason = str(error) if isinstance(error, BootstrapFailed | DomainError) else repr(error)
            metrics.LWM2M_BOOTSTRAPS.labels("failed").inc()
            log.warning("bootstrap of %s failed: %s", device_id, reason)
            await asyncio.to_thread(self._record, device_id, finished=False, reason=reason[:200])
            return
        metrics.LWM2M_BOOTSTRAPS.labels("finished").inc()
        reason = f"LwM2M {version} client given {order.server_uri} ({order.settings.account.security_mode.value})"
        log.info("bootstrapped %s: %s", device_id, reason)
        await asyncio.to_thread(self._record, device_id, finished=True, reason=reason)

    def _record(self, device_id: str, *, finished: bool, reason: str) -> None:
        device_bootstrap.record_bootstrap(
            uow=self.services.uow(), clock=self.services.clock, device_id=device_id, finished=finished, reason=reason
        )


class _Root(Resource):  # type: ignore[misc]
    """Only `POST /bs` (Bootstrap-Request); refused requests are charged to their address's refusal budget."""

    def __init__(self, server: BootstrapServer) -> None:
        self.server = server

    async def needs_blockwise_assembly(self, request: Message) -> bool:
        return True

    async def render(self, request: Message) -> Message:
        if request.opt.uri_path != ("bs",):
            raise coap_error.NotFound()
        if request.code.name != "POST":
            raise coap_error.UnsupportedMethod()
        return await self.server.refusals.reserving(request, lambda: self.server.bootstrap_request(request))
