"""CoAP over DTLS-PSK (coaps://) for the LwM2M server, on aiocoap's tinydtls server transport.

aiocoap 0.4.17 ships `tinydtls_server`, which answers requests but was not written for a server that also sends
requests of its own to the client (LwM2M's Device Management interface does exactly that). This module adapts it,
relying on that pinned version's internals:

- `recognize_remote` accepts the transport's own DTLS connections, so a request addressed to a device's connection
  (the `remote` of its registration) goes back over the same DTLS session; aiocoap's version only recognises
  plain-UDP addresses and the request would find no interface.
- the socket binds exactly the port it is given (aiocoap's adds one to it) and may bind the wildcard address,
  which aiocoap refuses because a multi-homed host might answer from another address than the one asked; on a
  multi-homed host give `--coap-host` a specific address.
- connections are kept in LRU order and the oldest is dropped past a cap: aiocoap defines the cap but never
  applies it, and every rebooted device (new port) would otherwise leave a connection behind for good.

Only PSK with TLS_PSK_WITH_AES_128_CCM_8 is available (tinydtls as DTLSSocket builds it): see
docs/adr/0010-dtls-psk.md.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from aiocoap import Context

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 20_000


def dtls_available() -> bool:
    """Whether DTLSSocket (the optional `dtls` extra) is installed."""
    return importlib.util.find_spec("DTLSSocket") is not None


@dataclass(frozen=True)
class PskClaim:
    """Who a DTLS connection authenticated as: what `find_dtls_psk` hands aiocoap as the connection's claims."""

    device_id: str
    identity: bytes


class PskLookup(Protocol):
    """Credentials for the DTLS server: the key and claim of a PSK identity, KeyError when there is none.

    Called synchronously from inside the handshake, so it must answer quickly (see lwm2m/credentials.py).
    """

    def find_dtls_psk(self, identity: bytes) -> tuple[bytes, PskClaim]: ...


def claim_of(remote: Any) -> PskClaim | None:
    """The PSK claim of a request's remote, or None for plain CoAP (or a DTLS remote without one)."""
    if getattr(remote, "scheme", None) != "coaps":
        return None
    for claim in getattr(remote, "authenticated_claims", None) or ():
        if isinstance(claim, PskClaim):
            return claim
    return None


async def add_dtls_server(context: Context, *, host: str, port: int, credentials: PskLookup) -> None:
    """Adds a coaps listener on (host, port) to `context`, whose site then serves requests over DTLS too."""
    # Imported here: the modules import DTLSSocket, an optional dependency.
    from aiocoap.transports.simplesocketserver import _DatagramServerSocketSimple
    from aiocoap.transports.tinydtls_server import (
        GoingThroughMessageDecryption,
        MessageInterfaceTinyDTLSServer,
        _AddressDTLS,
        _DatagramServerSocketSimpleDTLS,
    )
    from aiocoap.util import hostportjoin

    class ServerSocket(_DatagramServerSocketSimpleDTLS):  # type: ignore[misc]
        max_sockets = MAX_CONNECTIONS

        @classmethod
        async def create(cls, bind: Any, log: Any, loop: Any, message_interface: Any) -> Any:
            ready: asyncio.Future[Any] = loop.create_future()
            wrapped = GoingThroughMessageDecryption(message_interface)
            # No reuse_port: two processes on one port would split a device's DTLS records between them.
            await loop.create_datagram_endpoint(lambda: cls(ready.set_result, wrapped, log), local_addr=bind)
            self = await ready
            self.hostinfo_local = hostportjoin(bind[0], bind[1])
            self._loop = loop
            return self

        def datagram_received(self, data: bytes, sockaddr: Any) -> None:
            if sockaddr not in self._connections:
                self._maybe_purge_sockets()
            super().datagram_received(data, sockaddr)

    assert issubclass(ServerSocket, _DatagramServerSocketSimple)

    class Interface(MessageInterfaceTinyDTLSServer):  # type: ignore[misc]
        _serversocket = ServerSocket

        @classmethod
        async def create_server(cls, bind: Any, ctx: Any, log: Any, loop: Any, server_credentials: Any) -> Any:
            self = cls(ctx, log, loop)
            self._pool = await self._serversocket.create(bind, log, self._loop, self)
            self._pool._server_credentials = server_credentials
            return self

        async def recognize_remote(self, remote: Any) -> bool:
            return isinstance(remote, _AddressDTLS) and remote._protocol is self._pool

    loop = asyncio.get_running_loop()
    # aiocoap 0.4.17 internal (the pinned version): how create_server_context itself adds a transport.
    await context._append_tokenmanaged_messagemanaged_transport(
        lambda manager: Interface.create_server((host, port), manager, context.log, loop, credentials)
    )
