"""`fota serve --workers N` on PostgreSQL: N processes answer on one HTTP port, which the kernel spreads connections
over (SO_REUSEPORT). The first runs every role asked for; the others run the API alone, so the LwM2M server, its
UDP ports and the engine's loops stay in one process. The parent only starts them, passes a stop on, and stops them
all when one ends (a supervisor such as systemd then restarts the whole)."""

from __future__ import annotations

import multiprocessing
import signal
import socket
from dataclasses import dataclass, replace
from multiprocessing.connection import wait
from types import FrameType

from fota.adapters.logging_setup import LogFormat
from fota.adapters.logging_setup import configure as configure_logging
from fota.runtime.process import build
from fota.runtime.serving import serve
from fota.runtime.settings import Role, Settings

STOP_SECONDS = 30.0  # how long a worker gets to finish its requests once asked to stop


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker process needs to start: handed over by pickling, so plain values only."""

    settings: Settings
    host: str
    port: int
    log_level: str
    log_format: LogFormat | None
    base_url: str


def worker_settings(settings: Settings, index: int) -> Settings:
    """The first worker's roles are the ones asked for; the others serve the API. A simulated clock is kept in the
    database, where every worker reads the same time."""
    roles = settings.roles if index == 0 else frozenset({Role.API})
    return replace(settings, roles=roles, shared_clock=settings.shared_clock or settings.simulated_clock)


def listening_socket(host: str, port: int) -> socket.socket:
    """The HTTP socket, bound with SO_REUSEPORT so that every worker binds its own on the same port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def run_worker(spec: WorkerSpec) -> None:
    """A worker process's entry point (multiprocessing's spawn start method imports this module anew)."""
    configure_logging(level=spec.log_level, log_format=spec.log_format)
    process = build(spec.settings)
    serve(
        process,
        host=spec.host,
        port=spec.port,
        log_level=spec.log_level,
        demo=False,
        base_url=spec.base_url,
        sock=listening_socket(spec.host, spec.port),
    )


def supervise(specs: list[WorkerSpec]) -> int:
    """Starts one process per spec and waits; returns the exit code of the first that ends (0 after a stop)."""
    # Spawned, not forked: a worker builds its own engine, pools and threads from nothing.
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=run_worker, args=(spec,), name=f"fota-worker-{n}") for n, spec in enumerate(specs)
    ]
    asked_to_stop = False

    def terminate_all() -> None:
        for worker in workers:
            if worker.pid is not None and worker.exitcode is None:
                worker.terminate()  # SIGTERM: uvicorn finishes its requests and runs the lifespan's shutdown

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        nonlocal asked_to_stop
        asked_to_stop = True
        terminate_all()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for worker in workers:
            worker.start()
        # A signal may cut the wait short before any worker has ended: wait again until one has.
        while all(worker.exitcode is None for worker in workers):
            wait([worker.sentinel for worker in workers], timeout=1.0)
        first = next(worker for worker in workers if worker.exitcode is not None)
        terminate_all()
        for worker in workers:
            worker.join(STOP_SECONDS)
            if worker.exitcode is None:
                worker.kill()
                worker.join()
        if asked_to_stop:
            return 0
        # A worker that ended by itself is a failure of the whole, whatever its code.
        return first.exitcode if first.exitcode else 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
