"""Signed firmware through the admin API (docs/adr/0016-signed-firmware.md): publisher keys, uploads carrying a
detached signature over the image's sha256 in `X-Fota-Signature` / `X-Fota-Key-Id`, the per-account and deployment
requirement, and a signed image upgraded onto a simulated device byte for byte (its integrity check passes).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from fota.simulator.device import DeviceConfig, SimulatedDevice
from fota.simulator.firmware import Delivery
from fota.simulator.package import build_image
from tests.conftest import BACKENDS, Account, RunningServer, _stop_and_cleanup, start_server
from tests.lwm2m.harness import FROM, MAKE, MODEL, TO, device_report, imei_block

IMAGE = build_image(TO, 4096)


def public_pem(private: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> str:
    public = private.public_key()
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def ed25519_signature(private: ed25519.Ed25519PrivateKey, image: bytes) -> str:
    return base64.b64encode(private.sign(hashlib.sha256(image).digest())).decode()


def register_key(server: RunningServer, private: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> str:
    key_id = f"publisher-{uuid.uuid4().hex[:8]}"
    r = server.admin.post("/signing-keys", json={"keyId": key_id, "publicKey": public_pem(private)})
    assert r.status_code == 201, r.text
    return key_id


def upload(server: RunningServer, name: str, image: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return server.admin.put(
        f"/firmware/{name}/image",
        content=image,
        headers={"Content-Type": "application/octet-stream", **(headers or {})},
    )


def signed(signature: str, key_id: str) -> dict[str, str]:
    return {"X-Fota-Signature": signature, "X-Fota-Key-Id": key_id}


def firmware(server: RunningServer) -> dict[str, str]:
    return server.new_firmware(make=MAKE, model=MODEL, firmware_from=FROM, firmware_to=TO)


def error(r: httpx.Response, status: int, fragment: str) -> None:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert set(body) == {"errorCode", "errorMessage"} and fragment in body["errorMessage"], body


def campaign(account: Account, fw: dict[str, str], imeis: list[str], server: RunningServer) -> httpx.Response:
    today = server.now().date()
    body = {
        "firmwareName": fw["firmwareName"],
        "firmwareFrom": FROM,
        "firmwareTo": TO,
        "protocol": "LWM2M",
        "startDate": today.isoformat(),
        "endDate": (today + timedelta(days=2)).isoformat(),
        "deviceList": imeis,
        "autoAssignLicenseFlag": True,
        "autoAddDevicesFlag": False,
    }
    with account.client() as api:
        return api.post(f"/campaigns/firmware/{account.name}", json=body)


def devices(account: Account, count: int) -> list[str]:
    start = imei_block(count)
    imeis = [str(start + i) for i in range(count)]
    account.add_devices(
        [{"deviceId": i, "make": MAKE, "model": MODEL, "firmware": FROM, "protocol": "LWM2M"} for i in imeis]
    )
    return imeis


def test_keys_are_registered_read_and_revoked(server: RunningServer) -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    key_id = register_key(server, private)
    p256 = register_key(server, ec.generate_private_key(ec.SECP256R1()))
    r = server.admin.get(f"/signing-keys/{key_id}")
    assert r.status_code == 200 and r.json()["algorithm"] == "ed25519" and "revokedAt" not in r.json(), r.text
    listed = {k["keyId"]: k["algorithm"] for k in server.admin.get("/signing-keys").json()["keyList"]}
    assert listed[key_id] == "ed25519" and listed[p256] == "ecdsa-p256"
    again = server.admin.post("/signing-keys", json={"keyId": key_id, "publicKey": public_pem(private)})
    error(again, 409, "already exists")
    p384 = public_pem(ec.generate_private_key(ec.SECP384R1()))
    error(server.admin.post("/signing-keys", json={"keyId": "p384-key", "publicKey": p384}), 400, "P-256")
    error(server.admin.post("/signing-keys", json={"keyId": "bad key", "publicKey": p384}), 400, "keyId")
    error(server.admin.get("/signing-keys/nobody"), 404, "not found")
    revoked = server.admin.delete(f"/signing-keys/{key_id}")
    assert revoked.status_code == 200 and revoked.json()["revokedAt"], revoked.text
    error(server.admin.delete("/signing-keys/nobody"), 404, "not found")


def test_uploads_are_verified_and_campaigns_of_a_signing_account_need_a_trusted_signature(
    server: RunningServer,
) -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    key_id = register_key(server, private)
    good = ed25519_signature(private, IMAGE)
    unsigned_fw, signed_fw = firmware(server), firmware(server)
    unsigned_name, signed_name = unsigned_fw["firmwareName"], signed_fw["firmwareName"]

    # Whatever the requirement, a signature that is given must verify; nothing is stored otherwise.
    wrong = ed25519_signature(private, IMAGE + b"tampered")
    error(upload(server, signed_name, IMAGE, signed(wrong, key_id)), 400, "does not verify")
    error(upload(server, signed_name, IMAGE, signed(good, "unknown-key")), 400, "not a registered")
    error(upload(server, signed_name, IMAGE, {"X-Fota-Signature": good}), 400, "both")
    error(upload(server, signed_name, IMAGE, signed("not base64!", key_id)), 400, "base64")
    assert "sha256" not in server.admin.get(f"/firmware/{signed_name}").json()

    r = upload(server, signed_name, IMAGE, signed(good, key_id))
    assert r.status_code == 200, r.text
    assert r.json() == {
        "size": len(IMAGE),
        "sha256": hashlib.sha256(IMAGE).hexdigest(),
        "signature": good,
        "keyId": key_id,
    }
    read = server.admin.get(f"/firmware/{signed_name}").json()
    assert (read["sha256"], read["signature"], read["keyId"]) == (hashlib.sha256(IMAGE).hexdigest(), good, key_id)
    assert upload(server, unsigned_name, IMAGE).status_code == 200  # this deployment does not require signing
    assert "signature" not in server.admin.get(f"/firmware/{unsigned_name}").json()

    account = server.new_account()
    policy = server.admin.put(f"/accounts/{account.name}/signing-policy", json={"requireSignedFirmware": True})
    assert policy.json() == {
        "accountName": account.name,
        "requireSignedFirmware": True,
        "deploymentRequiresSignedFirmware": False,
    }, policy.text
    assert server.admin.get(f"/accounts/{account.name}").json()["requireSignedFirmware"] is True
    imeis = devices(account, 3)
    refused = campaign(account, unsigned_fw, imeis[:1], server)
    error(refused, 400, f"account {account.name} requires signed firmware")
    assert refused.json()["errorCode"] == "InvalidRequest"
    assert campaign(account, signed_fw, imeis[1:2], server).status_code == 200

    # A revoked key's images no longer start campaigns that need signing, and it verifies no new upload.
    assert server.admin.delete(f"/signing-keys/{key_id}").status_code == 200
    error(campaign(account, signed_fw, imeis[2:], server), 400, "revoked")
    error(upload(server, signed_name, IMAGE, signed(good, key_id)), 400, "unrevoked")
    # Another account without the requirement is not affected.
    other = server.new_account()
    assert campaign(other, unsigned_fw, devices(other, 1), server).status_code == 200


@pytest.fixture(scope="module")
def signing_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(
        BACKENDS[0], Path(tmp_path_factory.mktemp("signing")), env_overrides={"FOTA_REQUIRE_SIGNED_FIRMWARE": "1"}
    )
    yield running
    _stop_and_cleanup(running)


def test_a_deployment_that_requires_signing_refuses_unsigned_uploads_and_serves_signed_ones(
    signing_server: RunningServer,
) -> None:
    server = signing_server
    private = ec.generate_private_key(ec.SECP256R1())
    key_id = register_key(server, private)
    fw = firmware(server)
    error(upload(server, fw["firmwareName"], IMAGE), 400, "requires signed firmware")
    wrong = base64.b64encode(private.sign(IMAGE[:-1], ec.ECDSA(hashes.SHA256()))).decode()
    error(upload(server, fw["firmwareName"], IMAGE, signed(wrong, key_id)), 400, "does not verify")
    account = server.new_account()
    imei = devices(account, 1)[0]
    error(campaign(account, fw, [imei], server), 400, "this deployment requires signed firmware")

    # ECDSA-SHA256 over the image, as `openssl dgst -sha256 -sign key.pem image` makes it.
    good = base64.b64encode(private.sign(IMAGE, ec.ECDSA(hashes.SHA256()))).decode()
    assert upload(server, fw["firmwareName"], IMAGE, signed(good, key_id)).status_code == 200
    created = campaign(account, fw, [imei], server)
    assert created.status_code == 200, created.text
    server.advance(0)

    async def scenario() -> None:
        config = DeviceConfig(
            server=server.coap_url,
            imei=imei,
            make=MAKE,
            model=MODEL,
            firmware=FROM,
            checkin_interval=1.0,
            awake_seconds=8.0,
            reboot_seconds=0.5,
            lifetime=60,
            delivery=Delivery.PULL,
        )
        device = SimulatedDevice(config)
        await device.start()
        try:
            # The device checks the image's embedded sha256 before it installs it: a changed byte fails the upgrade.
            await device.wait_for(lambda d: d.firmware_version == TO, 90, "the signed image installed")
            assert not device.events_of("verify-failed")
            await device.wait_for(
                lambda d: device_report(account, campaign_id)[imei]["status"] == "UpgradeSuccess", 60, "UpgradeSuccess"
            )
        finally:
            await device.stop()

    campaign_id = created.json()["id"]
    asyncio.run(scenario())
