"""Sends on a plain-UDP CoAP socket that fail with the error of an earlier datagram: sent again, not blamed on the
device they were for (docs/adr/0045).

aiocoap sets IP_RECVERR on its socket to read each ICMP error, with the address that caused it, from the error
queue. Linux then also reports that error once on the socket's next send, whatever its destination, and drops that
datagram. aiocoap 0.4.17 (the pinned version) blames such an error on the device that send was for: it fails that
device's requests and exchanges, so a separate response to a device that is listening is never retransmitted.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from typing import Any

from aiocoap import Context
from aiocoap.transports.udp6 import MessageInterfaceUDP6

from fota.adapters import metrics

log = logging.getLogger(__name__)

# What an ICMP error leaves pending on the socket (RFC 1122 3.2.2.1: port, host and network unreachable).
EARLIER_ERRORS = frozenset({errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN})
# Each failed send takes one pending error off the socket; an error that survives this many belongs to this send.
SEND_TRIES = 4

Send = Callable[[bytes, list[Any], int, Any], None]


def send_past_earlier_errors(context: Context) -> None:
    """Wraps the send of the context's plain-UDP endpoints (CoAP over DTLS has its own socket and keeps aiocoap's)."""
    for interface in context.request_interfaces:
        endpoint = getattr(getattr(interface, "token_interface", None), "message_interface", None)
        if isinstance(endpoint, MessageInterfaceUDP6):
            transport = endpoint.transport
            transport.sendmsg = sending_past_earlier_errors(transport.get_extra_info("socket"), transport.sendmsg)


def sending_past_earlier_errors(sock: Any, send: Send) -> Send:
    """A `sendmsg` that writes to `sock` directly, again while the write fails with an earlier datagram's error; after
    SEND_TRIES - 1 such failures, or on any other error, the datagram goes through `send` (aiocoap's transport
    method, which hands the error to aiocoap)."""

    def sendmsg(data: bytes, ancdata: list[Any], flags: int, address: Any) -> None:
        for _ in range(SEND_TRIES - 1):
            try:
                sock.sendmsg((data,), ancdata, flags, address)
                return
            except OSError as error:
                if error.errno not in EARLIER_ERRORS:
                    break
                metrics.COAP_SENDS_REPEATED.inc()
                log.debug("a send to %s took an earlier datagram's error (%s): sent again", address, error)
        send(data, ancdata, flags, address)

    return sendmsg
