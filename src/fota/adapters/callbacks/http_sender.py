"""The callback sender port over httpx: one POST, 5 s to connect, 10 s in all, no redirects, 1 KiB of answer read.

Sends run on a private event loop thread so the 10 s bound covers the whole exchange (httpx's sync timeouts are per
socket operation, so a receiver dripping bytes could hold a sync request far longer).

The connection goes to the address the outbound policy checked, never to a fresh resolution of the name (DNS
rebinding): the request URL carries that address while `Host` and TLS SNI, and so certificate verification, keep
the registered name.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Mapping

import httpx

from fota import __version__
from fota.domain.outbound import Target

MAX_ANSWER_BYTES = 1024
MAX_CLIENTS = 64  # hosts with a connection pool kept; the least recently used one is closed past this


class HttpCallbackSender:
    def __init__(self, *, connect_timeout: float = 5.0, total_timeout: float = 10.0) -> None:
        self.connect_timeout = connect_timeout
        self.total_timeout = total_timeout
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        # One client per registered host: the pool is keyed by the address connected to, so a shared one could
        # reuse a TLS session verified for one name for a request to another name on the same address.
        self._clients: OrderedDict[str, httpx.AsyncClient] = OrderedDict()

    def _started(self) -> asyncio.AbstractEventLoop:
        # Started on first use, so processes that never send (CLI, tests of other parts) start no thread.
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="fota-callback-sender", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def send(self, target: Target, body: bytes, headers: Mapping[str, str]) -> tuple[int | None, str | None]:
        loop = self._started()
        # The margin only matters at shutdown, when the loop may stop under a pending send.
        future = asyncio.run_coroutine_threadsafe(self._send(target, body, dict(headers)), loop)
        return future.result(timeout=self.total_timeout + 5)

    async def _client(self, host: str) -> httpx.AsyncClient:
        client = self._clients.get(host)
        if client is None:
            client = self._clients[host] = httpx.AsyncClient(
                timeout=httpx.Timeout(self.total_timeout, connect=self.connect_timeout),
                follow_redirects=False,
                headers={"User-Agent": f"fota/{__version__}"},
            )
            if len(self._clients) > MAX_CLIENTS:
                _, oldest = self._clients.popitem(last=False)
                await oldest.aclose()
        else:
            self._clients.move_to_end(host)
        return client

    async def _send(self, target: Target, body: bytes, headers: dict[str, str]) -> tuple[int | None, str | None]:
        client = await self._client(target.destination.host)
        url = httpx.URL(target.destination.url)
        host_header = url.netloc.decode("ascii")
        answer = bytearray()
        try:
            async with asyncio.timeout(self.total_timeout):
                for index, address in enumerate(target.addresses):
                    pinned = url.copy_with(host=address)
                    request = client.build_request(
                        "POST",
                        pinned,
                        content=body,
                        headers={**headers, "Host": host_header},
                        extensions={"sni_hostname": url.host},
                    )
                    try:
                        response = await client.send(request, stream=True)
                    except httpx.ConnectError:
                        if index + 1 < len(target.addresses):
                            continue  # the next checked address of the same name
                        raise
                    try:
                        async for chunk in response.aiter_raw():
                            answer += chunk
                            if len(answer) >= MAX_ANSWER_BYTES:
                                break  # the rest is not read; closing the stream drops the connection
                    finally:
                        await response.aclose()
                    break
        except TimeoutError:
            return None, f"no answer within {self.total_timeout:g} s"
        except httpx.HTTPError as error:
            return None, f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        if 200 <= response.status_code < 300:
            return response.status_code, None
        if response.is_redirect:
            location = response.headers.get("Location", "")[:200]
            return response.status_code, f"HTTP {response.status_code}: redirect to {location!r} not followed"
        text = bytes(answer[:MAX_ANSWER_BYTES]).decode("utf-8", "replace").strip()
        error_text = f"HTTP {response.status_code}" + (f": {text[:200]}" if text else "")
        return response.status_code, error_text

    def close(self) -> None:
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return
        clients, self._clients = list(self._clients.values()), OrderedDict()
        for client in clients:
            asyncio.run_coroutine_threadsafe(client.aclose(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
