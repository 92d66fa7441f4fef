"""The CoAP face of a simulated client: aiocoap resources for its objects, instances and resources.

Device management per LwM2M: GET reads (or discovers, with Accept link-format), PUT writes or sets attributes,
POST executes a resource or partially updates an instance; every node is observable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import aiocoap
from aiocoap import resource
from aiocoap.optiontypes import BlockOption

from fota.simulator.content import (
    CodecError,
    ContentFormat,
    NotAcceptable,
    Path,
    UnsupportedFormat,
    Value,
    decode_write,
    encode_read,
)
from fota.simulator.firmware import FirmwareUpdate, Refused, block_exponent

PACKAGE: Path = (5, 0, 0)


class ClientModel(Protocol):
    """What the resources need from the device behind them."""

    firmware: FirmwareUpdate

    @property
    def lwm2m_version(self) -> str: ...

    def read(self, path: Path) -> dict[Path, Value]: ...

    def write(self, path: Path, values: Mapping[Path, Value], *, replace: bool) -> None: ...

    def execute(self, path: Path, arguments: bytes) -> None: ...

    def discover(self, path: Path) -> str: ...

    def record(self, kind: str, detail: str) -> None: ...


def _text(path: Path) -> str:
    return "/" + "/".join(str(part) for part in path)


def _answer(code: aiocoap.Code, reason: str = "") -> aiocoap.Message:
    # A diagnostic payload on errors helps whoever reads a packet capture (RFC 7252 §5.5.2).
    return aiocoap.Message(code=code, payload=reason.encode("utf-8"))


class Node(resource.ObservableResource):  # type: ignore[misc, unused-ignore]
    """An object, object instance or resource of the client."""

    def __init__(self, model: ClientModel, path: Path) -> None:
        super().__init__()
        self.model = model
        self.path = path

    async def add_observation(self, request: aiocoap.Message, serverobservation: Any) -> None:
        self.model.record("observe", _text(self.path))
        await super().add_observation(request, serverobservation)

    async def render_get(self, request: aiocoap.Message) -> aiocoap.Message:
        accept = request.opt.accept
        if accept == ContentFormat.LINK_FORMAT:
            self.model.record("discover", _text(self.path))
            return aiocoap.Message(
                code=aiocoap.CONTENT,
                payload=self.model.discover(self.path).encode("ascii"),
                content_format=ContentFormat.LINK_FORMAT,
            )
        try:
            values = self.model.read(self.path)
            payload, content_format = encode_read(values, self.path, accept, self.model.lwm2m_version)
        except Refused as refusal:
            return _answer(refusal.code, str(refusal))
        except NotAcceptable as exc:
            return _answer(aiocoap.NOT_ACCEPTABLE, str(exc))
        kind = "notify" if request.opt.observe == 0 else "read"
        self.model.record(kind, f"{_text(self.path)} ct={int(content_format)}")
        return aiocoap.Message(code=aiocoap.CONTENT, payload=payload, content_format=content_format)

    async def render_put(self, request: aiocoap.Message) -> aiocoap.Message:
        if not request.payload and request.opt.content_format is None and request.opt.uri_query:
            # Write-Attributes (pmin, pmax, ...): accepted; notifications here go out on every change anyway.
            self.model.record("write-attributes", f"{_text(self.path)}?{'&'.join(request.opt.uri_query)}")
            return aiocoap.Message(code=aiocoap.CHANGED)
        return self._write(request, replace=True)

    async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
        if len(self.path) == 3:
            try:
                self.model.execute(self.path, bytes(request.payload))
            except Refused as refusal:
                return _answer(refusal.code, str(refusal))
            return aiocoap.Message(code=aiocoap.CHANGED)
        if len(self.path) == 2:
            return self._write(request, replace=False)
        return _answer(aiocoap.METHOD_NOT_ALLOWED, "POST on an object (Create) is not supported")

    def _write(self, request: aiocoap.Message, *, replace: bool) -> aiocoap.Message:
        try:
            values = decode_write(
                bytes(request.payload), request.opt.content_format, self.path, self.model.lwm2m_version
            )
        except UnsupportedFormat as exc:
            return _answer(aiocoap.UNSUPPORTED_CONTENT_FORMAT, str(exc))
        except CodecError as exc:
            return _answer(aiocoap.BAD_REQUEST, str(exc))
        if any(path[: len(self.path)] != self.path for path in values):
            return _answer(aiocoap.BAD_REQUEST, f"payload names paths outside {_text(self.path)}")
        try:
            self.model.write(self.path, values, replace=replace)
        except Refused as refusal:
            return _answer(refusal.code, str(refusal))
        return aiocoap.Message(code=aiocoap.CHANGED)


class PackageNode(Node):
    """/5/0/0: firmware pushed block-wise (RFC 7959 Block1), received block by block as a constrained device does.

    Blocks larger than `max_block_size` get 4.13 with a Block1 option of the preferred size (RFC 7959 §2.9.3).
    """

    def __init__(self, model: ClientModel, *, max_block_size: int, push_timeout: float) -> None:
        super().__init__(model, PACKAGE)
        self._max_exponent = block_exponent(max_block_size)
        self._max_size = max_block_size
        self._push_timeout = push_timeout
        self._received: bytearray | None = None
        self._watchdog: asyncio.TimerHandle | None = None

    async def needs_blockwise_assembly(self, request: aiocoap.Message) -> bool:
        return False

    async def render_put(self, request: aiocoap.Message) -> aiocoap.Message:
        if request.opt.content_format not in (None, ContentFormat.OPAQUE):
            return _answer(aiocoap.UNSUPPORTED_CONTENT_FORMAT, "Package takes application/octet-stream (42)")
        try:
            return self._receive(request)
        except Refused as refusal:
            self.stop_transfer()
            return _answer(refusal.code, str(refusal))

    async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
        return _answer(aiocoap.METHOD_NOT_ALLOWED, "Package is not executable")

    def _receive(self, request: aiocoap.Message) -> aiocoap.Message:
        firmware = self.model.firmware
        payload = bytes(request.payload)
        block = request.opt.block1
        if block is None:
            if len(payload) > self._max_size:
                return self._too_large(len(payload))
            if payload == b"\0":
                self.model.record("write", "/5/0/0 reset")
                self.stop_transfer()
                firmware.reset_by_package()
                return aiocoap.Message(code=aiocoap.CHANGED)
            self.model.record("write", f"/5/0/0 {len(payload)} bytes")
            firmware.begin_push()
            if not firmware.push_progress():
                return _answer(aiocoap.REQUEST_ENTITY_INCOMPLETE, "transfer dropped")
            firmware.finish_push(payload)
            return aiocoap.Message(code=aiocoap.CHANGED)
        if block.size_exponent > self._max_exponent:
            return self._too_large(block.size)
        if block.more and len(payload) != block.size:
            return _answer(aiocoap.BAD_REQUEST, "a non-final block must fill its block size")
        self.model.record("write-block", f"/5/0/0 block {block.block_number} size {block.size} more={block.more}")
        if block.block_number == 0:
            firmware.begin_push()
            self._received = bytearray()
        elif self._received is None or block.start > len(self._received):
            return _answer(
                aiocoap.REQUEST_ENTITY_INCOMPLETE, f"expected the block at offset {len(self._received or b'')}"
            )
        received = self._received
        assert received is not None
        # A block sent again (a retry with a new message ID) overwrites what it covered.
        del received[block.start :]
        received += payload
        if not firmware.push_progress():
            self.stop_transfer()
            return _answer(aiocoap.REQUEST_ENTITY_INCOMPLETE, "transfer dropped")
        if block.more:
            self._arm_watchdog()
            response = aiocoap.Message(code=aiocoap.CONTINUE)
            response.opt.block1 = BlockOption.BlockwiseTuple(block.block_number, True, block.size_exponent)
            return response
        self.stop_transfer()
        firmware.finish_push(bytes(received))
        response = aiocoap.Message(code=aiocoap.CHANGED)
        response.opt.block1 = BlockOption.BlockwiseTuple(block.block_number, False, block.size_exponent)
        return response

    def _too_large(self, size: int) -> aiocoap.Message:
        self.model.record("write-too-large", f"/5/0/0 {size} bytes > {self._max_size}")
        response = _answer(aiocoap.REQUEST_ENTITY_TOO_LARGE, f"blocks of at most {self._max_size} bytes")
        response.opt.block1 = BlockOption.BlockwiseTuple(0, False, self._max_exponent)
        return response

    def _arm_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._watchdog = asyncio.get_running_loop().call_later(self._push_timeout, self._stalled)

    def _stalled(self) -> None:
        self._watchdog = None
        self._received = None
        self.model.firmware.abort_push(f"no block for {self._push_timeout} s")

    def stop_transfer(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        self._received = None


class ObjectTree:
    """The aiocoap Site of one boot of a device, and the nodes to notify when values change."""

    def __init__(self, model: ClientModel, paths: Iterable[Path], *, max_block_size: int, push_timeout: float) -> None:
        self.site = resource.Site()
        self._nodes: dict[Path, Node] = {}
        for path in paths:
            node: Node
            if path == PACKAGE:
                node = PackageNode(model, max_block_size=max_block_size, push_timeout=push_timeout)
            else:
                node = Node(model, path)
            self._nodes[path] = node
            self.site.add_resource(tuple(str(part) for part in path), node)

    def changed(self, paths: Iterable[Path]) -> None:
        """Notify observers of each changed path and of the instance and object that contain it."""
        touched: dict[Path, Node] = {}
        for path in paths:
            for depth in range(min(len(path), 3), 0, -1):
                node = self._nodes.get(path[:depth])
                if node is not None:
                    touched[path[:depth]] = node
        for node in touched.values():
            node.updated_state()

    def close(self) -> None:
        package = self._nodes.get(PACKAGE)
        if isinstance(package, PackageNode):
            package.stop_transfer()
