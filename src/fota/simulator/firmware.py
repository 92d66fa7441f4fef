"""The LwM2M Firmware Update object (/5/0) of a simulated client: its state machine, pull downloads and push receipt.

Behaviour follows OMA object 5 (v1.0/v1.1) and what Anjay's fw_update module does where the text leaves room.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import logging
from collections.abc import Callable, Collection
from urllib.parse import urlsplit

import aiocoap
import httpx
from aiocoap.optiontypes import BlockOption

from fota.simulator.content import Path, Value
from fota.simulator.datagram_blocks import BlockReply, DatagramBlocks, ExchangeFailed
from fota.simulator.faults import Fault
from fota.simulator.package import PackageError, UnsupportedPackage, parse_image

_log = logging.getLogger(__name__)


class State(enum.IntEnum):
    IDLE = 0
    DOWNLOADING = 1
    DOWNLOADED = 2
    UPDATING = 3


class Result(enum.IntEnum):
    INITIAL = 0
    SUCCESS = 1
    NOT_ENOUGH_FLASH = 2
    OUT_OF_RAM = 3
    CONNECTION_LOST = 4
    INTEGRITY_FAILURE = 5
    UNSUPPORTED_PACKAGE = 6
    INVALID_URI = 7
    UPDATE_FAILED = 8
    UNSUPPORTED_PROTOCOL = 9


class Delivery(enum.IntEnum):
    """Resource 9, Firmware Update Delivery Method."""

    PULL = 0
    PUSH = 1
    BOTH = 2


class Protocol(enum.IntEnum):
    """Resource 8, Firmware Update Protocol Support."""

    COAP = 0
    COAPS = 1
    HTTP = 2
    HTTPS = 3
    COAP_TCP = 4
    COAP_TLS = 5


SCHEMES = {
    "coap": Protocol.COAP,
    "coaps": Protocol.COAPS,
    "http": Protocol.HTTP,
    "https": Protocol.HTTPS,
    "coap+tcp": Protocol.COAP_TCP,
    "coaps+tcp": Protocol.COAP_TLS,
}
# What this simulator can actually fetch with; CoAP over TCP is not simulated. CoAPS works only for a device
# configured with a PSK (DeviceConfig.psk_identity/psk_key), whose context holds the credentials.
IMPLEMENTED_PROTOCOLS = frozenset({Protocol.COAP, Protocol.COAPS, Protocol.HTTP, Protocol.HTTPS})
PACKAGE_NAME = "fota-sim"


class Refused(Exception):
    """The client refuses a request with this CoAP response code (e.g. 4.05 Method Not Allowed)."""

    def __init__(self, code: aiocoap.Code, reason: str) -> None:
        super().__init__(reason)
        self.code = code


class _TransferFailed(Exception):
    def __init__(self, result: Result, reason: str) -> None:
        super().__init__(reason)
        self.result = result


def block_exponent(size: int) -> int:
    """CoAP SZX for a block size of 16..1024 bytes."""
    if size not in (16, 32, 64, 128, 256, 512, 1024):
        raise ValueError(f"block size must be a power of two from 16 to 1024, got {size}")
    return size.bit_length() - 5


class _AiocoapBlocks:
    """The blocks of one download as requests of the device's aiocoap context."""

    def __init__(self, context: aiocoap.Context, uri: str, timeout: float) -> None:
        self._context = context
        self._uri = uri
        self._timeout = timeout
        self._plain = urlsplit(uri).scheme.lower() == "coap"
        self._remote: object | None = None  # the server's address once known: later blocks skip resolving the URI

    async def get(self, number: int, exponent: int) -> BlockReply:
        try:
            request = aiocoap.Message(code=aiocoap.GET, uri=self._uri)
        except (ValueError, aiocoap.error.Error) as exc:
            raise _TransferFailed(Result.INVALID_URI, f"bad URI {self._uri!r}: {exc}") from exc
        if self._remote is not None:
            request.remote = self._remote
        request.opt.block2 = BlockOption.BlockwiseTuple(number, False, exponent)
        try:
            response = await asyncio.wait_for(
                self._context.request(request, handle_blockwise=False).response, self._timeout
            )
        except aiocoap.error.ResolutionError as exc:
            raise _TransferFailed(Result.INVALID_URI, f"cannot resolve {self._uri!r}") from exc
        if self._plain:
            self._remote = response.remote
        opt = response.opt
        return BlockReply(int(response.code), bytes(response.payload), opt.block2, opt.etag, opt.max_age)

    def close(self) -> None:
        pass


