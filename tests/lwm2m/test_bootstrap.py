"""LwM2M bootstrap over real sockets (docs/adr/0013-lwm2m-bootstrap.md): a device that knows only its bootstrap
server and bootstrap PSK is handed a management account, registers over coaps with the key it was given and is
upgraded; bootstrapping again rotates the key. NoSec bootstrap of a 1.0 client, and the refusals."""

from __future__ import annotations

import asyncio
import importlib.util
import re
import secrets
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from fota.adapters.cli.main import app
from fota.adapters.storage.database import make_engine
from fota.adapters.storage.tables import history
from fota.simulator.device import DeviceConfig, SimulatedDevice
from fota.simulator.firmware import Delivery
from tests.conftest import Account, RunningServer
from tests.lwm2m.harness import FROM, MAKE, MODEL, TO, create_campaign_with_sdk, device_report, provision

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("DTLSSocket") is None, reason="DTLSSocket (the `dtls` extra) is not installed"
    ),
]


def _config(imei: str, **changes: object) -> DeviceConfig:
    settings: dict[str, object] = {
        "make": MAKE,
        "model": MODEL,
        "firmware": FROM,
        "checkin_interval": 1.0,
        "awake_seconds": 8.0,
        "reboot_seconds": 0.5,
        "lifetime": 60,
        "request_timeout": 3.0,
        "register_retry": 0.5,
        "bootstrap_timeout": 10.0,
    }
    return DeviceConfig(imei=imei, **{**settings, **changes})  # type: ignore[arg-type]


def _set_bootstrap(server: RunningServer, account: Account, imei: str, **body: object) -> dict[str, object]:
    r = server.admin.put(f"/accounts/{account.name}/devices/{imei}/bootstrap", json=body)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _history(server: RunningServer, imei: str) -> list[str]:
    engine = make_engine(server.database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(history.c.status).where(history.c.device_id == imei).order_by(history.c.id)
            )
            return [str(status) for status in rows.scalars()]
    finally:
        engine.dispose()


def _bootstraps_counted(server: RunningServer, result: str) -> float:
    text = httpx.get(f"{server.base_url}/metrics", timeout=30).text
    found = re.search(rf'^fota_lwm2m_bootstraps_total\{{result="{result}"\}} (\S+)$', text, re.MULTILINE)
    assert found, text[:2000]
    return float(found.group(1))


def test_device_with_only_a_bootstrap_psk_bootstraps_upgrades_and_rotates_its_key(server: RunningServer) -> None:
    account = server.new_account()
    firmware, (imei,), _ = provision(server, account, 1)
    bootstrap_key = secrets.token_bytes(16)
    shown = _set_bootstrap(
        server,
        account,
        imei,
        bootstrapMode="psk",
        bootstrapPskIdentity=f"bs-{imei}",
        bootstrapPskKey=bootstrap_key.hex(),
        disableTimeout=30,
        communicationRetryCount=2,
        communicationRetryTimer=5,
        communicationSequenceDelayTimer=20,
        communicationSequenceRetryCount=30,
    )
    assert shown["bootstrapCount"] == 0 and bootstrap_key.hex() not in str(shown)
    today = server.now().date()
    campaign_id = create_campaign_with_sdk(account, firmware, [imei], today, today + timedelta(days=2))
    server.advance(0)
    finished_before = _bootstraps_counted(server, "finished")
    config = _config(
        imei,
        bootstrap_server=server.bootstrap_coaps_url,
        bootstrap_psk_identity=f"bs-{imei}",
        bootstrap_psk_key=bootstrap_key,
        delivery=Delivery.PULL,
    )

    async def scenario() -> None:
        device = SimulatedDevice(config)
        await device.start()
        try:
            await device.wait_for(lambda d: d.firmware_version == TO and d.registered, 90, "bootstrap and upgrade")
            assert device.bootstraps == 1 and device.account is not None
            first_key = device.account.key
            assert device.account.uri == server.coaps_url
            assert device.account.identity == f"imei:{imei}".encode()
            assert first_key is not None and len(first_key) == 16
            written = " ".join(e.detail for e in device.events_of("bootstrap-write"))
            # A 1.1 client that prefers SenML CBOR gets it, with the operator's retry resources.
            assert "/1/0 ct=112 resources [0, 1, 5, 6, 7, 17, 18, 19, 20]" in written, written
            assert device.accounts.server[0][5] == 30 and device.accounts.server[0][19] == 20
            assert [e.detail for e in device.events_of("bootstrap-delete")] == ["/0", "/1"]
            downloads = [e.detail for e in device.events_of("download-start")]
            assert downloads and all(d.startswith(server.coaps_url + "/fw/") for d in downloads), downloads
            await device.wait_for(
                lambda d: device_report(account, campaign_id)[imei]["status"] == "UpgradeSuccess", 60, "success"
            )

            # Bootstrapping again hands out a new key: the device registers with it, the old one is refused.
            registrations = device.registrations
            device.trigger_bootstrap()
            await device.wait_for(
                lambda d: d.bootstraps == 2 and d.registered and d.registrations > registrations, 30, "re-bootstrap"
            )
            assert device.account is not None and device.account.key not in (None, first_key)
        finally:
            await device.stop(deregister=False)

        stale = SimulatedDevice(
            _config(imei, server=server.coaps_url, psk_identity=f"imei:{imei}", psk_key=first_key, firmware=TO)
        )
        await stale.start()
        try:
            await stale.wait_for(lambda d: d.events_of("register-failed"), 20, "old key refused")
            assert stale.registrations == 0
        finally:
            await stale.stop(deregister=False)

    asyncio.run(scenario())
    assert _history(server, imei).count("Bootstrapped") == 2
    assert _bootstraps_counted(server, "finished") >= finished_before + 2
    read = server.admin.get(f"/accounts/{account.name}/devices/{imei}/bootstrap").json()
    assert read["bootstrapCount"] == 2 and read["lastBootstrapTime"]
    security = server.admin.get(f"/accounts/{account.name}/devices/{imei}/security").json()
    assert security == {"deviceId": imei, "mode": "psk", "pskIdentity": f"imei:{imei}"}


