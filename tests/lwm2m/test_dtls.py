"""Device-side security over real sockets: DTLS-PSK devices upgrade over coaps; a wrong key, the wrong channel, a
borrowed identity, or NoSec on a server that does not allow it are refused (docs/adr/0010-dtls-psk.md)."""

from __future__ import annotations

import asyncio
import importlib.util
import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from fota.adapters.storage.database import make_engine
from fota.adapters.storage.tables import device_security, registrations
from fota.simulator.device import DeviceConfig, SimulatedDevice
from fota.simulator.firmware import Delivery
from tests.conftest import BACKENDS, Account, RunningServer, _stop_and_cleanup, start_server
from tests.lwm2m.harness import FROM, MAKE, MODEL, TO, create_campaign_with_sdk, device_report, provision

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("DTLSSocket") is None, reason="DTLSSocket (the `dtls` extra) is not installed"
    ),
]

# How many refused registration attempts the test waits for before it looks: a retry is refused as the first was.
REFUSED_ATTEMPTS = 2


def _config(url: str, imei: str, **changes: object) -> DeviceConfig:
    """`changes` replace the defaults here, such as the simulator's 10 s request time-out: a refusal (4.03) and an
    upgrade answer at once when the machine is idle, but a DTLS handshake can take seconds when it is not."""
    values: dict[str, object] = {
        "checkin_interval": 1.0,
        "awake_seconds": 8.0,
        "reboot_seconds": 0.5,
        "lifetime": 60,
        "register_retry": 0.5,
    }
    return DeviceConfig(
        server=url,
        imei=imei,
        make=MAKE,
        model=MODEL,
        firmware=FROM,
        **{**values, **changes},  # type: ignore[arg-type]
    )


def _set_psk(server: RunningServer, account: Account, imei: str, identity: str, key: bytes) -> None:
    r = server.admin.put(
        f"/accounts/{account.name}/devices/{imei}/security",
        json={"mode": "psk", "pskIdentity": identity, "pskKey": key.hex()},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"deviceId": imei, "mode": "psk", "pskIdentity": identity}


def _registered(server: RunningServer, imei: str) -> bool:
    engine = make_engine(server.database_url)
    try:
        with engine.connect() as connection:
            found = connection.execute(select(registrations.c.location).where(registrations.c.device_id == imei))
            return found.first() is not None
    finally:
        engine.dispose()


async def _run_refused(device: SimulatedDevice, how: str) -> None:
    """`how`: the device's event for its refused attempts, register-rejected (4.03) or register-failed (no answer:
    the DTLS handshake never completed)."""
    await device.start()
    try:
        await device.wait_for(lambda d: len(d.events_of(how)) >= REFUSED_ATTEMPTS, 60, f"{REFUSED_ATTEMPTS} x {how}")
        assert not device.registered
        assert device.registrations == 0
        assert device.events_of(how), device.events
        if how == "register-rejected":
            assert {e.detail for e in device.events_of(how)} == {"4.03 Forbidden"}
    finally:
        await device.stop(deregister=False)


@pytest.fixture(params=BACKENDS)
def dtls_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(request.param, tmp_path)
    yield running
    _stop_and_cleanup(running)


