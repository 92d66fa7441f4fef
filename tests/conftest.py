"""Fixtures that run the server, on SQLite and PostgreSQL: in this process through the ASGI app, or as `fota serve`
in another process on free ports where a test needs real sockets or processes (CoAP, DTLS, SDKs, crashes, the CLI);
those are forked from one that has imported fota already (tests/forked_server.py).

`in_process_server` and `server` are shared by a whole backend's tests (each test provisions its own account);
`private_in_process_server` and `private_server` are fresh servers for tests that move the simulated clock far.
"""

from __future__ import annotations

import os
import random
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests import forked_server
from tests.databases import DeferredTeardown, PostgresDatabases, drop
from tests.forked_server import ServerProcess
from tests.fota_server import Account as Account  # many test modules import it from here
from tests.fota_server import FotaServer
from tests.in_process import InProcessServer, start_in_process_server

# A pytest-xdist worker inherits COLUMNS=80 and LINES=24 from the controller, where GNU readline exports them. The
# CLI's rich consoles, made when the CLI modules are imported (after this), would keep that width for good, and the
# CLI tests give each invocation its own COLUMNS.
for _inherited in ("COLUMNS", "LINES"):
    os.environ.pop(_inherited, None)

POSTGRES_ADMIN_URL = os.environ.get("FOTA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = [b for b in os.environ.get("FOTA_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]
# The outbound URL policy refuses loopback and plain http by default; the tests' receivers listen on this machine,
# and some register documentation URLs that never resolve offline. tests/api/test_outbound_policy.py runs without.
OUTBOUND_ALLOWANCE = {"FOTA_CALLBACK_ALLOW": "127.0.0.0/8,::1,.example.com", "FOTA_CALLBACK_ALLOW_HTTP": "1"}
# One per test process (each pytest-xdist worker has its own); the session waits for both at its end.
DATABASES = PostgresDatabases()
TEARDOWN = DeferredTeardown()


