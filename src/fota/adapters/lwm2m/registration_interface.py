"""The LwM2M registration interface (/rd): Register, Update and De-register, each admitted by the device-side
security rules, and each check-in handed to the device's session.

Every check-in passes `services.device_security`'s admission (docs/adr/0010-dtls-psk.md): over DTLS the PSK
identity must belong to the registering device; plain CoAP is refused for psk-mode devices and, unless the operator
passed --allow-nosec, for everyone.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, NoReturn

from aiocoap import CHANGED, CREATED, DELETED, Message
from aiocoap import error as coap_error

from fota.adapters import metrics
from fota.adapters.batching import Batcher
from fota.adapters.lwm2m.codec import CodecError, parse_link_format
from fota.adapters.lwm2m.dtls import claim_of
from fota.adapters.lwm2m.registration import DEFAULT_LIFETIME, RegistrationError, device_id_of, parse_query
from fota.adapters.lwm2m.session_registry import SessionRegistry
from fota.services import device_security, registrations
from fota.services.context import ServiceContext
from fota.services.registrations import CheckIn, CheckInResult

log = logging.getLogger(__name__)

MAX_REGISTRATION_PAYLOAD = 4096


class RegistrationInterface:
    def __init__(
        self,
        services: ServiceContext,
        *,
        node: str,
        allow_nosec: bool,
        sessions: SessionRegistry,
        registered: metrics.RegisteredDevices,
    ) -> None:
        self.services = services
        self.node = node
        self.allow_nosec = allow_nosec
        self.sessions = sessions
        self.registered = registered
        self.unknown_refused = 0
        self.refused_security = 0
        # Registration Updates (the fleet's periodic check-ins) are admitted, recorded and answered with the
        # device's work in batched transactions: one per burst, not one per message.
        self.check_ins: Batcher[CheckIn, CheckInResult] = Batcher(self._write_check_ins, name="lwm2m-check-ins")

    async def close(self) -> None:
        await self.check_ins.close()

    async def _db(self, function: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(function, **kwargs)

    async def _admit(self, request: Message, *, device_id: str | None = None, location: str | None = None) -> None:
        """Raises 4.03 unless this channel (plain CoAP, or DTLS as some device) may check in for the device."""
        over_dtls = request.remote.scheme == "coaps"
        claim = claim_of(request.remote)
        reason = await self._db(
            device_security.admission_refusal,
            uow=self.services.reader(),
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
                uow=self.services.uow(),
                clock=self.services.clock,
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
                uow=self.services.uow(),
                clock=self.services.clock,
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
        self.sessions.start(registration.device_id, address, registered=True, remote=self._session_remote(request))
        return Message(code=CREATED, location_path=("rd", registration.location))

    def _write_check_ins(self, check_ins: Any) -> list[CheckInResult]:
        return registrations.check_in_many(
            uow=self.services.uow(), clock=self.services.clock, check_ins=check_ins, allow_nosec=self.allow_nosec
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
        self.sessions.start(
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
        if not await self._db(registrations.deregister, uow=self.services.uow(), location=location):
            raise coap_error.NotFound()
        metrics.LWM2M_REGISTRATIONS.labels("deregister").inc()
        self.registered.gone(location)
        return Message(code=DELETED)


def _objects(payload: bytes) -> str:
    if len(payload) > MAX_REGISTRATION_PAYLOAD:
        raise RegistrationError("registration payload too large")
    text = payload.decode("utf-8", "strict") if payload else ""
    try:
        parse_link_format(text)
    except CodecError as error:
        raise RegistrationError(f"bad link-format payload: {error}") from None
    return text
