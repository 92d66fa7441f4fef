"""The LwM2M server's CoAP resource: each request to its interface by path and method, the registration interface's
behind the refusal budget."""

from __future__ import annotations

from aiocoap import BAD_REQUEST, Message
from aiocoap import error as coap_error
from aiocoap.interfaces import Resource

from fota.adapters import metrics
from fota.adapters.lwm2m.block_downloads import BlockDownloads
from fota.adapters.lwm2m.refusal_gate import RefusalGate
from fota.adapters.lwm2m.registration import RegistrationError
from fota.adapters.lwm2m.registration_interface import RegistrationInterface


class Dispatcher(Resource):  # type: ignore[misc]
    """`/rd` and `/rd/<location>` to the registration interface, `/fw/<token>` to Block2 downloads, which skip
    aiocoap's blockwise assembly: their blocks are sliced at the size the device asks."""

    def __init__(self, registrations: RegistrationInterface, downloads: BlockDownloads, gate: RefusalGate) -> None:
        self.registrations = registrations
        self.downloads = downloads
        self.gate = gate

    async def needs_blockwise_assembly(self, request: Message) -> bool:
        return bool(request.opt.uri_path[:1] != ("fw",))

    async def render(self, request: Message) -> Message:
        path = request.opt.uri_path
        if len(path) == 2 and path[0] == "rd" and request.code.name == "POST":
            return await self.gate.charging_refusals(request, lambda: self._render(request, path))
        if path[:1] == ("rd",):
            return await self.gate.reserving(request, lambda: self._render(request, path))
        return await self._render(request, path)

    async def _render(self, request: Message, path: tuple[str, ...]) -> Message:
        code = request.code
        try:
            if path == ("rd",) and code.name == "POST":
                return await self.registrations.register(request)
            if len(path) == 2 and path[0] == "rd" and code.name == "POST":
                return await self.registrations.update(request, path[1])
            if len(path) == 2 and path[0] == "rd" and code.name == "DELETE":
                return await self.registrations.deregister(request, path[1])
            if len(path) == 2 and path[0] == "fw" and code.name == "GET":
                return await self.downloads.download(request, path[1])
        except (RegistrationError, UnicodeDecodeError) as error:
            metrics.LWM2M_REFUSED.labels("bad_request").inc()
            return Message(code=BAD_REQUEST, payload=str(error).encode()[:200])
        if path[:1] in (("rd",), ("fw",)):
            raise coap_error.UnsupportedMethod()
        raise coap_error.NotFound()