def _ephemeral_ports() -> range:
    try:
        low, high = (int(p) for p in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(low, high + 1)


# Test servers listen below the kernel's ephemeral range: a port the kernel hands to some client socket (a device's,
# a resolver's) while a killed server is down would keep it from coming back on the same port.
EPHEMERAL_PORTS = _ephemeral_ports()
SERVER_PORTS = range(10000, min(EPHEMERAL_PORTS.start, 32768))


def _free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    """A port of 127.0.0.1 that is free now, outside the ephemeral range when the range leaves room below it."""
    candidates = SERVER_PORTS if len(SERVER_PORTS) >= 1000 else range(0, 1)
    for _ in range(200):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", random.choice(candidates)))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError("no free port below the ephemeral range")


@dataclass
class RunningServer(FotaServer):
    """`fota serve` in another process (forked: tests/forked_server.py, unless `forked` is off), on free ports of
    127.0.0.1."""

    process: ServerProcess | subprocess.Popen[bytes]
    log_path: Path
    coap_port: int = 0
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    coaps_port: int = 0
    bootstrap_port: int = 0
    bootstrap_coaps_port: int = 0
    forked: bool = True

    @property
    def coap_url(self) -> str:
        return f"coap://127.0.0.1:{self.coap_port}"

    @property
    def coaps_url(self) -> str:
        return f"coaps://127.0.0.1:{self.coaps_port}"

    @property
    def bootstrap_url(self) -> str:
        return f"coap://127.0.0.1:{self.bootstrap_port}"

    @property
    def bootstrap_coaps_url(self) -> str:
        return f"coaps://127.0.0.1:{self.bootstrap_coaps_port}"

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, exactly like a crash."""
        self.process.kill()
        self.process.wait()

    def restart(self) -> None:
        """Starts the same server again, on the same ports and database."""
        process = _launch(
            self.args, self.env, self.log_path.with_suffix(".restart.log"), self.log_path.parent, forked=self.forked
        )
        if process is None:
            raise RuntimeError("the server's ports were taken while it was down")
        self.process = process
        self.log_path = self.log_path.with_suffix(".restart.log")

    def stop(self) -> None:
        self.close_clients()
        self.process.terminate()
        self.wait_for_exit()

    def wait_for_exit(self) -> None:
        """After a SIGTERM: a server that has not exited in 15 s is killed."""
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _postgres_database(*, migrated: bool = True) -> tuple[str, str]:
    """A new database on POSTGRES_ADMIN_URL's cluster (read at each call: a test may point it elsewhere), cloned
    from the migrated template unless `migrated=False`; its name and URL."""
    return DATABASES.create(POSTGRES_ADMIN_URL, migrated=migrated)


def _drop_postgres_database(name: str, after: Callable[[], None] = lambda: None) -> None:
    """Drops it in the background once `after` (e.g. its server's exit) has returned."""
    admin_url = POSTGRES_ADMIN_URL

    def drop_when_unused() -> None:
        after()
        drop(admin_url, name)

    TEARDOWN.defer(drop_when_unused)


def _database_url(backend: str, tmp_path: Path) -> str:
    """A new database: an empty SQLite file in tmp_path (migrating one costs the server about 0.2 s), or a
    fresh PostgreSQL database with the schema already migrated."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'fota.db'}"
    return _postgres_database()[1]


def start_server(
    backend: str,
    tmp_path: Path,
    *extra_args: str,
    simulated_clock: bool = True,
    allow_nosec: bool = True,
    env_overrides: dict[str, str] | None = None,
    forked: bool = True,
) -> RunningServer:
    """`allow_nosec`: the simulated devices of most tests speak plain CoAP, which the server refuses by default.
    `env_overrides` replace (an empty value: unset) the environment's entries, such as OUTBOUND_ALLOWANCE's.
    `forked`: from the test forkserver, with the tests' cheap Argon2id (tests/forked_server.py); else a fresh
    `python -m fota serve` exactly as an operator starts it, which the benchmarks measure."""
    database_url = _database_url(backend, tmp_path)
    admin_token = secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "FOTA_ADMIN_TOKEN": admin_token,
        "FOTA_DATABASE_URL": database_url,
        # Encrypts device PSKs (tests/lwm2m/test_dtls.py provisions some).
        "FOTA_SECRET_KEY": secrets.token_urlsafe(32),
        **OUTBOUND_ALLOWANCE,
        **(env_overrides or {}),
    }
    for attempt in range(5):
        # A free port can be taken by another process between our probe and the server's bind: try new ones.
        port, coap_port, coaps_port = _free_port(), _free_port(socket.SOCK_DGRAM), _free_port(socket.SOCK_DGRAM)
        bootstrap_port, bootstrap_coaps_port = _free_port(socket.SOCK_DGRAM), _free_port(socket.SOCK_DGRAM)
        args = [
            sys.executable,
            "-m",
            "fota",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--coap-host",
            "127.0.0.1",
            "--coap-port",
            str(coap_port),
            "--coaps-port",
            str(coaps_port),
            "--bootstrap-port",
            str(bootstrap_port),
            "--bootstrap-coaps-port",
            str(bootstrap_coaps_port),
            *extra_args,
        ]
        if allow_nosec:
            args.append("--allow-nosec")
        if simulated_clock:
            args.append("--simulated-clock")
        log_path = tmp_path / f"server-{attempt}.log" if attempt else tmp_path / "server.log"
        process = _launch(args, env, log_path, tmp_path, forked=forked)
        if process is not None:
            return RunningServer(
                f"http://127.0.0.1:{port}",
                admin_token,
                backend,
                database_url,
                process,
                log_path,
                coap_port,
                args,
                env,
                coaps_port=coaps_port,
                bootstrap_port=bootstrap_port,
                bootstrap_coaps_port=bootstrap_coaps_port,
                forked=forked,
            )
    raise RuntimeError(f"fota serve could not bind free ports:\n{log_path.read_text()}")


def _launch(
    args: list[str], env: dict[str, str], log_path: Path, cwd: Path, *, forked: bool = True
) -> ServerProcess | subprocess.Popen[bytes] | None:
    """Starts the server and waits until it is healthy; None if it lost a race for its ports."""
    base_url = f"http://127.0.0.1:{args[args.index('--port') + 1]}"
    process: ServerProcess | subprocess.Popen[bytes]
    if forked:
        process = forked_server.start(args, env=env, log_path=log_path, cwd=cwd)
    else:
        with log_path.open("wb") as log:
            process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=cwd)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            output = log_path.read_text()
            if "address already in use" in output.lower():
                return None
            raise RuntimeError(f"fota serve exited with {process.returncode}:\n{output}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"fota serve did not become healthy:\n{log_path.read_text()}")
        time.sleep(0.1)


def _stop_and_cleanup(server: RunningServer | InProcessServer) -> None:
    """Stops the server and drops its database."""
    if isinstance(server, InProcessServer):
        server.stop()
        if server.backend == "postgresql":
            _drop_postgres_database(server.database_url.rsplit("/", 1)[1])
        return
    _retire([server], server.database_url.rsplit("/", 1)[1] if server.backend == "postgresql" else None)


def _retire(servers: list[RunningServer], database: str | None) -> None:
    """Signals every server now; waits for them to exit (one on PostgreSQL takes a second) in the
    background, then drops their PostgreSQL `database`, if any."""
    for server in servers:
        server.close_clients()
        server.process.terminate()

    def exited() -> None:
        for server in servers:
            server.wait_for_exit()

    if database is None:
        TEARDOWN.defer(exited)
    else:
        _drop_postgres_database(database, exited)


def start_in_process(backend: str, tmp_path: Path, **settings: object) -> InProcessServer:
    """An in-process server on a new database; `settings` as in tests/in_process.py."""
    return start_in_process_server(backend, _database_url(backend, tmp_path), **settings)


@pytest.fixture(scope="session", autouse=True)
def _deferred_teardown() -> Iterator[None]:
    """Set up before, hence torn down after, every other session fixture: waits for the servers' exits and the
    databases' drops, then drops the templates."""
    yield
    TEARDOWN.wait()
    DATABASES.drop_templates()


@pytest.fixture(scope="session", params=BACKENDS)
def in_process_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcessServer]:
    running = start_in_process(request.param, tmp_path_factory.mktemp(f"in-process-{request.param}"))
    yield running
    _stop_and_cleanup(running)


@pytest.fixture(params=BACKENDS)
def private_in_process_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[InProcessServer]:
    running = start_in_process(request.param, tmp_path)
    yield running
    _stop_and_cleanup(running)


@pytest.fixture
def in_process_account(in_process_server: InProcessServer) -> Account:
    return in_process_server.new_account()


@pytest.fixture(scope="session", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(request.param, tmp_path_factory.mktemp(f"server-{request.param}"))
    yield running
    _stop_and_cleanup(running)


@pytest.fixture(params=BACKENDS)
def private_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(request.param, tmp_path)
    yield running
    _stop_and_cleanup(running)


@pytest.fixture
def account(server: RunningServer) -> Account:
    return server.new_account()