def test_nosec_bootstrap_of_a_1_0_client_and_refusals(server: RunningServer) -> None:
    account = server.new_account()
    _, (plain, secure, unset), _ = provision(server, account, 3)
    _set_bootstrap(server, account, plain, bootstrapMode="nosec", securityMode="nosec", binding="UQ")
    key = secrets.token_bytes(16)
    _set_bootstrap(
        server, account, secure, bootstrapMode="psk", bootstrapPskIdentity=f"bs-{secure}", bootstrapPskKey=key.hex()
    )
    refused_before = _bootstraps_counted(server, "refused")

    async def scenario() -> None:
        device = SimulatedDevice(_config(plain, bootstrap_server=server.bootstrap_url, lwm2m_version="1.0"))
        await device.start()
        try:
            await device.wait_for(lambda d: d.registered, 30, "NoSec bootstrap and registration")
            assert device.account is not None and device.account.uri == server.coap_url
            assert device.account.identity is None and device.account.binding == "UQ"
            written = " ".join(e.detail for e in device.events_of("bootstrap-write"))
            assert "/1/0 ct=11542 resources [0, 1, 5, 6, 7]" in written, written  # TLV, no 1.1 resources
        finally:
            await device.stop()
        # A psk bootstrap device over plain CoAP, and a device without bootstrap settings, are refused.
        for imei in (secure, unset):
            refused = SimulatedDevice(_config(imei, bootstrap_server=server.bootstrap_url))
            await refused.start()
            try:
                await refused.wait_for(lambda d: d.events_of("bootstrap-failed"), 10, "refused bootstrap")
                assert not refused.registered and refused.bootstraps == 0
                assert "4.0" in refused.events_of("bootstrap-failed")[0].detail
            finally:
                await refused.stop(deregister=False)

    asyncio.run(scenario())
    assert _bootstraps_counted(server, "refused") >= refused_before + 2
    assert "Bootstrapped" in _history(server, plain)


def test_fota_simulate_starts_a_fleet_from_the_bootstrap_server(server: RunningServer) -> None:
    account = server.new_account()
    _, imeis, start = provision(server, account, 2)
    for imei in imeis:
        _set_bootstrap(server, account, imei, bootstrapMode="nosec", securityMode="nosec")
    result = CliRunner().invoke(
        app,
        [
            *("simulate", "--devices", "2", "--imei-start", str(start), "--bootstrap-server", server.bootstrap_url),
            *("--make", MAKE, "--model", MODEL, "--firmware", FROM, "--duration", "4", "--summary-every", "1"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "registered 2/2" in result.output, result.output
    assert all(_history(server, imei).count("Bootstrapped") == 1 for imei in imeis)
