"""Tuning of the LwM2M server's UDP endpoints for a fleet: a shorter duplicate window, and for reads only the copies
that arrive while the first is still being answered dropped, on CoAP and on CoAP over DTLS alike; a larger receive
buffer for the plain-UDP socket.

Both reach into aiocoap 0.4.17 internals (the pinned version): the UDP transport behind the token manager, and the
message manager that de-duplicates incoming confirmable messages.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Hashable
from typing import Any

from aiocoap import CON, GET, Context, Message
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

# RFC 7252's MAX_TRANSMIT_SPAN: a client stops retransmitting a confirmable request this long after its first copy.
RETRANSMIT_SPAN_SECONDS = 45.0


class ReadsInProgress:
    """The confirmable reads received and not yet answered, by (remote, message ID), without their payloads.

    A read that is not remembered (ReadTuning) would otherwise be served once more for every retransmission that
    arrives while the first copy still waits its turn: under load a device retransmits after 2-3 s, and each copy
    served twice is work taken from the downloads under way, which makes the next answers later still. RFC 7252 4.5
    asks that a request be processed only once; aiocoap itself ignores such copies while it remembers the request.
    Once answered the key is forgotten, so a copy that arrives later (its answer was lost) is answered again.
    """

    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._since: dict[Hashable, float] = {}
        self._next_sweep = monotonic() + RETRANSMIT_SPAN_SECONDS

    def __len__(self) -> int:
        return len(self._since)

    def arrived(self, key: Hashable) -> bool:
        """Record a read's arrival; True when it is a copy of one still being answered."""
        now = self._monotonic()
        if now >= self._next_sweep:
            self._forget_unanswered(now)
        since = self._since.get(key)
        if since is not None and now - since < RETRANSMIT_SPAN_SECONDS:
            return True
        self._since[key] = now
        return False

    def answered(self, key: Hashable) -> None:
        self._since.pop(key, None)

    def _forget_unanswered(self, now: float) -> None:
        # A read whose answer was never sent (the handler failed before answering, the endpoint shut down) would
        # otherwise stay here for good; past the span no copy of it can arrive.
        self._since = {key: since for key, since in self._since.items() if now - since < RETRANSMIT_SPAN_SECONDS}
        self._next_sweep = now + RETRANSMIT_SPAN_SECONDS


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
    store_response: Callable[[Message], None] = messages._store_response_for_duplicates
    reads = ReadsInProgress()

    def dispatch_with_server_tuning(message: Message) -> None:
        # The window is read from the incoming message's tuning when its answer is remembered.
        if message.code == GET:
            if message.mtype == CON and reads.arrived((message.remote, message.mid)):
                return
            message.transport_tuning = READ_TUNING
        else:
            message.transport_tuning = SERVER_TUNING
        dispatch(message)

    def store_response_and_end_read(message: Message) -> None:
        # Every answer to a confirmable request passes here with the request's message ID, the empty ACK of a
        # separate response included; after either, the device no longer retransmits.
        reads.answered((message.remote, message.mid))
        store_response(message)

    messages.dispatch_message = dispatch_with_server_tuning
    messages._store_response_for_duplicates = store_response_and_end_read


def _enlarge_receive_buffer(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
    except OSError as error:
        log.warning("could not enlarge the CoAP receive buffer: %s", error)
        return
    log.info("CoAP receive buffer: %d bytes", sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
