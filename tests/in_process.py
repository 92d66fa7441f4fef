"""The API in this process: the ASGI app behind Starlette's TestClient, with its lifespan (the engine and outbox
loops, PostgreSQL's notification listener) running in the client's event loop thread, and no LwM2M server.

Tests that need no socket drive it exactly as they drive `fota serve` (tests/fota_server.py), minus the start-up
of a process and the network round trips. `build_app` is the one place that composes it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.testclient import TestClient

from fota import runtime
from fota.runtime import Settings
from tests.cheap_hasher import CheapArgon2Hasher
from tests.fota_server import FotaServer

BASE_URL = "http://testserver"
CALLBACK_ALLOWANCE = {"callback_allow": "127.0.0.0/8,::1,.example.com", "callback_allow_http": True}


def build_app(settings: Settings) -> FastAPI:
    """The process `fota serve` would build from these settings, as an ASGI app (the one composition for tests)."""
    process = runtime.build(settings)
    process = replace(process, services=replace(process.services, hasher=CheapArgon2Hasher()))
    return runtime.api_app(process)


class SharedTransport(httpx.BaseTransport):
    """The entered TestClient's transport, hence its event loop and running lifespan, for any number of clients.

    Closing one client must not close the TestClient's transport: that would end the responses other threads are
    still reading. The TestClient closes it when the server stops."""

    def __init__(self, test_client: TestClient) -> None:
        self._inner = test_client._transport

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._inner.handle_request(request)

    def close(self) -> None:
        pass


@dataclass
class InProcessServer(FotaServer):
    test_client: TestClient = field(kw_only=True)
    shared_transport: SharedTransport = field(init=False)

    def __post_init__(self) -> None:
        self.shared_transport = SharedTransport(self.test_client)
        super().__post_init__()

    def transport(self) -> httpx.BaseTransport:
        return self.shared_transport

    def stop(self) -> None:
        self.close_clients()
        self.test_client.__exit__(None, None, None)


def start_in_process_server(backend: str, database_url: str, **settings: Any) -> InProcessServer:
    """`settings` override the Settings fields (e.g. `require_signed_firmware=True`); the environment's FOTA_*
    variables apply as they do to `fota serve`."""
    admin_token = secrets.token_urlsafe(24)
    values: dict[str, Any] = {
        "database_url": database_url,
        "admin_token": admin_token,
        "simulated_clock": True,
        "coap_port": None,
        "bootstrap_port": 0,
        "allow_nosec": True,
        "secret_key": secrets.token_urlsafe(32),
        "public_http_url": BASE_URL,
        **CALLBACK_ALLOWANCE,
        **settings,
    }
    app = build_app(Settings.from_environment(**values))
    # raise_server_exceptions=False: an unhandled error is a 500 response, as a real server sends it.
    test_client = TestClient(app, base_url=BASE_URL, raise_server_exceptions=False)
    test_client.__enter__()
    return InProcessServer(BASE_URL, admin_token, backend, database_url, test_client=test_client)
