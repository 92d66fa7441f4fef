"""PostgreSQL restarted (`pg_ctl restart -m fast`) in the middle of a 60-device campaign: afterwards every device
finishes exactly once, no Update is executed twice, and no callback event is lost (the receiver's event ids are
exactly the outbox's).

The machine's shared PostgreSQL is never touched: the test runs its own private instance (initdb into a temporary
directory with the Debian binaries, trust authentication, a free port) and restarts that.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from fota.simulator.fleet import Fleet
from tests import conftest
from tests.conftest import BACKENDS, RunningServer, _free_port, _stop_and_cleanup, start_server
from tests.faults.figures import record
from tests.lwm2m.harness import (
    TO,
    callback_receiver,
    device_report,
    resilient_template,
    settle,
    watched_campaign,
)

DEVICES = 60
BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.serial,  # a PostgreSQL cluster and 60 devices: alone on the machine
    pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL backend not selected"),
    pytest.mark.skipif(not BINARIES, reason="no PostgreSQL server binaries under /usr/lib/postgresql"),
]


class PrivatePostgres:
    """A throw-away PostgreSQL cluster on loopback; run as `postgres` when we are root, since initdb refuses root."""

    def __init__(self, root: Path) -> None:
        self.bin = Path(BINARIES[-1])
        self.data = root / "pgdata"
        self.log = root / "postgres.log"
        self.port = _free_port()
        self.root = root
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(root, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            [*self.as_user, str(self.bin / tool), *args], capture_output=True, timeout=120, cwd=self.root, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed: {done.stdout!r} {done.stderr!r}")

    def _ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"
        self._run("pg_ctl", action, "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options, *extra)

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        """A fast restart: every connection is cut, in-flight transactions roll back."""
        self._ctl("restart", "-m", "fast")

    def stop(self) -> None:
        self._ctl("stop", "-m", "immediate")


@pytest.fixture
def private_postgres(monkeypatch: pytest.MonkeyPatch) -> Iterator[PrivatePostgres]:
    # Not under pytest's tmp_path: that is private to root, and the cluster runs as `postgres`.
    root = Path(tempfile.mkdtemp(prefix="fota-pg-"))
    cluster = PrivatePostgres(root)
    cluster.start()
    # conftest's server fixtures create and drop their database through this URL: point it at the private cluster.
    monkeypatch.setattr(conftest, "POSTGRES_ADMIN_URL", cluster.url)
    try:
        yield cluster
    finally:
        # The databases conftest made there are dropped in the background: let that finish first.
        conftest.TEARDOWN.wait()
        conftest.DATABASES.drop_template(cluster.url)
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_postgres_restart_mid_campaign_loses_and_repeats_nothing(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    with psycopg.connect(private_postgres.url) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    server = start_server("postgresql", tmp_path)
    try:
        run_restart_scenario(server, private_postgres)
    finally:
        _stop_and_cleanup(server)


def run_restart_scenario(server: RunningServer, cluster: PrivatePostgres) -> None:
    account = server.new_account(license_count=DEVICES)
    restarts = 0
    with callback_receiver() as receiver:
        campaign_id, imeis, start = watched_campaign(server, account, receiver, DEVICES)
        template = resilient_template(server, checkin_interval=2.0)
        finished = threading.Event()

        def all_succeeded() -> bool:
            return {r["status"] for r in device_report(account, campaign_id).values()} == {"UpgradeSuccess"}

        def advance() -> None:
            # The database may still be coming back: the next round retries.
            with contextlib.suppress(Exception):
                server.advance(120)

        async def scenario() -> None:
            nonlocal restarts
            async with Fleet(DEVICES, template, imei_start=start, stagger=0.01) as fleet:
                # Restart while upgrades are under way: some devices done, most not.
                await fleet.wait_for(
                    lambda: sum(d.update_executions for d in fleet.devices) >= DEVICES // 4, 120, "a quarter executed"
                )
                await asyncio.to_thread(cluster.restart)
                restarts += 1
                # Steps cut by the restart are retried after back-offs on the server's clock: move it along.
                for _ in range(90):
                    if await asyncio.to_thread(all_succeeded):
                        finished.set()
                        break
                    await asyncio.sleep(2.0)
                    await asyncio.to_thread(advance)
                assert finished.is_set(), Counter(r["status"] for r in device_report(account, campaign_id).values())
                assert all(d.firmware_version == TO for d in fleet.devices)
                executions = Counter(d.update_executions for d in fleet.devices)
                assert executions == {1: DEVICES}, f"Update executions per device: {executions}"

        asyncio.run(scenario())

        recorded, received = settle(server, account.name, campaign_id, imeis, receiver)
        record(
            "postgres restart",
            devices=DEVICES,
            restarts=restarts,
            devices_lost=0,  # settle() asserted every device succeeded exactly once
            events_recorded=len(recorded),
            events_received=len(received),
            duplicate_deliveries=len(received) - len(set(received)),
        )
