"""The LwM2M server: its CoAP endpoint (and coaps beside it) with the parts behind it, started and stopped together.

The registration interface (/rd) starts a device session in the background at each check-in, one session per
device at a time; firmware downloads (/fw/<token>) are served in Block2 blocks; both sit behind a refusal budget per
address. Device-side security: lwm2m/registration_interface.py and docs/adr/0010-dtls-psk.md.
"""

from __future__ import annotations

import logging
import socket
from urllib.parse import urlsplit

from aiocoap import Context

from fota.adapters import metrics
from fota.adapters.delivery.gate import DownloadGate
from fota.adapters.delivery.packages import PackageStore
from fota.adapters.lwm2m.block_downloads import BlockDownloads
from fota.adapters.lwm2m.coaps import start_coaps
from fota.adapters.lwm2m.credentials import PskCredentials
from fota.adapters.lwm2m.direct_blocks import answer_blocks_directly
from fota.adapters.lwm2m.dispatch import Dispatcher
from fota.adapters.lwm2m.refusal_gate import RefusalGate
from fota.adapters.lwm2m.refusals import RefusalBucket, SharedRefusals
from fota.adapters.lwm2m.registration_interface import RegistrationInterface
from fota.adapters.lwm2m.render_tasks import name_render_tasks_plainly
from fota.adapters.lwm2m.send_errors import send_past_earlier_errors
from fota.adapters.lwm2m.session import SessionConfig
from fota.adapters.lwm2m.session_registry import SessionRegistry
from fota.adapters.lwm2m.udp_tuning import tune_udp
from fota.services.context import ServiceContext

log = logging.getLogger(__name__)


class Lwm2mServer:
    def __init__(
        self,
        services: ServiceContext,
        *,
        host: str,
        port: int,
        coaps_port: int | None,
        packages: PackageStore,
        gate: DownloadGate,
        coap_base_url: str,
        public_coaps_url: str,
        http_base_url: str,
        allow_nosec: bool,
    ) -> None:
        """`coaps_port` None: aiocoap's own convention (and LwM2M's defaults 5683/5684), the CoAP port + 1; 0 turns
        coaps off. `public_coaps_url` empty: the coaps twin of the CoAP URL."""
        self.services = services
        self.host = host
        self.port = port
        self.node = f"{socket.gethostname()}:{port}"
        self.config = SessionConfig(coap_base_url=coap_base_url, http_base_url=http_base_url, node=self.node)
        self.allow_nosec = allow_nosec
        self.coaps_port = port + 1 if coaps_port is None else coaps_port
        self.coaps_base_url = public_coaps_url or _coaps_url(coap_base_url, self.coaps_port)
        self.context: Context | None = None
        self.credentials: PskCredentials | None = None
        self.refusals = RefusalBucket()
        ledger = services.refusal_ledger
        self.shared_refusals = SharedRefusals(self.refusals, ledger) if ledger is not None else None
        self.registered = metrics.RegisteredDevices()
        self.sessions = SessionRegistry(services, self.config, coaps_base_url=self.coaps_base_url, places=gate)
        self.registrations = RegistrationInterface(
            services, node=self.node, allow_nosec=allow_nosec, sessions=self.sessions, registered=self.registered
        )
        self.downloads = BlockDownloads(packages, gate)

    async def start(self) -> None:
        # UDP only: aiocoap would also listen for CoAP over TCP on the same port number, which LwM2M 1.0/1.1
        # devices here do not use and which may collide with other TCP services.
        site = Dispatcher(self.registrations, self.downloads, RefusalGate(self.refusals))
        self.context = await Context.create_server_context(site, bind=(self.host, self.port), transports=["udp6"])
        name_render_tasks_plainly(self.context)
        answer_blocks_directly(self.context, self.downloads)
        send_past_earlier_errors(self.context)
        self.sessions.context = self.context
        if self.shared_refusals is not None:
            self.shared_refusals.start()
        metrics.LWM2M_REGISTERED_DEVICES.set_function(lambda: self.registered.count(self.services.clock.now()))
        self.credentials = await start_coaps(
            self.context,
            host=self.host,
            port=self.coaps_port,
            cipher=self.services.cipher,
            reader=self.services.reader,
        )
        tune_udp(self.context)  # after the coaps transport is added: its message manager de-duplicates as well
        if not self.allow_nosec:
            log.info("plain CoAP (NoSec) devices are refused; start with --allow-nosec to accept them")

    async def stop(self) -> None:
        if self.shared_refusals is not None:
            await self.shared_refusals.stop()
        await self.registrations.close()
        await self.sessions.close()
        if self.context is not None:
            await self.context.shutdown()
            self.context = None


def _coaps_url(coap_base_url: str, port: int) -> str:
    """The coaps:// twin of the public CoAP URL: same host, the coaps port."""
    host = urlsplit(coap_base_url).hostname or "127.0.0.1"
    return f"coaps://{f'[{host}]' if ':' in host else host}:{port}"
