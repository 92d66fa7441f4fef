"""`make run`'s command, `fota serve --demo`: the credentials block, then a compact live summary, not the full log."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import _free_port

pytestmark = pytest.mark.slow

PROGRESS = re.compile(r"^\s+\d+ s  (Upgrade\w+ \d+|no devices enrolled yet)", re.MULTILINE)


def _wait_for(predicate, what: str, process: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert process.poll() is None, f"fota serve --demo exited with {process.returncode} before {what}"
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.2)


def test_demo_prints_credentials_then_a_summary_and_keeps_the_log_quiet(tmp_path: Path) -> None:
    port, coap_port = _free_port(), _free_port(socket.SOCK_DGRAM)
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    args = [sys.executable, "-m", "fota", "serve", "--demo", "--port", str(port), "--bootstrap-port", "0"]
    args += ["--coap-host", "127.0.0.1", "--coap-port", str(coap_port), "--coaps-port", "0"]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(args, stdout=stdout, stderr=stderr, cwd=tmp_path)
    try:
        _wait_for(lambda: len(PROGRESS.findall(out.read_text())) >= 2, "two summary lines", process)
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=30)
    printed = out.read_text()
    for expected in (
        f"{base}/console",
        "account 0000123456-00001, user demo / demo-password",
        "demo-client / demo-client-secret",
        f"POST {base}/api/ts/v1/oauth2/token",
        f"POST {base}/api/m2m/v1/session/login",
        "admin token",
        f"{base}/docs",
    ):
        assert expected in printed, f"{expected!r} missing from:\n{printed}"
    # Devices are stepping through their upgrades meanwhile; at the default level none of that reaches the terminal.
    logged = err.read_text()
    assert '"level": "INFO"' not in logged and " INFO " not in logged, logged[:2000]
    assert len(printed.splitlines()) < 40
