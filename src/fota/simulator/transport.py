"""One device's UDP endpoint: an aiocoap server context on its own socket, gated by LwM2M queue mode.

In queue mode a client listens only for a while after it last sent something; requests arriving while it sleeps
are dropped unanswered, as a device with its radio off would, so the server must wait for the next check-in.

With a PSK the context also gets aiocoap's tinydtls client transport: coaps:// requests open a DTLS session to the
server, and the server's own requests come back over that session (LwM2M's client is the DTLS client).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiocoap
from aiocoap.interfaces import Resource
from aiocoap.transports.udp6 import MessageInterfaceUDP6

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PskCredentials:
    """The device's DTLS-PSK credentials for the coaps:// server at `server` (scheme, host and port)."""

    server: str
    identity: bytes
    key: bytes


class DeviceTransport:
    """An aiocoap context bound to `bind_host`, a fresh port each time it is opened."""

    def __init__(
        self,
        site: Resource,
        *,
        bind_host: str = "127.0.0.1",
        queue_mode: bool = False,
        awake_seconds: float = 93.0,
        on_drop: Callable[[aiocoap.Message], None] | None = None,
        psk: PskCredentials | None = None,
    ) -> None:
        self._site = site
        self._bind_host = bind_host
        self.queue_mode = queue_mode
        self.awake_seconds = awake_seconds
        self._on_drop = on_drop
        self._psk = psk
        # The DTLS session to the server. aiocoap keeps client sessions only while something references them, and
        # the server can reach the device only through it, so the device holds it for as long as it is up.
        self._dtls_session: object | None = None
        self.server_remote: object | None = None  # the plain CoAP server's address, once a response came from it
        self._context: aiocoap.Context | None = None
        self._awake_until = 0.0
        self.address: tuple[str, int] | None = None

    @property
    def context(self) -> aiocoap.Context:
        if self._context is None:
            raise RuntimeError("transport is not open")
        return self._context

    @property
    def is_open(self) -> bool:
        return self._context is not None

    @property
    def awake(self) -> bool:
        """True while the device listens: always outside queue mode, else for awake_seconds after it last sent."""
        if self._context is None:
            return False
        return not self.queue_mode or asyncio.get_running_loop().time() < self._awake_until

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        context = aiocoap.Context(loop=loop, serversite=self._site, loggername=f"{__name__}.coap")
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        try:
            # Bound here rather than by create_server_context, which sets SO_REUSEPORT: with it Linux may hand
            # the same ephemeral port to two sockets and split one device's datagrams between both.
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind((_v6(self._bind_host), 0))
            # aiocoap 0.4.17 internals (the pinned version): the udp6 transport around an already bound socket.
            await context._append_tokenmanaged_messagemanaged_transport(
                lambda manager: MessageInterfaceUDP6._create_transport_endpoint(sock, manager, context.log, loop)
            )
        except BaseException:
            sock.close()
            raise
        if self._psk is not None:
            await self._add_dtls(context)
        manager: Any = context.request_interfaces[0].token_interface
        interface: Any = manager.message_interface
        sockname = interface.transport.get_extra_info("socket").getsockname()
        self.address = (str(sockname[0]).removeprefix("::ffff:"), int(sockname[1]))
        for request_interface in context.request_interfaces:
            manager = request_interface.token_interface
            self._install_gate(manager, manager.message_interface)
        self._context = context

    async def _add_dtls(self, context: aiocoap.Context) -> None:
        from aiocoap.transports.tinydtls import MessageInterfaceTinyDTLS  # needs DTLSSocket (the `dtls` extra)

        assert self._psk is not None
        loop = asyncio.get_running_loop()
        await context._append_tokenmanaged_messagemanaged_transport(
            lambda manager: MessageInterfaceTinyDTLS.create_client_transport_endpoint(manager, context.log, loop)
        )
        # aiocoap's credentials map: the PSK for every coaps:// URI of the server, downloads included.
        context.client_credentials.load_from_dict(
            {
                f"{self._psk.server.rstrip('/')}/*": {
                    "dtls": {"psk": self._psk.key, "client-identity": self._psk.identity}
                }
            }
        )

    def hold_session(self, remote: object) -> None:
        """Keeps the DTLS session a response arrived on (see `_dtls_session`), or the plain CoAP server address:
        later requests are sent to it directly instead of resolving the server's URI again each time."""
        scheme = getattr(remote, "scheme", None)
        if scheme == "coaps":
            self._dtls_session = remote
        elif scheme == "coap":
            self.server_remote = remote

    async def close(self) -> None:
        context, self._context = self._context, None
        self._awake_until = 0.0
        self._dtls_session = None
        self.server_remote = None
        if context is not None:
            await context.shutdown()

    def _install_gate(self, manager: Any, interface: Any) -> None:
        # The message layer is the narrowest place to play dead: below it a dropped CON is neither ACKed nor
        # remembered for deduplication, so the server's retransmission after the next check-in is served afresh.
        dispatch = manager.dispatch_message
        send = interface.send
        loop = asyncio.get_running_loop()

        def gated_dispatch(message: aiocoap.Message) -> None:
            is_request_or_ping = message.code.is_request() or (
                message.code == aiocoap.EMPTY and message.mtype == aiocoap.CON
            )
            if is_request_or_ping and not self.awake:
                if self._on_drop is not None:
                    self._on_drop(message)
                return
            dispatch(message)

        def tracked_send(message: aiocoap.Message) -> None:
            # Anything the device transmits means its radio is on: the listening window restarts from here.
            self._awake_until = loop.time() + self.awake_seconds
            send(message)

        manager.dispatch_message = gated_dispatch
        interface.send = tracked_send


def _v6(host: str) -> str:
    """The dual-stack socket's form of a bind address: IPv4 as v4-mapped IPv6, "0.0.0.0" as "::"."""
    if ":" in host:
        return host
    return "::" if host == "0.0.0.0" else f"::ffff:{host}"  # noqa: S104 - mapping the wildcard, not binding it
