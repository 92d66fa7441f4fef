"""A staged rollout over the HTTP device protocol (the other device path, through the same start rule): a paused
rollout and a wave not opened yet offer nothing, the canary's soak opens the next wave, a canary that checks in on
its old firmware after its success is unhealthy and keeps the next wave closed, and a canary waiting to retry keeps
its reason through a pause."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import httpx

from tests.fota_server import Account, FotaServer

IMAGE = random.Random(5).randbytes(2000)


def setup(server: FotaServer) -> tuple[Account, str, list[tuple[str, str]]]:
    """An HTTP campaign of three devices in waves [1 device, 100 %], soaking 10 minutes; (imei, key) by imei."""
    account = server.new_account()
    firmware = server.new_firmware(
        make="Acme", model="Meter-9", firmware_from="4.1", firmware_to="4.2", protocol="HTTP"
    )
    assert server.admin.put(f"/firmware/{firmware['firmwareName']}/image", content=IMAGE).status_code == 200
    start = random.randint(10**14, 10**15 - 10)
    imeis = [str(start + i) for i in range(3)]
    account.add_devices(
        [{"deviceId": i, "make": "Acme", "model": "Meter-9", "firmware": "4.1", "protocol": "HTTP"} for i in imeis]
    )
    keys = []
    for imei in imeis:
        r = server.admin.post(f"/accounts/{account.name}/devices/{imei}/key")
        assert r.status_code == 201, r.text
        keys.append((imei, r.json()["deviceKey"]))
    today = server.now().date()
    with account.client() as client:
        r = client.post(
            f"/campaigns/firmware/{account.name}",
            json={
                "firmwareName": firmware["firmwareName"],
                "firmwareFrom": "4.1",
                "firmwareTo": "4.2",
                "protocol": "HTTP",
                "startDate": today.isoformat(),
                "endDate": (today + timedelta(days=2)).isoformat(),
                "deviceList": imeis,
                "autoAssignLicenseFlag": True,
                "autoAddDevicesFlag": False,
                "rollout": {
                    "waves": [{"name": "canary", "devices": 1}, {"percent": 100}],
                    "advance": {"successPercent": 100, "soakMinutes": 10},
                },
            },
        )
        assert r.status_code == 200, r.text
    server.advance(0)  # scheduled: it starts today, any hour
    return account, str(r.json()["id"]), keys


def check_in(server: FotaServer, device: tuple[str, str], firmware: str, state: int = 0, result: int = 0) -> Any:
    imei, key = device
    r: httpx.Response = server.http.post(
        f"/device/v1/devices/{imei}/checkin",
        json={"firmware": firmware, "state": state, "updateResult": result},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 200, r.text
    return r.json()


def upgrade(server: FotaServer, device: tuple[str, str]) -> None:
    instruction = check_in(server, device, "4.1")
    assert instruction["action"] == "download", instruction
    assert server.http.get(instruction["packageUrl"]).content == IMAGE
    assert check_in(server, device, "4.1", state=2)["action"] == "update"
    assert check_in(server, device, "4.2", state=0, result=1) == {"action": "none"}


def reasons(account: Account, campaign_id: str) -> dict[str, tuple[str, str]]:
    with account.client() as client:
        report = client.get(f"/reports/{account.name}/campaigns/{campaign_id}/devices").json()["deviceList"]
    return {d["deviceId"]: (d["status"], d["resultReason"]) for d in report}


def call(account: Account, campaign_id: str, operation: str, reason: str) -> dict[str, Any]:
    with account.client() as client:
        r = client.post(f"/campaigns/{account.name}/{campaign_id}/rollout/{operation}", json={"reason": reason})
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()["rollout"]
    return found


def test_http_devices_wait_for_their_wave_and_a_pause(private_in_process_server: FotaServer) -> None:
    server = private_in_process_server
    account, campaign_id, devices = setup(server)
    canary, *rest = devices

    call(account, campaign_id, "pause", "hold on")
    assert check_in(server, canary, "4.1") == {"action": "none"}
    assert reasons(account, campaign_id)[canary[0]] == ("UpgradePending", "Rollout paused: hold on")
    call(account, campaign_id, "resume", "go")

    for device in rest:
        assert check_in(server, device, "4.1") == {"action": "none"}
    upgrade(server, canary)
    for device in rest:
        assert check_in(server, device, "4.1") == {"action": "none"}
        assert reasons(account, campaign_id)[device[0]] == ("UpgradePending", "Waiting for wave wave-2")

    server.advance(10 * 60)  # the canary's soak is over: the engine opens the next wave
    for device in rest:
        assert check_in(server, device, "4.1")["action"] == "download"
    with account.client() as client:
        entries = client.get(f"/campaigns/{account.name}/{campaign_id}/audit").json()
    assert [e["action"] for e in entries] == ["pause", "resume", "advance"]


def test_an_http_canary_back_on_its_old_firmware_keeps_the_next_wave_closed(
    private_in_process_server: FotaServer,
) -> None:
    server = private_in_process_server
    account, campaign_id, devices = setup(server)
    canary, *rest = devices
    upgrade(server, canary)
    server.advance(60)
    check_in(server, canary, "4.1")  # rolled back within its soak
    server.advance(10 * 60)
    for device in rest:
        assert check_in(server, device, "4.1") == {"action": "none"}
    with account.client() as client:
        rollout = client.get(f"/campaigns/{account.name}/{campaign_id}").json()["rollout"]
    assert rollout["currentWave"] == 0
    assert (rollout["waves"][0]["succeeded"], rollout["waves"][0]["unhealthy"]) == (0, 1)


def test_an_http_canary_waiting_to_retry_keeps_its_reason_through_a_pause(
    private_in_process_server: FotaServer,
) -> None:
    server = private_in_process_server
    account, campaign_id, devices = setup(server)
    canary = devices[0]
    assert check_in(server, canary, "4.1")["action"] == "download"
    assert check_in(server, canary, "4.1", state=0, result=4) == {"action": "none"}  # connection lost: retried
    status, retry_reason = reasons(account, campaign_id)[canary[0]]
    assert status == "UpgradePending" and retry_reason.startswith("attempt 1 failed"), retry_reason

    assert call(account, campaign_id, "pause", "checking the canary")["state"] == "paused"
    # The rollout's state says it is paused; the canary's row keeps why it waits to retry.
    assert reasons(account, campaign_id)[canary[0]] == ("UpgradePending", retry_reason)
    server.advance(10 * 60)  # past the back-off: the pause alone holds it back
    assert check_in(server, canary, "4.1") == {"action": "none"}

    assert call(account, campaign_id, "resume", "canary is fine")["state"] == "running"
    assert reasons(account, campaign_id)[canary[0]] == ("UpgradePending", retry_reason)
    assert check_in(server, canary, "4.1")["action"] == "download"
