"""A device report page cached in one API process is not served once another process changed the campaign.

Two `--role api` processes share one PostgreSQL database and the simulated clock never moves, so only the report's
version in the database (docs/adr/0043) can tell the first process that its cached page is stale.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import httpx
import pytest

from tests.conftest import BACKENDS, RunningServer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.serial,  # several processes: alone on the machine
    pytest.mark.skipif("postgresql" not in BACKENDS, reason="several processes need PostgreSQL"),
]

MAKE, MODEL, FROM, TO = "ReportCo", "R-1", "1.0.0", "2.0.0"


def _report(server: RunningServer, account_name: str, campaign_id: str, headers: dict[str, str]) -> dict[str, str]:
    r = httpx.get(
        f"{server.base_url}/api/fota/v3/reports/{account_name}/campaigns/{campaign_id}/devices",
        headers=headers,
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return {d["deviceId"]: d["status"] for d in r.json()["deviceList"]}


def test_a_change_in_one_process_is_on_the_others_next_page(
    two_api_processes: tuple[RunningServer, RunningServer],
) -> None:
    first, second = two_api_processes
    account = first.new_account()
    firmware = first.new_firmware(make=MAKE, model=MODEL, firmware_from=FROM, firmware_to=TO)
    start = 350000000000000 + secrets.randbelow(10**9) * 100
    imeis = [str(start + n) for n in range(3)]
    account.add_devices(
        [{"deviceId": i, "make": MAKE, "model": MODEL, "firmware": FROM, "protocol": "LWM2M"} for i in imeis]
    )
    today = first.now().date()
    body = {
        "firmwareName": firmware["firmwareName"],
        "firmwareFrom": FROM,
        "firmwareTo": TO,
        "protocol": "LWM2M",
        "startDate": (today + timedelta(days=1)).isoformat(),
        "endDate": (today + timedelta(days=3)).isoformat(),
        "deviceList": imeis,
        "autoAssignLicenseFlag": True,
        "autoAddDevicesFlag": False,
    }
    headers = account.headers()
    with account.client() as api:
        r = api.post(f"/campaigns/firmware/{account.name}", json=body)
    assert r.status_code == 200, r.text
    campaign_id = r.json()["id"]
    pending = dict.fromkeys(imeis, "UpgradePending")
    assert _report(second, account.name, campaign_id, headers) == pending
    assert _report(second, account.name, campaign_id, headers) == pending  # now from the second process's cache

    with httpx.Client(base_url=f"{first.base_url}/api/fota/v3", headers=headers, timeout=30) as api:
        r = api.put(
            f"/campaigns/firmware/{account.name}/{campaign_id}", json={"type": "remove", "deviceList": imeis[:1]}
        )
    assert r.status_code == 200, r.text

    changed = _report(second, account.name, campaign_id, headers)
    assert changed == {**pending, imeis[0]: changed[imeis[0]]} and changed[imeis[0]] != "UpgradePending", changed
