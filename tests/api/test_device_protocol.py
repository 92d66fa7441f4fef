"""The HTTP device protocol: a device that does not speak LwM2M polls `/device/v1`, downloads its package over HTTP
and reports the result; the same steps, statuses and history as LwM2M devices, behind a per-device key."""

from __future__ import annotations

import hashlib
import random
from datetime import timedelta

import httpx

from tests.fota_server import FotaServer

IMAGE = random.Random(3).randbytes(3000)


def test_http_device_upgrades_through_the_poll_protocol(private_in_process_server: FotaServer) -> None:
    server = private_in_process_server
    account = server.new_account()
    firmware = server.new_firmware(
        make="Acme", model="Meter-7", firmware_from="4.1", firmware_to="4.2", protocol="HTTP"
    )
    r = server.admin.put(f"/firmware/{firmware['firmwareName']}/image", content=IMAGE)
    assert r.status_code == 200, r.text
    imei = str(random.randint(10**14, 10**15 - 1))
    account.add_devices([{"deviceId": imei, "make": "Acme", "model": "Meter-7", "firmware": "4.1", "protocol": "HTTP"}])
    r = server.admin.post(f"/accounts/{account.name}/devices/{imei}/key")
    assert r.status_code == 201, r.text
    key = r.json()["deviceKey"]
    url = f"/device/v1/devices/{imei}/checkin"

    def check_in(firmware: str, state: int = 0, result: int = 0, device_key: str = key) -> httpx.Response:
        return server.http.post(
            url,
            json={"firmware": firmware, "state": state, "updateResult": result},
            headers={"Authorization": f"Bearer {device_key}"},
        )

    assert check_in("4.1", device_key="wrong").status_code == 401
    assert check_in("4.1").json() == {"action": "none"}  # no campaign yet

    tomorrow = server.now().date() + timedelta(days=1)
    with account.client() as client:
        r = client.post(
            f"/campaigns/firmware/{account.name}",
            json={
                "firmwareName": firmware["firmwareName"],
                "firmwareFrom": "4.1",
                "firmwareTo": "4.2",
                "protocol": "HTTP",
                "startDate": tomorrow.isoformat(),
                "endDate": (tomorrow + timedelta(days=1)).isoformat(),
                "deviceList": [imei],
                "autoAssignLicenseFlag": True,
                "autoAddDevicesFlag": False,
                "campaignTimeWindowList": [{"startTime": 8, "endTime": 12}],
            },
        )
        assert r.status_code == 200, r.text
        campaign_id = r.json()["id"]

    server.set_clock(server.now().replace(year=tomorrow.year, month=tomorrow.month, day=tomorrow.day, hour=6))
    assert check_in("4.1").json() == {"action": "none"}  # campaign live, window not open yet

    server.set_clock(server.now().replace(hour=9))
    instruction = check_in("4.1").json()
    assert instruction["action"] == "download"
    assert (instruction["campaignId"], instruction["firmwareTo"]) == (campaign_id, "4.2")
    assert (instruction["size"], instruction["sha256"]) == (len(IMAGE), hashlib.sha256(IMAGE).hexdigest())
    package = server.http.get(instruction["packageUrl"])
    assert package.status_code == 200 and package.content == IMAGE

    assert check_in("4.1", state=1).json() == {"action": "none"}  # still downloading
    assert check_in("4.1", state=2).json()["action"] == "update"
    assert check_in("4.1", state=3).json() == {"action": "none"}  # installing
    assert check_in("4.2", state=0, result=1).json() == {"action": "none"}

    with account.client() as client:
        report = client.get(f"/reports/{account.name}/campaigns/{campaign_id}/devices").json()["deviceList"]
        assert [(d["deviceId"], d["status"]) for d in report] == [(imei, "UpgradeSuccess")]
        history = client.get(f"/reports/{account.name}/devices/{imei}").json()
        assert [(h["status"], h["reason"]) for h in history][1:] == [
            ("UpgradeInProgress", "Downloading"),
            ("UpgradeInProgress", "Downloaded"),
            ("UpgradeInProgress", "Updating"),
            ("UpgradeSuccess", "Upgrade completed successfully: device runs 4.2"),
        ]
        devices = client.get(f"/devices/{account.name}", params={"protocol": "HTTP"}).json()["deviceList"]
        assert [(d["deviceId"], d["firmware"]) for d in devices] == [(imei, "4.2")]


def test_http_device_failure_result_is_reported(private_in_process_server: FotaServer) -> None:
    server = private_in_process_server
    account = server.new_account()
    firmware = server.new_firmware(make="Acme", model="Meter-8", firmware_from="1", firmware_to="2", protocol="HTTP")
    assert server.admin.put(f"/firmware/{firmware['firmwareName']}/image", content=IMAGE).status_code == 200
    imei = str(random.randint(10**14, 10**15 - 1))
    account.add_devices([{"deviceId": imei, "make": "Acme", "model": "Meter-8", "firmware": "1", "protocol": "HTTP"}])
    key = server.admin.post(f"/accounts/{account.name}/devices/{imei}/key").json()["deviceKey"]
    today = server.now().date()
    with account.client() as client:
        r = client.post(
            f"/campaigns/firmware/{account.name}",
            json={
                "firmwareName": firmware["firmwareName"],
                "firmwareFrom": "1",
                "firmwareTo": "2",
                "protocol": "HTTP",
                "startDate": today.isoformat(),
                "endDate": today.isoformat(),
                "deviceList": [imei],
                "autoAssignLicenseFlag": True,
                "autoAddDevicesFlag": False,
            },
        )
        campaign_id = r.json()["id"]
    server.advance(0)
    url = f"/device/v1/devices/{imei}/checkin"
    headers = {"Authorization": f"Bearer {key}"}
    assert server.http.post(url, json={"firmware": "1"}, headers=headers).json()["action"] == "download"
    # Unsupported package type (6) is final: no retry.
    assert server.http.post(url, json={"firmware": "1", "state": 0, "updateResult": 6}, headers=headers).json() == {
        "action": "none"
    }
    with account.client() as client:
        report = client.get(f"/reports/{account.name}/campaigns/{campaign_id}/devices").json()["deviceList"]
    assert (report[0]["status"], report[0]["resultReason"]) == (
        "UpgradeFailed",
        "Update Result 6: Unsupported package type",
    )
