"""Requests the server sends to one registered device (Device Management interface): read, write, execute,
observe, and a block-wise push that adapts to the block size the device asks for."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiocoap import CHANGED, CONTINUE, GET, POST, PUT, REQUEST_ENTITY_TOO_LARGE, Context, Message
from aiocoap.numbers.contentformat import ContentFormat as AiocoapContentFormat
from aiocoap.optiontypes import BlockOption

from fota.adapters.lwm2m.codec import CodecError, ContentFormat, Path, Value, decode_content

log = logging.getLogger(__name__)


class DeviceUnreachable(Exception):
    """The device did not answer in time, or answered with an error."""


class DeviceClient:
    """Requests to one device at `address`; over DTLS, `remote` is the device's DTLS session, which every request
    must reuse (the server cannot open a DTLS session towards a device, and a new one would not be authenticated).
    Over plain CoAP `remote`, when given, is the device's UDP address as its check-in arrived: requests go there
    without resolving `address` each time.
    """

    def __init__(self, context: Context, address: str, *, timeout: float = 15.0, remote: Any = None) -> None:
        self.context = context
        self.address = address
        self.timeout = timeout
        self.remote = remote

    def _uri(self, path: Path) -> str:
        scheme = "coaps" if self.remote is not None and self.remote.scheme == "coaps" else "coap"
        return f"{scheme}://{self.address}/" + "/".join(str(p) for p in path)

    def _message(self, code: Any, path: Path, **kwargs: Any) -> Message:
        message = Message(code=code, uri=self._uri(path), **kwargs)
        if self.remote is not None:
            message.remote = self.remote
        return message

    async def _send(self, message: Message, *, handle_blockwise: bool = True) -> Message:
        try:
            response: Message = await asyncio.wait_for(
                self.context.request(message, handle_blockwise=handle_blockwise).response, self.timeout
            )
        except (TimeoutError, OSError) as error:
            raise DeviceUnreachable(f"{self.address}: {error.__class__.__name__} {error}") from None
        except Exception as error:  # aiocoap raises its own error types for network and protocol failures
            raise DeviceUnreachable(f"{self.address}: {error.__class__.__name__} {error}") from None
        return response

    async def read(self, path: Path) -> dict[Path, Value]:
        response = await self._send(self._message(GET, path))
        if not response.code.is_successful():
            raise DeviceUnreachable(f"read {path} answered {response.code}")
        fmt = response.opt.content_format
        content_format = int(fmt) if fmt is not None else int(ContentFormat.TEXT)
        try:
            return decode_content(response.payload, content_format, path)
        except CodecError as error:
            raise DeviceUnreachable(f"read {path}: undecodable payload ({error})") from None

    async def read_value(self, path: Path) -> Value | None:
        return (await self.read(path)).get(path)

    async def write_text(self, path: Path, text: str) -> None:
        message = self._message(PUT, path, payload=text.encode(), content_format=AiocoapContentFormat(0))
        response = await self._send(message)
        if response.code is not CHANGED and not response.code.is_successful():
            raise DeviceUnreachable(f"write {path} answered {response.code}")

    async def execute(self, path: Path) -> None:
        response = await self._send(self._message(POST, path))
        if not response.code.is_successful():
            raise DeviceUnreachable(f"execute {path} answered {response.code}")

    async def push(self, path: Path, data: bytes, *, size_exponent: int = 6) -> None:
        """Block-wise PUT (RFC 7959 Block1). A device may answer 4.13 with the block size it wants, or a 2.31
        Continue with a smaller one: either way go on at that size (aiocoap's own Block1 handling gives up on 4.13)."""
        offset = 0
        szx = size_exponent
        while True:
            size = 2 ** (szx + 4)
            chunk = data[offset : offset + size]
            more = offset + size < len(data)
            message = self._message(
                PUT,
                path,
                payload=chunk,
                content_format=AiocoapContentFormat(42),
                block1=BlockOption.BlockwiseTuple(offset // size, more, szx),
            )
            if offset == 0:
                message.opt.size1 = len(data)
            response = await self._send(message, handle_blockwise=False)
            if response.code == REQUEST_ENTITY_TOO_LARGE:
                wanted = response.opt.block1.size_exponent if response.opt.block1 is not None else szx - 1
                if wanted >= szx or wanted < 0:
                    raise DeviceUnreachable(f"push {path}: device refuses {size}-byte blocks")
                szx, offset = wanted, 0  # start over at the size the device asked for
                continue
            if not response.code.is_successful():
                raise DeviceUnreachable(f"push {path} block at {offset} answered {response.code}")
            if (
                response.code == CONTINUE
                and response.opt.block1 is not None
                and response.opt.block1.size_exponent < szx
            ):
                szx = response.opt.block1.size_exponent  # continue after what was sent, in smaller blocks
            offset += len(chunk)
            if not more:
                return

    @contextlib.asynccontextmanager
    async def observe(self, path: Path) -> AsyncIterator[asyncio.Queue[Value | None]]:
        """Observes a resource; yields a queue of its values (the first is the current one)."""
        queue: asyncio.Queue[Value | None] = asyncio.Queue()
        request = self.context.request(self._message(GET, path, observe=0))

        def put(message: Message) -> None:
            fmt = message.opt.content_format
            try:
                decoded = decode_content(message.payload, int(fmt) if fmt is not None else 0, path)
            except CodecError:
                return
            queue.put_nowait(decoded.get(path))

        async def pump() -> None:
            try:
                first = await asyncio.wait_for(request.response, self.timeout)
                if first.code.is_successful():
                    put(first)
                async for notification in request.observation:
                    put(notification)
            except Exception as error:  # an observation ends in many ways; the caller falls back to reads
                log.debug("observation of %s on %s ended: %s", path, self.address, error)

        task = asyncio.create_task(pump())
        try:
            yield queue
        finally:
            task.cancel()
            with contextlib.suppress(Exception):
                request.observation.cancel()


def as_int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, bytes) and value:
        return int.from_bytes(value, "big", signed=True)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value)
    return default
