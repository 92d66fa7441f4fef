"""`fota serve` for the tests, forked from a process that has already imported fota (multiprocessing's forkserver):
a fresh interpreter spends most of a server's start-up importing the API app, once per server.

`start` takes the same command line, environment, log and working directory as `subprocess.Popen` would, and
returns a `ServerProcess`, which answers what the tests ask of a `Popen`. The forked servers hash secrets with the
tests' cheap Argon2id (tests/cheap_hasher.py), as the in-process ones do; tests/unit/test_passwords.py checks the
production parameters.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path

# What `python -m fota serve` imports before it serves; the forked servers find them already loaded.
PRELOAD = [
    "fota.adapters.cli.main",
    "fota.runtime.api",
    "fota.runtime.process",
    "fota.runtime.serving",
    "tests.cheap_hasher",
    "tests.forked_server",
]
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(PRELOAD)
_STARTED: list[ServerProcess] = []


class ServerProcess:
    """A forked server, with `subprocess.Popen`'s `pid`, `returncode`, `poll`, `wait`, `send_signal`, `terminate`
    and `kill`. Exit codes are Popen's too: negative for the signal that ended it."""

    def __init__(self, process: multiprocessing.process.BaseProcess, args: list[str]) -> None:
        self._process = process
        self.args = args

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return self._process.exitcode

    def send_signal(self, sig: int) -> None:
        # As Popen does: a process already reaped is not signalled, since its pid may belong to another by now.
        if self.poll() is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def start(args: list[str], *, env: dict[str, str], log_path: Path, cwd: Path) -> ServerProcess:
    """`args`: `[sys.executable, "-m", "fota", ...]`, as for `subprocess.Popen`."""
    if args[:3] != [sys.executable, "-m", "fota"]:
        raise ValueError(f"not a fota command line: {args[:3]}")
    process = _CONTEXT.Process(target=_run, args=(args[3:], env, str(log_path), str(cwd)), name="fota serve")
    process.start()
    started = ServerProcess(process, args)
    _STARTED.append(started)
    return started


def _run(cli_args: list[str], env: dict[str, str], log_path: str, cwd: str) -> None:
    """In the forked process: what a fresh `python -m fota` would have, then the command."""
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    sys.argv = ["fota", *cli_args]
    from fota.adapters.cli.main import app
    from fota.runtime import process
    from tests.cheap_hasher import CheapArgon2Hasher

    # The composition root's hasher, replaced in this process only (thousands of tokens and logins would each pay
    # the production cost, tens of milliseconds of CPU).
    process.Argon2Hasher = CheapArgon2Hasher  # type: ignore[misc]

    app(args=cli_args, prog_name="fota")


@atexit.register
def _kill_leftovers() -> None:
    """multiprocessing joins every child at exit (its own handler runs after this one): a server a failed test left
    running would hold the test process forever."""
    for process in _STARTED:
        process.kill()