class FirmwareUpdate:
    """Object 5 instance 0; `on_change` receives the changed paths so observers get notified."""

    def __init__(
        self,
        *,
        protocols: Collection[Protocol],
        delivery: Delivery,
        block_size: int,
        faults: Collection[Fault],
        coap_context: Callable[[], aiocoap.Context],
        on_change: Callable[[set[Path]], None],
        on_execute: Callable[[], None],
        record: Callable[[str, str], None],
        transfer_timeout: float = 30.0,
        busy_budget: float = 300.0,
        http_verify: bool = True,
        datagram_downloads: bool = False,
    ) -> None:
        unsupported = set(protocols) - IMPLEMENTED_PROTOCOLS
        if unsupported:
            raise ValueError(f"the simulator cannot download over {sorted(p.name for p in unsupported)}")
        self.protocols = tuple(sorted(set(protocols)))
        self.delivery = delivery
        self.block_exponent = block_exponent(block_size)
        self.faults = frozenset(faults)
        self._coap_context = coap_context
        self._on_change = on_change
        self._on_execute = on_execute
        self._record = record
        self._timeout = transfer_timeout
        self._busy_budget = busy_budget
        self._http_verify = http_verify
        self._datagram_downloads = datagram_downloads
        self.state = State.IDLE
        self.result = Result.INITIAL
        self.package_uri = ""
        self.received = 0  # package bytes received: pulled blocks or chunks (resent ones again), whole pushes
        self.pkg_name = ""
        self.pkg_version = ""
        self.last_package_sha256: str | None = None  # of the last package that verified; kept across reboots
        self.staged_version: str | None = None
        self.executions = 0
        self._pushing = False
        self._download: asyncio.Task[None] | None = None

    # --- the data model ---------------------------------------------------------------------------------------------

    def values(self) -> dict[Path, Value]:
        """Every readable resource of /5/0 (Package and Update are write- and execute-only)."""
        values: dict[Path, Value] = {
            (5, 0, 1): self.package_uri,
            (5, 0, 3): int(self.state),
            (5, 0, 5): int(self.result),
            (5, 0, 6): self.pkg_name,
            (5, 0, 7): self.pkg_version,
            (5, 0, 9): int(self.delivery),
        }
        for index, protocol in enumerate(self.protocols):
            values[(5, 0, 8, index)] = int(protocol)
        return values

    def _set(self, state: State, result: Result) -> None:
        changed: set[Path] = set()
        if state != self.state:
            changed.add((5, 0, 3))
        if result != self.result:
            changed.add((5, 0, 5))
        self.state, self.result = state, result
        if changed:
            self._record("fu-state", f"state={int(state)} result={int(result)}")
            self._on_change(changed)

    def _reset(self) -> None:
        """Writing an empty Package URI or a lone NUL Package: back to Idle, result 0, image dropped."""
        self._cancel_download()
        self._pushing = False
        self.staged_version = None
        self.pkg_name = self.pkg_version = ""
        self.package_uri = ""
        self._on_change({(5, 0, 1), (5, 0, 6), (5, 0, 7)})
        self._set(State.IDLE, Result.INITIAL)

    # --- pull: Package URI ------------------------------------------------------------------------------------------

    def write_package_uri(self, uri: str) -> None:
        if not uri:
            if self.state is State.UPDATING:
                raise Refused(aiocoap.METHOD_NOT_ALLOWED, "cannot cancel while updating")
            self._reset()
            return
        if self.delivery is Delivery.PUSH:
            raise Refused(aiocoap.METHOD_NOT_ALLOWED, "this device takes firmware by push only")
        if self.state is not State.IDLE:
            raise Refused(aiocoap.BAD_REQUEST, f"a Package URI is accepted in state Idle, not {self.state.name}")
        protocol = SCHEMES.get(urlsplit(uri).scheme.lower())
        if protocol is None or protocol not in self.protocols:
            # As Anjay does: the write fails and Update Result says why (spec: 9 for an unsupported scheme).
            self._set(State.IDLE, Result.UNSUPPORTED_PROTOCOL)
            raise Refused(aiocoap.BAD_REQUEST, f"unsupported download protocol in {uri!r}")
        self.package_uri = uri
        self._on_change({(5, 0, 1)})
        self._set(State.DOWNLOADING, Result.INITIAL)
        self._download = asyncio.create_task(self._pull(uri, protocol), name=f"download {uri}")

    async def _pull(self, uri: str, protocol: Protocol) -> None:
        self._record("download-start", uri)
        try:
            if not urlsplit(uri).hostname:
                raise _TransferFailed(Result.INVALID_URI, f"no host in {uri!r}")
            # coaps:// goes through the same aiocoap context, which holds the device's PSK for the server.
            coap = protocol in (Protocol.COAP, Protocol.COAPS)
            data = await (self._coap_get(uri) if coap else self._http_get(uri))
        except _TransferFailed as failure:
            self._record("download-failed", f"{failure} (result {int(failure.result)})")
            self._set(State.IDLE, failure.result)
            return
        self._record("download-done", f"{len(data)} bytes")
        self._verify_and_stage(data)

    async def _coap_get(self, uri: str) -> bytes:
        """Block-wise GET (RFC 7959) at the configured block size, following a smaller size if the server picks one.

        Each block is one aiocoap request of the device's context, or, for a coap:// URI on a device configured with
        `datagram_downloads`, one request written by hand on a socket of the download's own (datagram_blocks.py).
        """
        blocks: _AiocoapBlocks | DatagramBlocks
        if self._datagram_downloads and urlsplit(uri).scheme.lower() == "coap":
            try:
                blocks = await DatagramBlocks(uri, timeout=self._timeout).open()
            except ValueError as exc:
                raise _TransferFailed(Result.INVALID_URI, f"bad URI {uri!r}: {exc}") from exc
            except OSError as exc:  # socket.gaierror among them
                raise _TransferFailed(Result.INVALID_URI, f"cannot resolve {uri!r}: {exc}") from exc
        else:
            blocks = _AiocoapBlocks(self._coap_context(), uri, self._timeout)
        try:
            return await self._read_blocks(uri, blocks)
        finally:
            blocks.close()

    async def _read_blocks(self, uri: str, blocks: _AiocoapBlocks | DatagramBlocks) -> bytes:
        exponent = self.block_exponent
        data = bytearray()
        etag: bytes | None = None
        loop = asyncio.get_running_loop()
        busy_until = loop.time() + self._busy_budget  # how long 5.03 answers are waited out, in all
        while True:
            number = len(data) >> (exponent + 4)
            try:
                response = await blocks.get(number, exponent)
            except (TimeoutError, aiocoap.error.Error, OSError, ExchangeFailed) as exc:
                raise _TransferFailed(Result.CONNECTION_LOST, f"CoAP transfer broke: {exc!r}") from exc
            if response.code == aiocoap.NOT_FOUND:
                raise _TransferFailed(Result.INVALID_URI, f"{uri} answered 4.04")
            if response.code == aiocoap.SERVICE_UNAVAILABLE:
                # The server is busy and says when to come back (Max-Age, RFC 7252 5.9.3.4): wait and ask for the
                # same block again, within the transfer's budget, as a device that wants its update does.
                wait = float(response.max_age if response.max_age is not None else 60)
                if loop.time() + wait > busy_until:
                    raise _TransferFailed(Result.CONNECTION_LOST, f"{uri} answered 5.03 for too long")
                self._record("download-busy", f"5.03 at block {number}; retrying in {wait:g}s")
                await asyncio.sleep(wait)
                continue
            if not response.successful:
                raise _TransferFailed(Result.CONNECTION_LOST, f"{uri} answered {aiocoap.Code(response.code)}")
            block = response.block2
            if block is None:
                if data:
                    raise _TransferFailed(Result.CONNECTION_LOST, "server stopped answering block-wise")
                self.received += len(response.payload)
                return bytes(response.payload)
            if block.start != len(data) or (block.more and len(response.payload) != block.size):
                raise _TransferFailed(Result.CONNECTION_LOST, f"unexpected block {block} at offset {len(data)}")
            if etag is None:
                etag = response.etag
            elif response.etag != etag:
                raise _TransferFailed(Result.CONNECTION_LOST, "the image changed during the download (ETag)")
            data += response.payload
            self.received += len(response.payload)
            if not block.more:
                return bytes(data)
            if Fault.DROP_DOWNLOAD in self.faults:
                raise _TransferFailed(Result.CONNECTION_LOST, "injected fault: connection dropped mid-download")
            exponent = min(exponent, block.size_exponent)

    async def _http_get(self, uri: str) -> bytes:
        data = bytearray()
        try:
            async with (
                httpx.AsyncClient(verify=self._http_verify, timeout=self._timeout) as client,
                client.stream("GET", uri) as response,
            ):
                if response.status_code == 404:
                    raise _TransferFailed(Result.INVALID_URI, f"{uri} answered 404")
                if not response.is_success:
                    raise _TransferFailed(Result.CONNECTION_LOST, f"{uri} answered {response.status_code}")
                async for chunk in response.aiter_bytes():
                    data += chunk
                    self.received += len(chunk)
                    if Fault.DROP_DOWNLOAD in self.faults:
                        raise _TransferFailed(Result.CONNECTION_LOST, "injected fault: connection dropped")
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise _TransferFailed(Result.INVALID_URI, f"bad URI {uri!r}: {exc}") from exc
        except (httpx.HTTPError, OSError) as exc:
            raise _TransferFailed(Result.CONNECTION_LOST, f"HTTP transfer broke: {exc!r}") from exc
        return bytes(data)

    def _cancel_download(self) -> None:
        if self._download is not None and not self._download.done():
            self._download.cancel()
        self._download = None

    # --- push: Package ----------------------------------------------------------------------------------------------

    def reset_by_package(self) -> None:
        if self.state is State.UPDATING:
            raise Refused(aiocoap.METHOD_NOT_ALLOWED, "cannot reset while updating")
        self._reset()

    def begin_push(self) -> None:
        """The first block of a Package write arrived (a repeated first block restarts the transfer)."""
        if self.state is State.UPDATING:
            raise Refused(aiocoap.METHOD_NOT_ALLOWED, "cannot write Package while updating")
        if self.delivery is Delivery.PULL:
            raise Refused(aiocoap.METHOD_NOT_ALLOWED, "this device takes firmware by pull only")
        if self.state is not State.IDLE and not self._pushing:
            raise Refused(aiocoap.BAD_REQUEST, f"a Package write is accepted in state Idle, not {self.state.name}")
        self._pushing = True
        self._record("push-start", "")
        self._set(State.DOWNLOADING, Result.INITIAL)

    def push_progress(self) -> bool:
        """A block was stored; False means the injected drop fault ends the transfer here."""
        if Fault.DROP_DOWNLOAD in self.faults:
            self.abort_push("injected fault: connection dropped mid-push")
            return False
        return True

    def abort_push(self, reason: str) -> None:
        if self._pushing:
            self._pushing = False
            self._record("push-failed", reason)
            self._set(State.IDLE, Result.CONNECTION_LOST)

    def finish_push(self, data: bytes) -> None:
        self._pushing = False
        self._record("push-done", f"{len(data)} bytes")
        self.received += len(data)
        self._verify_and_stage(data)

    # --- verification, Update and reboot ----------------------------------------------------------------------------

    def _verify_and_stage(self, data: bytes) -> None:
        if Fault.CORRUPT in self.faults and data:
            data = data[:-1] + bytes([data[-1] ^ 0xFF])  # the last byte is body, so the header still parses
        try:
            if Fault.UNSUPPORTED_PACKAGE in self.faults:
                raise UnsupportedPackage("injected fault: package type not supported")
            version = parse_image(data)
        except PackageError as exc:
            self._record("verify-failed", str(exc))
            self._set(State.IDLE, Result(exc.update_result))
            return
        self.staged_version = version
        self.last_package_sha256 = hashlib.sha256(data).hexdigest()
        self.pkg_name, self.pkg_version = PACKAGE_NAME, version
        self._on_change({(5, 0, 6), (5, 0, 7)})
        self._set(State.DOWNLOADED, Result.INITIAL)

    def execute_update(self) -> None:
        if self.state is not State.DOWNLOADED:
            raise Refused(
                aiocoap.METHOD_NOT_ALLOWED, f"Update is executable in state Downloaded, not {self.state.name}"
            )
        self.executions += 1
        self._set(State.UPDATING, Result.INITIAL)
        self._on_execute()

    def complete_update(self, installed: str) -> str:
        """Called when the device comes back from the Update reboot; returns the firmware it now runs."""
        new = self.staged_version or installed
        if Fault.UPDATE_FAILS in self.faults:
            new, result = installed, Result.UPDATE_FAILED
        elif Fault.OLD_FIRMWARE in self.faults:
            new, result = installed, Result.SUCCESS  # the lie under test: success claimed, old version running
        else:
            result = Result.SUCCESS
        # After the reboot the staged image is gone (it was installed, or discarded as unusable).
        self.staged_version = None
        self.package_uri = ""
        self.state, self.result = State.IDLE, result
        return new

    def after_plain_reboot(self) -> None:
        """A reboot that was not an Update: a download in progress is lost, a downloaded image survives."""
        self._cancel_download()
        self._pushing = False
        if self.state is State.DOWNLOADING:
            self.state, self.result = State.IDLE, Result.CONNECTION_LOST

    async def close(self) -> None:
        task, self._download = self._download, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
