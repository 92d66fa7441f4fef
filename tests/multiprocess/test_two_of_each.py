"""Two API, two engine and two LwM2M processes on one PostgreSQL database run a campaign with nothing done twice.

Provisioning goes through one API process, the campaign and its callback through the other; half the fleet
registers at each LwM2M process; time moves through an API process (the simulated clock lives in the database).
Afterwards every device has succeeded once, was claimed once per attempt and executed Update once, every callback
event reached the receiver once, and each campaign transition was recorded once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import secrets
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select

from fota.adapters.storage.database import make_engine
from fota.adapters.storage.tables import campaign_devices, history, outbox, registrations
from fota.simulator.fleet import Fleet
from tests import forked_server
from tests.conftest import (
    BACKENDS,
    OUTBOUND_ALLOWANCE,
    RunningServer,
    _free_port,
    _postgres_database,
    _retire,
)
from tests.lwm2m.harness import (
    callback_receiver,
    create_campaign_with_sdk,
    device_report,
    drain_outbox,
    provision,
    resilient_template,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.serial,  # several processes: alone on the machine
    pytest.mark.skipif("postgresql" not in BACKENDS, reason="several processes need PostgreSQL"),
]

DEVICES = 60  # half at each LwM2M process


@dataclasses.dataclass
class Deployment:
    api: list[RunningServer]
    engine: list[RunningServer]
    lwm2m: list[RunningServer]
    database_url: str

    @property
    def processes(self) -> list[RunningServer]:
        return [*self.api, *self.engine, *self.lwm2m]


def _spawn(
    role: str, database_url: str, admin_token: str, tmp_path: Path, index: int, api_url: str | None
) -> RunningServer:
    """Starts one `fota serve --role <role>` without waiting for it (all six start together, as in a deployment)."""
    port = _free_port()
    args = [sys.executable, "-m", "fota", "serve", "--role", role, "--simulated-clock"]
    args += ["--host", "127.0.0.1", "--port", str(port), "--log-format", "text"]
    coap_port = 0
    if role == "lwm2m":
        coap_port = _free_port(socket.SOCK_DGRAM)
        # Devices fetch HTTP downloads from an API process: an LwM2M-only process serves no HTTP routes but probes.
        assert api_url is not None
        args += ["--coap-host", "127.0.0.1", "--coap-port", str(coap_port), "--public-http-url", api_url]
        # The simulated fleet speaks plain CoAP; DTLS (and its port beside the CoAP one) is tested elsewhere.
        args += ["--allow-nosec", "--coaps-port", "0", "--bootstrap-port", "0"]
    env = {**os.environ, "FOTA_ADMIN_TOKEN": admin_token, "FOTA_DATABASE_URL": database_url, **OUTBOUND_ALLOWANCE}
    log_path = tmp_path / f"{role}-{index}.log"
    process = forked_server.start(args, env=env, log_path=log_path, cwd=tmp_path)
    return RunningServer(
        f"http://127.0.0.1:{port}", admin_token, "postgresql", database_url, process, log_path, coap_port, args, env
    )


def _wait_healthy(server: RunningServer, deadline: float) -> None:
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.args[5]} process exited:\n{server.log_path.read_text()}")
        try:
            if httpx.get(f"{server.base_url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{server.args[5]} process did not become ready:\n{server.log_path.read_text()}")
        time.sleep(0.2)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    # Empty: the six processes start at once and migrate it together, as a new deployment's would.
    name, database_url = _postgres_database(migrated=False)
    admin_token = secrets.token_urlsafe(24)
    started: list[RunningServer] = []
    try:
        api = [_spawn("api", database_url, admin_token, tmp_path, i, None) for i in range(2)]
        started += api
        engine = [_spawn("engine", database_url, admin_token, tmp_path, i, None) for i in range(2)]
        started += engine
        lwm2m = [_spawn("lwm2m", database_url, admin_token, tmp_path, i, api[i].base_url) for i in range(2)]
        started += lwm2m
        deadline = time.monotonic() + 90
        for server in started:
            _wait_healthy(server, deadline)
        yield Deployment(api, engine, lwm2m, database_url)
    finally:
        _retire(started, name)


def test_two_of_each_process_run_a_campaign_with_nothing_done_twice(deployment: Deployment) -> None:
    provisioner, operator = deployment.api
    # Only the API role serves the API: the others answer their probes and nothing else.
    for other in [*deployment.engine, *deployment.lwm2m]:
        assert httpx.get(f"{other.base_url}/metrics", timeout=10).status_code == 200
        assert other.admin.get("/clock").status_code == 404

    account = provisioner.new_account(license_count=DEVICES)
    firmware, imeis, start = provision(provisioner, account, DEVICES, image_size=2048)
    via_operator = dataclasses.replace(account, server=operator)

    with callback_receiver() as receiver:
        with via_operator.client() as client:
            assert client.post(f"/callbacks/{account.name}", json={"url": receiver.url}).status_code == 200
        today = operator.now().date()
        campaign_id = create_campaign_with_sdk(via_operator, firmware, imeis, today, today + timedelta(days=1))

        def all_succeeded() -> bool:
            return {r["status"] for r in device_report(account, campaign_id).values()} == {"UpgradeSuccess"}

        template = resilient_template("coap://unset", checkin_interval=2.0)
        half = DEVICES // 2
        first, second = deployment.lwm2m

        def nodes() -> int:
            engine = make_engine(deployment.database_url)
            try:
                with engine.connect() as connection:
                    return int(connection.execute(select(func.count(func.distinct(registrations.c.node)))).scalar_one())
            finally:
                engine.dispose()

        async def scenario() -> tuple[list[int], bool, int]:
            fleets = (
                Fleet(half, dataclasses.replace(template, server=first.coap_url), imei_start=start, stagger=0.005),
                Fleet(half, dataclasses.replace(template, server=second.coap_url), imei_start=start + half),
            )
            async with fleets[0] as one, fleets[1] as two:
                done = False
                deadline = time.monotonic() + 90  # a loaded CI machine; about 20 s when idle
                while time.monotonic() < deadline:
                    if await asyncio.to_thread(all_succeeded):
                        done = True
                        break
                    # The engines tick on their own; moving the shared clock a little (well inside the callback
                    # lease) from an API process shows the others follow it.
                    await asyncio.to_thread(provisioner.advance, 1)
                    await asyncio.sleep(0.5)
                # Read while the fleets are still registered (they de-register when they stop).
                held = await asyncio.to_thread(nodes)
                return [d.update_executions for d in (*one.devices, *two.devices)], done, held

        executions, done, held = asyncio.run(scenario())
        assert done, Counter(r["status"] for r in device_report(account, campaign_id).values())
        assert Counter(executions) == {1: DEVICES}, "each device executed Update exactly once"
        assert held == 2, "both LwM2M processes held registrations"

        engine = make_engine(deployment.database_url)
        try:
            drain_outbox(engine, account.name, provisioner)
            # Past the end date: the campaign ends, once, whichever engine (or API clock move) gets there first.
            end = datetime.combine(today + timedelta(days=2), datetime.min.time(), tzinfo=UTC)
            operator.set_clock(end + timedelta(hours=1))
            _wait_for(lambda: _campaign_statuses(engine, campaign_id)[-1:] == ["CampaignEnded"], "campaign ended")
            drain_outbox(engine, account.name, provisioner)
            _assert_nothing_done_twice(engine, campaign_id, imeis, account.name, receiver.ids())
        finally:
            engine.dispose()


def _assert_nothing_done_twice(
    engine: Engine, campaign_id: str, imeis: list[str], account_name: str, received: list[str]
) -> None:
    with engine.connect() as connection:
        device_history = connection.execute(
            select(history.c.device_id, history.c.status, history.c.reason).where(
                history.c.campaign_id == campaign_id, history.c.device_id.is_not(None)
            )
        ).all()
        successes = Counter(r.device_id for r in device_history if r.status == "UpgradeSuccess")
        assert successes == dict.fromkeys(imeis, 1), "every device reaches UpgradeSuccess exactly once"
        # A claim records "UpgradeInProgress / Downloading"; the row counts its attempts. One claim per attempt.
        claims = Counter(
            r.device_id for r in device_history if (r.status, r.reason) == ("UpgradeInProgress", "Downloading")
        )
        attempts = {
            r.device_id: r.attempts
            for r in connection.execute(
                select(campaign_devices.c.device_id, campaign_devices.c.attempts).where(
                    campaign_devices.c.campaign_id == campaign_id
                )
            )
        }
        assert claims == attempts, "no attempt was claimed twice"
        executing = Counter(
            r.device_id for r in device_history if (r.status, r.reason) == ("UpgradeInProgress", "Updating")
        )
        assert executing == dict.fromkeys(imeis, 1), "Updating recorded once per device"

        transitions = Counter(_campaign_statuses(engine, campaign_id))
        assert set(transitions) >= {"CampaignPreScheduled", "CampaignScheduled", "CampaignEnded"}, transitions
        assert set(transitions.values()) == {1}, f"each campaign transition recorded once: {transitions}"

        recorded = set(
            connection.execute(select(outbox.c.event_id).where(outbox.c.account_name == account_name)).scalars()
        )
    deliveries = Counter(received)
    assert set(deliveries) == recorded, "every recorded callback event reached the receiver"
    assert set(deliveries.values()) == {1}, f"delivered more than once: {[e for e, n in deliveries.items() if n > 1]}"


def _campaign_statuses(engine: Engine, campaign_id: str) -> list[str]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(history.c.status)
                .where(history.c.campaign_id == campaign_id, history.c.device_id.is_(None))
                .order_by(history.c.id)
            ).scalars()
        )


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting: {what}")
        threading.Event().wait(0.2)
