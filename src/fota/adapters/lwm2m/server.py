"""The LwM2M server endpoint: the registration interface (/rd) and firmware downloads (/fw/<token>) over CoAP.

Each check-in (Register or Update) starts a device session in the background; one session per device at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any

from aiocoap import BAD_REQUEST, CHANGED, CONTENT, CREATED, DELETED, Context, Message
from aiocoap import error as coap_error
from aiocoap.interfaces import Resource
from aiocoap.numbers.codes import Code
from aiocoap.numbers.contentformat import ContentFormat as AiocoapContentFormat
from aiocoap.optiontypes import BlockOption

from fota.adapters import metrics
from fota.adapters.lwm2m.codec import CodecError, parse_link_format
from fota.adapters.lwm2m.device_client import DeviceClient
from fota.adapters.lwm2m.downloads import DownloadGate, PackageStore, block
from fota.adapters.lwm2m.registration import DEFAULT_LIFETIME, RegistrationError, device_id_of, parse_query
from fota.adapters.lwm2m.session import DeviceSession, SessionConfig
from fota.bootstrap import Container
from fota.services import registrations

log = logging.getLogger(__name__)

MAX_REGISTRATION_PAYLOAD = 4096


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
        self.config = SessionConfig(coap_base_url=coap_base_url, http_base_url=http_base_url)
        self.gate = gate
        self.packages = packages
        self.context: Context | None = None
        self.sessions: dict[str, asyncio.Task[None]] = {}
        self.unknown_refused = 0
        self.registered = metrics.RegisteredDevices()

    async def start(self) -> None:
        # UDP only: aiocoap would also listen for CoAP over TCP on the same port number, which LwM2M 1.0/1.1
        # devices here do not use and which may collide with other TCP services.
        self.context = await Context.create_server_context(
            _Root(self), bind=(self.host, self.port), transports=["udp6"]
        )
        metrics.LWM2M_REGISTERED_DEVICES.set_function(lambda: self.registered.count(self.c.clock.now()))

    async def stop(self) -> None:
        for task in list(self.sessions.values()):
            task.cancel()
        for task in list(self.sessions.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.context is not None:
            await self.context.shutdown()
            self.context = None

    def start_session(self, device_id: str, address: str, *, registered: bool) -> None:
        running = self.sessions.get(device_id)
        if running is not None and not running.done():
            if not registered:
                return  # the running session is still working with this awake device
            running.cancel()  # a fresh registration (e.g. after a reboot) supersedes it
        assert self.context is not None
        session = DeviceSession(self.c, DeviceClient(self.context, address), device_id, self.config)
        task = asyncio.create_task(session.run(registered=registered), name=f"lwm2m-session-{device_id}")
        self.sessions[device_id] = task
        task.add_done_callback(lambda t: self._forget(device_id, t))

    def _forget(self, device_id: str, task: asyncio.Task[None]) -> None:
        if self.sessions.get(device_id) is task:
            del self.sessions[device_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("session of %s failed", device_id, exc_info=task.exception())

    async def _db(self, function: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(function, **kwargs)

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
        self.start_session(registration.device_id, address, registered=True)
        return Message(code=CREATED, location_path=("rd", registration.location))

    async def update(self, request: Message, location: str) -> Message:
        query = parse_query(request.opt.uri_query)
        objects = _objects(request.payload) if request.payload else None
        registration = await self._db(
            registrations.update,
            uow=self.c.uow(),
            clock=self.c.clock,
            location=location,
            lifetime=query.lifetime,
            binding=query.binding,
            address=request.remote.hostinfo,
            objects=objects,
        )
        if registration is None:
            raise coap_error.NotFound()
        metrics.LWM2M_REGISTRATIONS.labels("update").inc()
        metrics.CHECKINS.inc()
        self.registered.seen(registration.device_id, location, registration.expires_at)
        self.start_session(registration.device_id, request.remote.hostinfo, registered=False)
        return Message(code=CHANGED)

    async def deregister(self, location: str) -> Message:
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
        code = request.code
        try:
            if path == ("rd",) and code.name == "POST":
                return await self.server.register(request)
            if len(path) == 2 and path[0] == "rd" and code.name == "POST":
                return await self.server.update(request, path[1])
            if len(path) == 2 and path[0] == "rd" and code.name == "DELETE":
                return await self.server.deregister(path[1])
            if len(path) == 2 and path[0] == "fw" and code.name == "GET":
                return await self.server.download(request, path[1])
        except (RegistrationError, UnicodeDecodeError) as error:
            metrics.LWM2M_REFUSED.labels("bad_request").inc()
            return Message(code=BAD_REQUEST, payload=str(error).encode()[:200])
        if path[:1] in (("rd",), ("fw",)):
            raise coap_error.UnsupportedMethod()
        raise coap_error.NotFound()
