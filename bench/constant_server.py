"""`fota serve` plus one benchmark-only route: the same app and process, answering a constant JSON body.

Started by `bench/api.py` as a subprocess (so the load generator does not share its event loop). The constant route
is mounted here, never in src/: `GET /bench/constant/{async|sync}/{size}` returns `size` bytes of JSON prepared once,
through the same middleware stack as every real route. `async` is the framework's ceiling; `sync` adds the thread
pool hop that FastAPI gives every plain `def` route (as the real campaign routes are), to separate that cost.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import uvicorn
from fastapi import Response

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fota.adapters.http.app import create_app
from fota.adapters.logging_setup import configure as configure_logging
from fota.bootstrap import Settings, build

_bodies: dict[int, bytes] = {}


def _body(size: int) -> bytes:
    """A valid JSON object of exactly `size` bytes (for size >= 16), built once per size."""
    if size not in _bodies:
        skeleton = json.dumps({"pad": ""}, separators=(",", ":")).encode()
        _bodies[size] = json.dumps({"pad": "x" * max(0, size - len(skeleton))}, separators=(",", ":")).encode()
    return _bodies[size]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--coap-port", type=int, required=True)
    args = parser.parse_args()
    configure_logging(level="warning", log_format="text")
    settings = Settings.from_environment(simulated_clock=True, coap_host="127.0.0.1", coap_port=args.coap_port)
    app = create_app(build(settings))

    async def constant_async(size: int) -> Response:
        return Response(_body(size), media_type="application/json")

    def constant_sync(size: int) -> Response:
        return Response(_body(size), media_type="application/json")

    app.add_api_route("/bench/constant/async/{size}", constant_async, methods=["GET"])
    app.add_api_route("/bench/constant/sync/{size}", constant_sync, methods=["GET"])
    # Same uvicorn settings as `fota serve` where they matter: one process, no access log.
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
