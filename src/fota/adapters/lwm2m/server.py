"""The LwM2M server endpoint: the registration interface (/rd) and firmware downloads (/fw/<token>) over CoAP.

Each check-in (Register or Update) starts a device session in the background; one session per device at a time.

Device-side security (docs/adr/0010-dtls-psk.md): besides plain CoAP the server listens for coaps (DTLS-PSK) when
DTLSSocket is installed and FOTA_SECRET_KEY is set. Every check-in passes `services.device_security`'s admission:
over DTLS the PSK identity must belong to the registering device; plain CoAP is refused for psk-mode devices and,
unless the operator passed --allow-nosec, for everyone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from dataclasses import replace
from typing import Any, NoReturn
from urllib.parse import urlsplit

from aiocoap import BAD_REQUEST, CHANGED, CONTENT, CREATED, DELETED, Context, Message
from aiocoap import error as coap_error
from aiocoap.interfaces import Resource
from aiocoap.numbers.codes import Code
from aiocoap.numbers.contentformat import ContentFormat as AiocoapContentFormat
from aiocoap.optiontypes import BlockOption

from fota.adapters import metrics
from fota.adapters.lwm2m.batching import Batcher
from fota.adapters.lwm2m.codec import CodecError, parse_link_format
from fota.adapters.lwm2m.credentials import PskCredentials
from fota.adapters.lwm2m.device_client import DeviceClient
from fota.adapters.lwm2m.downloads import DownloadGate, PackageStore, block
from fota.adapters.lwm2m.dtls import add_dtls_server, claim_of, dtls_available
from fota.adapters.lwm2m.refusals import REFUSAL_MAX_AGE, RefusalBucket, SharedRefusals
from fota.adapters.lwm2m.registration import DEFAULT_LIFETIME, RegistrationError, device_id_of, parse_query
from fota.adapters.lwm2m.session import DeviceSession, SessionConfig, StepBatches
from fota.adapters.lwm2m.udp_tuning import tune_udp
from fota.adapters.psk_cipher import cipher_from_secret
from fota.bootstrap import Container
from fota.domain.upgrade import Assignment
from fota.services import device_security, registrations
from fota.services.registrations import CheckIn, CheckInResult

log = logging.getLogger(__name__)

MAX_REGISTRATION_PAYLOAD = 4096


def _host(request: Message) -> str:
    sockaddr = getattr(request.remote, "sockaddr", None)
    return str(sockaddr[0]) if sockaddr else str(request.remote.hostinfo)


class Lwm2mServer:
    def __init__(
        self,
        container: Container,
        *,
        host: str,
        port: int,
        packages: PackageStore,
        gate: DownloadGate,
        coap_base_url: str,
        http_base_url: str,
    ) -> None:
        self.c = container
        self.host = host
        self.port = port
        self.node = f"{socket.gethostname()}:{port}"
        self.config = SessionConfig(coap_base_url=coap_base_url, http_base_url=http_base_url, node=self.node)
        self.gate = gate
        self.packages = packages
        self.context: Context | None = None
        self.sessions: dict[str, asyncio.Task[None]] = {}
        self.unknown_refused = 0
        self.registered = metrics.RegisteredDevices()
        self.refusals = RefusalBucket()
        ledger = container.refusal_ledger
        self.shared_refusals = SharedRefusals(self.refusals, ledger) if ledger is not None else None
        settings = container.settings
        self.allow_nosec = settings.allow_nosec
        # None: aiocoap's own convention (and LwM2M's defaults 5683/5684), the CoAP port + 1; 0 turns coaps off.
        self.coaps_port = port + 1 if settings.coaps_port is None else settings.coaps_port
        self.coaps_base_url = settings.public_coaps_url or _coaps_url(coap_base_url, self.coaps_port)
        self.credentials: PskCredentials | None = None
        self.refused_security = 0
        # Registration Updates (the fleet's periodic check-ins) are admitted, recorded and answered with the
        # device's assignment in batched transactions: one per burst, not one per message.
        self.check_ins: Batcher[CheckIn, CheckInResult] = Batcher(self._write_check_ins)
        self.steps = StepBatches(container)

    async def start(self) -> None:
        # UDP only: aiocoap would also listen for CoAP over TCP on the same port number, which LwM2M 1.0/1.1
        # devices here do not use and which may collide with other TCP services.
        self.context = await Context.create_server_context(
            _Root(self), bind=(self.host, self.port), transports=["udp6"]
        )
        tune_udp(self.context)
        if self.shared_refusals is not None:
            self.shared_refusals.start()
        metrics.LWM2M_REGISTERED_DEVICES.set_function(lambda: self.registered.count(self.c.clock.now()))
        await self._start_dtls()
        if not self.allow_nosec:
            log.info("plain CoAP (NoSec) devices are refused; start with --allow-nosec to accept them")

    async def _start_dtls(self) -> None:
        if not self.coaps_port:
            log.info("coaps (DTLS) is off: --coaps-port 0")
            return
        if not dtls_available():
            log.warning("coaps (DTLS) is off: DTLSSocket is not installed (pip install 'fota[dtls]')")
            return
        cipher = cipher_from_secret(self.c.settings.secret_key)
        if cipher is None:
            log.warning(
                "coaps (DTLS) is off: FOTA_SECRET_KEY is not set (16+ characters), so no stored PSK is readable"
            )
            return
        assert self.context is not None
        self.credentials = PskCredentials(self.c.reader, cipher)
        await add_dtls_server(self.context, host=self.host, port=self.coaps_port, credentials=self.credentials)
        log.info("coaps (DTLS-PSK) listening on %s:%d", self.host, self.coaps_port)

    async def stop(self) -> None:
        if self.shared_refusals is not None:
            await self.shared_refusals.stop()
        await self.check_ins.close()
        await self.steps.close()
        for task in list(self.sessions.values()):
            task.cancel()
        for task in list(self.sessions.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.context is not None:
            await self.context.shutdown()
            self.context = None

    def start_session(
        self,
        device_id: str,
        address: str,
        *,
        registered: bool,
        remote: Any = None,
        assignment: Assignment | None = None,
        assignment_known: bool = False,
        here: bool = False,
    ) -> None:
        """`remote`: the device's DTLS session when it checked in over coaps (requests then go back over it).
        `assignment_known`: `assignment` is the device's current one, read with the check-in (None: nothing to do)."""
        running = self.sessions.get(device_id)
        if running is not None and not running.done():
            if not registered:
                return  # the running session is still working with this awake device
            running.cancel()  # a fresh registration (e.g. after a reboot) supersedes it
        if assignment_known and assignment is None and not registered:
            return  # an Update with no upgrade to start or resume: nothing to ask the device
        assert self.context is not None
        client = DeviceClient(self.context, address, remote=remote)
        over_dtls = remote is not None and remote.scheme == "coaps"
        config = replace(self.config, coap_base_url=self.coaps_base_url) if over_dtls else self.config
        session = DeviceSession(self.c, client, device_id, config, self.steps)
        task = asyncio.create_task(
            session.run(registered=registered, assignment=assignment, assignment_known=assignment_known, here=here),
            name=f"lwm2m-session-{device_id}",
        )
        self.sessions[device_id] = task
        task.add_done_callback(lambda t: self._forget(device_id, t))

    def _forget(self, device_id: str, task: asyncio.Task[None]) -> None:
        if self.sessions.get(device_id) is task:
            del self.sessions[device_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("session of %s failed", device_id, exc_info=task.exception())

    async def _db(self, function: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(function, **kwargs)

    async def _admit(self, request: Message, *, device_id: str | None = None, location: str | None = None) -> None:
        """Raises 4.03 unless this channel (plain CoAP, or DTLS as some device) may check in for the device."""
        over_dtls = request.remote.scheme == "coaps"
        claim = claim_of(request.remote)
        reason = await self._db(
            device_security.admission_refusal,
            uow=self.c.reader(),
            device_id=device_id,
            location=location,
            dtls_device_id=claim.device_id if claim is not None else None,
            over_dtls=over_dtls,
            allow_nosec=self.allow_nosec,
        )
        if reason is None:
            return
        self._refused(request, reason, device_id=device_id, location=location)

    def _refused(
        self, request: Message, reason: str, *, device_id: str | None = None, location: str | None = None
    ) -> NoReturn:
        over_dtls = request.remote.scheme == "coaps"
        self.refused_security += 1
        metrics.LWM2M_REFUSED.labels("security").inc()
        log.warning(
            "refused %s of %s from %s over %s: %s",
            "registration" if location is None else "check-in",
            device_id or f"/rd/{location}",
            request.remote.hostinfo,
            "coaps" if over_dtls else "coap",
            reason,
        )
        raise coap_error.Forbidden()

    @staticmethod
    def _session_remote(request: Message) -> Any:
        """The address requests to the device go to: where its check-in came from. Over DTLS that is its session,
        which must be reused; over plain CoAP reusing it spares resolving the device's address for every request."""
        return request.remote

    # --- registration interface -------------------------------------------------------------------------

    async def register(self, request: Message) -> Message:
        query = parse_query(request.opt.uri_query)
        if query.endpoint is None:
            raise RegistrationError("the endpoint name (ep) is required")
        address = request.remote.hostinfo
        objects = _objects(request.payload)
        device_id = device_id_of(query.endpoint)
        registration = None
        if device_id is not None:
            await self._admit(request, device_id=device_id)
            registration = await self._db(
                registrations.register,
                uow=self.c.uow(),
                clock=self.c.clock,
                endpoint=query.endpoint,
                device_id=device_id,
                lifetime=query.lifetime or DEFAULT_LIFETIME,
                lwm2m_version=query.lwm2m_version or "1.0",
                binding=query.binding or "U",
                address=address,
                objects=objects,
                node=self.node,
            )
        else:
            await self._db(
                registrations.refuse_unknown,
                uow=self.c.uow(),
                clock=self.c.clock,
                endpoint=query.endpoint,
                address=address,
            )
        if registration is None:
            self.unknown_refused += 1
            metrics.LWM2M_REFUSED.labels("unknown_endpoint").inc()
            log.warning("refused registration of unknown endpoint %r from %s", query.endpoint, address)
            raise coap_error.Forbidden()
        metrics.LWM2M_REGISTRATIONS.labels("register").inc()
        metrics.CHECKINS.inc()
        self.registered.seen(registration.device_id, registration.location, registration.expires_at)
        self.start_session(registration.device_id, address, registered=True, remote=self._session_remote(request))
        return Message(code=CREATED, location_path=("rd", registration.location))

    def _write_check_ins(self, check_ins: Any) -> list[CheckInResult]:
        return registrations.check_in_many(
            uow=self.c.uow(), clock=self.c.clock, check_ins=check_ins, allow_nosec=self.allow_nosec
        )

    async def update(self, request: Message, location: str) -> Message:
        query = parse_query(request.opt.uri_query)
        objects = _objects(request.payload) if request.payload else None
        over_dtls = request.remote.scheme == "coaps"
        claim = claim_of(request.remote)
        result = await self.check_ins.submit(
            CheckIn(
                location=location,
                lifetime=query.lifetime,
                binding=query.binding,
                address=request.remote.hostinfo,
                objects=objects,
                over_dtls=over_dtls,
                dtls_device_id=claim.device_id if claim is not None else None,
            )
        )
        if result.refused is not None:
            self._refused(request, result.refused, location=location)
        registration = result.registration
        if registration is None:
            raise coap_error.NotFound()
        metrics.LWM2M_REGISTRATIONS.labels("update").inc()
        metrics.CHECKINS.inc()
        self.registered.seen(registration.device_id, location, registration.expires_at)
        self.start_session(
            registration.device_id,
            request.remote.hostinfo,
            registered=False,
            remote=self._session_remote(request),
            assignment=result.assignment,
            assignment_known=True,
            here=registration.node == self.node,
        )
        return Message(code=CHANGED)

    async def deregister(self, request: Message, location: str) -> Message:
        await self._admit(request, location=location)
        if not await self._db(registrations.deregister, uow=self.c.uow(), location=location):
            raise coap_error.NotFound()
        metrics.LWM2M_REGISTRATIONS.labels("deregister").inc()
        self.registered.gone(location)
        return Message(code=DELETED)

    # --- firmware download --------------------------------------------------------------------------------

    async def download(self, request: Message, token: str) -> Message:
        package = await self.packages.package(token)
        if package is None:
            raise coap_error.NotFound()
        if not self.gate.admit(token):
            return Message(code=Code.SERVICE_UNAVAILABLE, max_age=30, payload=b"too many downloads; retry later")
        requested = request.opt.block2
        szx = requested.size_exponent if requested is not None else min(6, request.remote.maximum_block_size_exp)
        number = requested.block_number if requested is not None else 0
        sliced = block(package.data, number, 2 ** (szx + 4))
        if sliced is None:
            raise coap_error.BadOption()
        chunk, more = sliced
        if not more:
            self.gate.finished(token)
        metrics.record_download("coap", len(chunk), complete=not more)
        response = Message(code=CONTENT, payload=chunk, content_format=AiocoapContentFormat(42), etag=package.etag)
        if more or number > 0 or requested is not None:
            response.opt.block2 = BlockOption.BlockwiseTuple(number, more, szx)
        if number == 0:
            response.opt.size2 = len(package.data)
        return response


def _coaps_url(coap_base_url: str, port: int) -> str:
    """The coaps:// twin of the public CoAP URL: same host, the coaps port."""
    host = urlsplit(coap_base_url).hostname or "127.0.0.1"
    return f"coaps://{f'[{host}]' if ':' in host else host}:{port}"


def _objects(payload: bytes) -> str:
    if len(payload) > MAX_REGISTRATION_PAYLOAD:
        raise RegistrationError("registration payload too large")
    text = payload.decode("utf-8", "strict") if payload else ""
    try:
        parse_link_format(text)
    except CodecError as error:
        raise RegistrationError(f"bad link-format payload: {error}") from None
    return text


class _Root(Resource):  # type: ignore[misc]
    """Dispatches by path; Block2 of downloads is sliced here, statelessly, at the size the device asks."""

    def __init__(self, server: Lwm2mServer) -> None:
        self.server = server

    async def needs_blockwise_assembly(self, request: Message) -> bool:
        return bool(request.opt.uri_path[:1] != ("fw",))

    async def render(self, request: Message) -> Message:
        path = request.opt.uri_path
        if len(path) == 2 and path[0] == "rd" and request.code.name == "POST":
            # A registration Update joins a batched transaction and, refused, writes nothing: it is let in while
            # its address has tokens and charged only when refused. Reserving a token for each one in flight
            # would refuse a fleet behind one address whenever more than the burst of them wait for one batch.
            host = _host(request)
            if not self.server.refusals.admits(host):
                metrics.LWM2M_REFUSED.labels("rate_limited").inc()
                return Message(code=Code.SERVICE_UNAVAILABLE, max_age=REFUSAL_MAX_AGE, payload=b"too many refusals")
            try:
                response = await self._render(request, path)
            except BaseException:
                self.server.refusals.charge(host)
                raise
            if not response.code.is_successful():
                self.server.refusals.charge(host)
            return response
        if path[:1] == ("rd",):
            host = _host(request)
            if not self.server.refusals.reserve(host):
                metrics.LWM2M_REFUSED.labels("rate_limited").inc()
                return Message(code=Code.SERVICE_UNAVAILABLE, max_age=REFUSAL_MAX_AGE, payload=b"too many refusals")
            response = await self._render(request, path)  # a refusal raised here keeps the token taken
            if response.code.is_successful():
                self.server.refusals.give_back(host)
            return response
        return await self._render(request, path)

    async def _render(self, request: Message, path: tuple[str, ...]) -> Message:
        code = request.code
        try:
            if path == ("rd",) and code.name == "POST":
                return await self.server.register(request)
            if len(path) == 2 and path[0] == "rd" and code.name == "POST":
                return await self.server.update(request, path[1])
            if len(path) == 2 and path[0] == "rd" and code.name == "DELETE":
                return await self.server.deregister(request, path[1])
            if len(path) == 2 and path[0] == "fw" and code.name == "GET":
                return await self.server.download(request, path[1])
        except (RegistrationError, UnicodeDecodeError) as error:
            metrics.LWM2M_REFUSED.labels("bad_request").inc()
            return Message(code=BAD_REQUEST, payload=str(error).encode()[:200])
        if path[:1] in (("rd",), ("fw",)):
            raise coap_error.UnsupportedMethod()
        raise coap_error.NotFound()