def test_admin_api_stores_the_key_encrypted_and_never_shows_it(dtls_server: RunningServer) -> None:
    server = dtls_server
    account = server.new_account()
    _, imeis, _ = provision(server, account, 2)
    key = secrets.token_bytes(16)
    identity = f"dev-{imeis[0]}"
    path = f"/accounts/{account.name}/devices/{imeis[0]}/security"

    assert server.admin.get(path).json() == {"deviceId": imeis[0], "mode": "nosec"}
    _set_psk(server, account, imeis[0], identity, key)
    shown = server.admin.get(path)
    assert shown.status_code == 200
    assert shown.json() == {"deviceId": imeis[0], "mode": "psk", "pskIdentity": identity}
    assert key.hex() not in shown.text

    engine = make_engine(server.database_url)
    try:
        with engine.connect() as connection:
            stored = connection.execute(
                select(device_security.c.psk_key_encrypted).where(device_security.c.device_id == imeis[0])
            ).scalar_one()
    finally:
        engine.dispose()
    assert key not in bytes(stored)

    # One identity names one device; bad keys, foreign accounts and unknown devices are refused.
    other = f"/accounts/{account.name}/devices/{imeis[1]}/security"
    clash = server.admin.put(other, json={"mode": "psk", "pskIdentity": identity, "pskKey": "00" * 16})
    assert clash.status_code == 409, clash.text
    for body in (
        {"mode": "psk", "pskIdentity": "x", "pskKey": "not hex"},
        {"mode": "psk", "pskIdentity": "x", "pskKey": "00" * 17},
        {"mode": "psk", "pskIdentity": "x" * 33, "pskKey": "00" * 16},
        {"mode": "psk", "pskIdentity": "x"},
        {"mode": "nosec", "pskKey": "00" * 16},
        {"mode": "certificate"},
    ):
        r = server.admin.put(other, json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["errorCode"]
    stranger = server.new_account()
    assert server.admin.get(f"/accounts/{stranger.name}/devices/{imeis[0]}/security").status_code == 404
    assert server.admin.put(other, json={"mode": "nosec"}).json() == {"deviceId": imeis[1], "mode": "nosec"}


def test_psk_device_upgrades_over_coaps_and_impostors_are_refused(dtls_server: RunningServer) -> None:
    server = dtls_server
    account = server.new_account()
    firmware, imeis, _ = provision(server, account, 4)
    good, wrong_key, plain, victim = imeis
    keys = {imei: secrets.token_bytes(16) for imei in imeis}
    for imei in imeis:
        _set_psk(server, account, imei, f"id-{imei}", keys[imei])
    today = server.now().date()
    campaign_id = create_campaign_with_sdk(account, firmware, [good], today, today + timedelta(days=2))
    server.advance(0)

    async def scenario() -> None:
        # A device with the right key registers over coaps and runs the whole upgrade there (the download link
        # it is given is coaps:// as well, so the image also travels inside its DTLS session).
        device = SimulatedDevice(
            _config(server.coaps_url, good, psk_identity=f"id-{good}", psk_key=keys[good], delivery=Delivery.PULL)
        )
        await device.start()
        try:
            await device.wait_for(lambda d: d.firmware_version == TO and d.registered, 90, "upgrade over coaps")
            assert device.update_executions == 1
            downloads = [e.detail for e in device.events_of("download-start")]
            assert downloads and all(d.startswith(server.coaps_url + "/fw/") for d in downloads), downloads
            await device.wait_for(
                lambda d: device_report(account, campaign_id)[good]["status"] == "UpgradeSuccess",
                60,
                "UpgradeSuccess",
            )
        finally:
            await device.stop(deregister=False)  # its registration stays, for the check below

        # The right identity with a wrong key: the handshake fails and nothing is registered.
        await _run_refused(
            SimulatedDevice(
                _config(
                    server.coaps_url,
                    wrong_key,
                    psk_identity=f"id-{wrong_key}",
                    psk_key=secrets.token_bytes(16),
                    request_timeout=3.0,  # each attempt ends in a time-out: the handshake never completes
                )
            ),
            "register-failed",
        )
        # A psk-mode device over plain CoAP is refused (4.03), NoSec being allowed on this server or not.
        await _run_refused(SimulatedDevice(_config(server.coap_url, plain)), "register-rejected")
        # A device with valid credentials of its own cannot register as another endpoint.
        await _run_refused(
            SimulatedDevice(_config(server.coaps_url, victim, psk_identity=f"id-{good}", psk_key=keys[good])),
            "register-rejected",
        )

    asyncio.run(scenario())
    assert _registered(server, good)
    for imei in (wrong_key, plain, victim):
        assert not _registered(server, imei), imei
    report = device_report(account, campaign_id)
    assert report[good]["status"] == "UpgradeSuccess"


@pytest.mark.parametrize("backend", BACKENDS)
def test_nosec_is_refused_unless_the_operator_allows_it(backend: str, tmp_path: Path) -> None:
    server = start_server(backend, tmp_path, allow_nosec=False)
    try:
        account = server.new_account()
        _, imeis, _ = provision(server, account, 2)
        nosec, secure = imeis
        key = secrets.token_bytes(16)
        _set_psk(server, account, secure, f"id-{secure}", key)

        async def scenario() -> None:
            await _run_refused(SimulatedDevice(_config(server.coap_url, nosec)), "register-rejected")
            # The same server still serves DTLS devices.
            device = SimulatedDevice(_config(server.coaps_url, secure, psk_identity=f"id-{secure}", psk_key=key))
            await device.start()
            try:
                await device.wait_for(lambda d: d.registered, 30, "registration over coaps")
            finally:
                await device.stop()

        asyncio.run(scenario())
        assert not _registered(server, nosec)
        assert "refused registration of " + nosec in server.log_path.read_text()
    finally:
        _stop_and_cleanup(server)
