"""Firmware downloads over CoAP (`GET /fw/<token>`): each Block2 block sliced statelessly at the size the device
asks, so a download resumes at any block (packages and the download cap: adapters/delivery)."""

from __future__ import annotations

from aiocoap import CONTENT, Message
from aiocoap import error as coap_error
from aiocoap.numbers.codes import Code
from aiocoap.numbers.contentformat import ContentFormat as AiocoapContentFormat
from aiocoap.optiontypes import BlockOption

from fota.adapters import metrics
from fota.adapters.delivery.gate import DownloadGate
from fota.adapters.delivery.packages import PackageStore
from fota.adapters.delivery.slicing import block

# The answer to a block of a download that holds no place at a full limit (docs/adr/0028).
REFUSAL_MAX_AGE = 30
REFUSAL_PAYLOAD = b"too many downloads; retry later"


class BlockDownloads:
    """The aiocoap path for every block; the direct path (lwm2m/direct_blocks.py) shares its bookkeeping, `admitted`
    and `sent`, for the blocks it answers itself."""

    def __init__(self, packages: PackageStore, gate: DownloadGate) -> None:
        self.packages = packages
        self.gate = gate

    def admitted(self, token: str) -> bool:
        if self.gate.admit(token):
            return True
        # A download that holds no place (its start took none, or it was silent past its place) at a full limit: a
        # download under way is never refused here.
        metrics.DOWNLOADS_REFUSED.labels("coap").inc()
        return False

    def sent(self, token: str, size: int, *, more: bool) -> None:
        """A block of `size` bytes goes out; the last one (no `more`) ends the download and frees its place."""
        if not more:
            self.gate.completed(token)
            self.packages.budget.finished(token)
        metrics.record_download("coap", size, complete=not more)

    async def download(self, request: Message, token: str) -> Message:
        found = await self.packages.download(token)
        if found is None:
            raise coap_error.NotFound()
        package, link = found
        if not self.admitted(token):
            return Message(code=Code.SERVICE_UNAVAILABLE, max_age=REFUSAL_MAX_AGE, payload=REFUSAL_PAYLOAD)
        requested = request.opt.block2
        szx = requested.size_exponent if requested is not None else min(6, request.remote.maximum_block_size_exp)
        number = requested.block_number if requested is not None else 0
        size = 2 ** (szx + 4)
        sliced = block(package.data, number, size)
        if sliced is None:
            raise coap_error.BadOption()
        chunk, more = sliced
        if chunk:
            wait = await self.packages.budget.clear(
                token, link, offset=number * size, size=len(chunk), total=len(package.data)
            )
            if wait is not None:
                # The campaign's bytes of this hour are used up: back at the next hour, the same block again.
                self.gate.finished(token)
                metrics.BANDWIDTH_WAITS.labels("coap").inc()
                return Message(code=Code.SERVICE_UNAVAILABLE, max_age=wait.max_age, payload=wait.reason.encode())
        self.sent(token, len(chunk), more=more)
        response = Message(code=CONTENT, payload=chunk, content_format=AiocoapContentFormat(42), etag=package.etag)
        if more or number > 0 or requested is not None:
            response.opt.block2 = BlockOption.BlockwiseTuple(number, more, szx)
        if number == 0:
            response.opt.size2 = len(package.data)
        return response
