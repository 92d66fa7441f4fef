"""A device that closed its socket (it rebooted) leaves an ICMP error on the server's socket, which Linux reports on
the next send to anyone: that send is made again instead of failing the device it was for (docs/adr/0045)."""

from __future__ import annotations

import asyncio
import errno
import socket
from typing import Any

import aiocoap
import pytest
from aiocoap import resource

from fota.adapters import metrics
from fota.adapters.lwm2m.codec import datagrams as wire
from fota.adapters.lwm2m.send_errors import SEND_TRIES, send_past_earlier_errors, sending_past_earlier_errors

TOKEN_D, TOKEN_L = b"dd", b"ll"


class Held(resource.Resource):  # type: ignore[misc]
    """Answers every GET once `release` is set, so that two answers go out back to back."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.waiting = 0

    async def render_get(self, request: aiocoap.Message) -> aiocoap.Message:
        self.waiting += 1
        await self.release.wait()
        return aiocoap.Message(code=aiocoap.CONTENT, payload=b"answer")


def _get(mid: int, token: bytes) -> bytes:
    return wire.header_bytes(wire.CON, wire.GET, mid, token) + wire.encoded_options([(wire.URI_PATH, b"held")])


async def _receive(sock: socket.socket, token: bytes, timeout: float = 10.0) -> tuple[int, int, int, bytes]:
    """The next datagram on `sock` with `token` (an empty ACK has none): its type, code, message ID and token."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(timeout):
        while True:
            data = await loop.sock_recv(sock, 2048)
            found = wire.header(data)
            if found[3] == token:
                return found


async def _two_answers_back_to_back(*, fixed: bool, wait: float) -> tuple[int, int, int, bytes] | None:
    site = resource.Site()
    held = Held()
    site.add_resource(["held"], held)
    context = await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", 0), transports=["udp6"])
    if fixed:
        send_past_earlier_errors(context)
    endpoint: Any = context.request_interfaces[0].token_interface.message_interface
    port = endpoint.transport.get_extra_info("socket").getsockname()[1]
    gone, listening = (socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2))
    try:
        for sock in (gone, listening):
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
        gone.sendto(_get(1, TOKEN_D), ("127.0.0.1", port))
        while held.waiting < 1:
            await asyncio.sleep(0.01)
        listening.sendto(_get(2, TOKEN_L), ("127.0.0.1", port))
        # Both are acknowledged empty (a separate response follows: aiocoap's EMPTY_ACK_DELAY has passed).
        assert (await _receive(gone, b""))[:3] == (wire.ACK, 0, 1)
        assert (await _receive(listening, b""))[:3] == (wire.ACK, 0, 2)
        gone.close()  # the device reboots: the answer to it draws ICMP port unreachable, before the next one goes
        held.release.set()
        try:
            return await _receive(listening, TOKEN_L, timeout=wait)
        except TimeoutError:
            return None
    finally:
        listening.close()
        await context.shutdown()


def test_an_answer_after_one_to_a_closed_port_still_reaches_its_device() -> None:
    repeated = metrics.COAP_SENDS_REPEATED._value.get()
    answer = asyncio.run(_two_answers_back_to_back(fixed=True, wait=10.0))
    assert answer is not None and answer[:2] == (wire.CON, wire.CONTENT)
    assert metrics.COAP_SENDS_REPEATED._value.get() > repeated


def test_without_it_aiocoap_drops_that_answer_for_good() -> None:
    """What the server does without the wrapper: the separate response is lost and never retransmitted, where a
    lost one would be again within ACK_TIMEOUT x ACK_RANDOM_FACTOR (3 s). It shows that the test above measures what
    it claims, and it fails the day aiocoap stops blaming the wrong device."""
    assert asyncio.run(_two_answers_back_to_back(fixed=False, wait=6.0)) is None


class _Socket:
    def __init__(self, *errors: int) -> None:
        self.errors = list(errors)
        self.sent = 0

    def sendmsg(self, buffers: Any, ancdata: Any, flags: int, address: Any) -> int:
        if self.errors:
            code = self.errors.pop(0)
            raise OSError(code, errno.errorcode[code])
        self.sent += 1
        return 1


@pytest.mark.parametrize("earlier", [errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN])
def test_each_kind_of_icmp_error_pending_is_sent_past(earlier: int) -> None:
    handed: list[bytes] = []
    sock = _Socket(earlier, earlier)
    sending_past_earlier_errors(sock, lambda data, *_: handed.append(data))(b"x", [], 0, ("::1", 5683, 0, 0))
    assert sock.sent == 1 and handed == []


def test_an_error_of_the_send_itself_goes_to_aiocoap() -> None:
    handed: list[bytes] = []
    sock = _Socket(errno.EMSGSIZE)
    sending_past_earlier_errors(sock, lambda data, *_: handed.append(data))(b"x", [], 0, ("::1", 5683, 0, 0))
    assert sock.sent == 0 and handed == [b"x"]


def test_an_unreachable_error_that_outlasts_the_tries_is_this_sends_own() -> None:
    handed: list[bytes] = []
    sock = _Socket(*[errno.EHOSTUNREACH] * SEND_TRIES)
    sending_past_earlier_errors(sock, lambda data, *_: handed.append(data))(b"x", [], 0, ("::1", 5683, 0, 0))
    assert sock.sent == 0 and handed == [b"x"]
