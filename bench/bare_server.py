"""The HTTP baseline: a bare FastAPI app in its own process answering fixed bytes from an async route.

It has none of fota's middleware, database or background work, and runs under the same uvicorn options and worker
count as `fota serve`, so `fota / bare` is the share of the framework's real ceiling that a fota route reaches.

    python bench/bare_server.py --port 9001 --bodies DIR    # GET/POST /b/NAME answers the bytes of DIR/NAME
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Response


def build(bodies: dict[str, bytes]) -> FastAPI:
    app = FastAPI()

    async def answer(name: str) -> Response:
        return Response(bodies[name], media_type="application/json")

    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.add_api_route("/b/{name}", answer, methods=["GET", "POST"])
    app.add_api_route("/healthz", healthz, methods=["GET"])
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bodies", type=Path, required=True, help="folder of files, each served as /b/<file name>")
    args = parser.parse_args()
    bodies = {path.name: path.read_bytes() for path in args.bodies.iterdir()}
    # The options `fota serve` passes to uvicorn.run, one worker like it; asyncio's loop, which fota takes when it
    # runs its LwM2M server, as every benchmark starts it (src/fota/runtime/serve.py). httptools parses HTTP in both.
    uvicorn.run(
        build(bodies),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        log_level="warning",
        loop="asyncio",
    )


if __name__ == "__main__":
    main()
