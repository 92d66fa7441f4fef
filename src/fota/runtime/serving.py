"""`fota serve`'s process: the app of a built process under uvicorn, with the demo provisioned and its fleet beside
it when asked."""

from __future__ import annotations

import contextlib
import socket
import sys

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from fota.runtime import collector
from fota.runtime.api import api_app
from fota.runtime.process import Process
from fota.runtime.roles import BackgroundService


def serve(
    process: Process,
    *,
    host: str,
    port: int,
    log_level: str,
    demo: bool,
    base_url: str,
    sock: socket.socket | None = None,
) -> None:
    """Runs until interrupted. `base_url`: where a person on this machine reaches the API (printed by the demo)."""
    background: list[BackgroundService] = []
    if demo:
        # Imported here: the demo brings the device simulator along, which a server without --demo never loads.
        from fota.adapters.cli.demo import DemoFleet, DemoProgress, provision_demo

        campaign_id = provision_demo(process.services, admin_token=process.admin_token, base_url=base_url)
        coap_port = process.settings.coap_port
        if coap_port is not None:
            background.append(DemoFleet(f"coap://127.0.0.1:{coap_port}"))
        background.append(DemoProgress(process.services, campaign_id))
    # log_config=None: uvicorn keeps the handlers configured by `fota serve` instead of installing its own format.
    # access_log=False: the HTTP middleware writes the access log, with the route template and the request id.
    # loop: aiocoap stops reading its socket on uvloop after a malformed datagram (tests/faults/test_malformed_coap.py),
    # so a process with a CoAP server keeps asyncio's loop; an API or engine process takes uvloop (ADR 30).
    config = uvicorn.Config(
        api_app(process, background=background),
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        loop="asyncio" if process.settings.serves_coap else "auto",
        log_config=None,
    )
    collector.tune()
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        # `sock`: a socket bound for this process beside others on the same port (runtime/workers.py).
        server.run(sockets=[sock] if sock is not None else None)
    if not server.started:
        sys.exit(STARTUP_FAILURE)  # as uvicorn.run does: the port was taken, or the lifespan failed
