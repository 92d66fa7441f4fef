"""Tuning of the LwM2M server's UDP endpoints for a fleet: a shorter duplicate window, and none for reads, on CoAP
and on CoAP over DTLS alike; a larger receive buffer for the plain-UDP socket.

Both reach into aiocoap 0.4.17 internals (the pinned version): the UDP transport behind the token manager, and the
message manager that de-duplicates incoming confirmable messages.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Any

from aiocoap import GET, Context, Message
from aiocoap.numbers.constants import TransportTuning

log = logging.getLogger(__name__)

# A fleet's check-ins and block requests arrive in bursts on one socket; a datagram the kernel drops for want of
# buffer space costs the device a CoAP retransmission seconds later (ACK_TIMEOUT 2-3 s, doubling). The kernel caps
# the size at net.core.rmem_max.
RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024


class ServerTuning(TransportTuning):  # type: ignore[misc]
    """How long an answered confirmable request is remembered to answer its retransmissions from memory.

    aiocoap keeps every answer, block payload included, for EXCHANGE_LIFETIME: 247 s with RFC 7252's MAX_LATENCY of
    100 s. At a few hundred Block2 requests a second that held over 400 MiB of old answers. A client retransmits for
    MAX_TRANSMIT_SPAN (45 s); with 10 s of one-way latency allowed (NB-IoT's own design target) the window is
    45 + 2 x 10 + 2 = 67 s. A duplicate later than that is handled again, which every request a device sends fota
    tolerates: blocks of an image are reads, and a registration or its update repeated only renews it.
    """

    MAX_LATENCY = 10.0


class ReadTuning(ServerTuning):
    """A GET is not remembered at all. Block reads are nearly every request of a fleet's downloads, and even the
    shorter window held about 100 000 of them (each ~3 KiB with its payload) at 1 500 blocks a second. A read is
    idempotent, so a retransmitted one is simply answered again, as RFC 7252 4.5 allows; serving it costs a slice of
    the cached image, less than remembering it did (docs/adr/0032)."""

    EXCHANGE_LIFETIME = 0.0


SERVER_TUNING = ServerTuning()
READ_TUNING = ReadTuning()


def tune_udp(context: Context) -> None:
    for interface in context.request_interfaces:
        # Token manager -> message manager (de-duplication) -> UDP message interface -> asyncio transport.
        messages = getattr(interface, "token_interface", None)
        if messages is None or not hasattr(messages, "dispatch_message"):
            continue
        _shorten_duplicate_window(messages)
        transport = getattr(getattr(messages, "message_interface", None), "transport", None)
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is not None:
            _enlarge_receive_buffer(sock)


def _shorten_duplicate_window(messages: Any) -> None:
    dispatch: Callable[[Message], None] = messages.dispatch_message

    def dispatch_with_server_tuning(message: Message) -> None:
        # The window is read from the incoming message's tuning when its answer is remembered.
        message.transport_tuning = READ_TUNING if message.code == GET else SERVER_TUNING
        dispatch(message)

    messages.dispatch_message = dispatch_with_server_tuning


def _enlarge_receive_buffer(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
    except OSError as error:
        log.warning("could not enlarge the CoAP receive buffer: %s", error)
        return
    log.info("CoAP receive buffer: %d bytes", sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
