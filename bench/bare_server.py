"""The HTTP baseline: a bare FastAPI app in its own process answering fixed bytes from an async route.

It has none of fota's middleware, database or background work, and runs under the same uvicorn options and worker
count as `fota serve`, so `fota / bare` is the share of the framework's real ceiling that a fota route reaches.

    python bench/bare_server.py --port 9001 --bodies DIR [--workers N]   # GET/POST /b/NAME: the bytes of DIR/NAME
"""

from __future__ import annotations

import argparse
import multiprocessing
import signal
import socket
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


def serve(host: str, port: int, bodies: dict[str, bytes], loop: str, shared_port: bool) -> None:
    # The options `fota serve` gives uvicorn; asyncio's loop where fota runs its LwM2M server, as every benchmark
    # starts it, and uvloop for the API-only workers of --workers (src/fota/runtime/serving.py). httptools in both.
    config = uvicorn.Config(
        build(bodies), host=host, port=port, log_config=None, access_log=False, log_level="warning", loop=loop
    )
    sockets = None
    if shared_port:  # as fota's --workers binds them (src/fota/runtime/workers.py)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sockets = [sock]
    uvicorn.Server(config).run(sockets=sockets)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bodies", type=Path, required=True, help="folder of files, each served as /b/<file name>")
    parser.add_argument("--workers", type=int, default=1, help="processes on the port, like fota serve --workers")
    args = parser.parse_args()
    bodies = {path.name: path.read_bytes() for path in args.bodies.iterdir()}
    if args.workers == 1:
        serve(args.host, args.port, bodies, "asyncio", shared_port=False)
        return
    # fota's first worker runs the LwM2M server (asyncio), the others the API alone (uvloop).
    loops = ["asyncio"] + ["uvloop"] * (args.workers - 1)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=serve, args=(args.host, args.port, bodies, loop, True)) for loop in loops]
    for worker in workers:
        worker.start()

    def stop(_signum: int, _frame: object) -> None:
        for worker in workers:
            worker.terminate()

    signal.signal(signal.SIGTERM, stop)
    for worker in workers:
        worker.join()


if __name__ == "__main__":
    main()
