"""The console's rollout panel without a browser (in-process, both databases): a campaign without a rollout shows
none, a forged POST is refused, a state that refuses the call is a 409 page, resuming an automatic pause without a
reason is a 400 page with the service's message, and an approval opens the next wave."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.api.test_rollout_http_devices import IMAGE, check_in, upgrade
from tests.fota_server import Account, FotaServer

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Console:
    """A signed-in console user. The console's cookies are Secure, which httpx keeps off plain http: the test
    carries them itself."""

    def __init__(self, server: FotaServer, account: Account) -> None:
        self.http = server.client()
        form = self.http.get("/console/sign-in")
        signin_cookie = form.cookies.get("fota_console_signin") or _cookie(form, "fota_console_signin")
        match = CSRF.search(form.text)
        assert match is not None
        r = self.http.post(
            "/console/sign-in",
            data={"account": account.name, "username": account.username, "password": account.password}
            | {"csrf_token": match[1], "next": "/console/campaigns"},
            headers={"Cookie": f"fota_console_signin={signin_cookie}"},
        )
        assert r.status_code == 303, r.text
        self.cookie = f"fota_console={_cookie(r, 'fota_console')}"
        page = self.get("/console/campaigns")
        found = CSRF.search(page.text)
        assert found is not None
        self.csrf = found[1]

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path, headers={"Cookie": self.cookie})

    def post(self, path: str, **form: str) -> httpx.Response:
        return self.http.post(path, data={"csrf_token": self.csrf} | form, headers={"Cookie": self.cookie})

    def close(self) -> None:
        self.http.close()


def _cookie(response: httpx.Response, name: str) -> str:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return header.split(";", 1)[0].split("=", 1)[1]
    raise AssertionError(f"no {name} cookie in {response.headers}")


@pytest.fixture
def server(in_process_server: FotaServer) -> FotaServer:
    return in_process_server


def http_campaign(
    server: FotaServer, rollout: dict[str, Any] | None, **extra: Any
) -> tuple[Account, str, list[tuple[str, str]]]:
    """An HTTP campaign of three devices starting today at any hour, with `rollout` and any `extra` fields of the
    create body; (imei, key) of each device."""
    account = server.new_account()
    firmware = server.new_firmware(
        make="Acme", model="Meter-9", firmware_from="4.1", firmware_to="4.2", protocol="HTTP"
    )
    assert server.admin.put(f"/firmware/{firmware['firmwareName']}/image", content=IMAGE).status_code == 200
    imeis = [str(10**14 + int(time.time_ns() % 10**13) + i) for i in range(3)]
    account.add_devices(
        [{"deviceId": i, "make": "Acme", "model": "Meter-9", "firmware": "4.1", "protocol": "HTTP"} for i in imeis]
    )
    keys = []
    for imei in imeis:
        r = server.admin.post(f"/accounts/{account.name}/devices/{imei}/key")
        assert r.status_code == 201, r.text
        keys.append((imei, r.json()["deviceKey"]))
    today = server.now().date()
    body: dict[str, Any] = {
        "campaignName": "panel",
        "firmwareName": firmware["firmwareName"],
        "firmwareFrom": "4.1",
        "firmwareTo": "4.2",
        "protocol": "HTTP",
        "startDate": today.isoformat(),
        "endDate": (today + timedelta(days=2)).isoformat(),
        "deviceList": imeis,
        "autoAssignLicenseFlag": True,
        "autoAddDevicesFlag": False,
    }
    if rollout is not None:
        body["rollout"] = rollout
    body.update(extra)
    with account.client() as client:
        r = client.post(f"/campaigns/firmware/{account.name}", json=body)
        assert r.status_code == 200, r.text
    server.advance(0)
    return account, str(r.json()["id"]), keys


def rollout_state(server: FotaServer, account: Account, campaign_id: str, wanted: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        with account.client() as client:
            rollout: dict[str, Any] = client.get(f"/campaigns/{account.name}/{campaign_id}").json()["rollout"]
        if rollout["state"] == wanted or time.monotonic() > deadline:
            assert rollout["state"] == wanted, rollout
            return rollout
        server.advance(1)


def test_a_campaign_without_a_rollout_shows_no_panel(server: FotaServer) -> None:
    account, campaign_id, _ = http_campaign(server, None)
    console = Console(server, account)
    try:
        page = console.get(f"/console/campaigns/{campaign_id}")
        assert page.status_code == 200
        assert 'id="rollout"' not in page.text and 'id="audit"' not in page.text
        live = console.get(f"/console/campaigns/{campaign_id}/live").json()
        assert set(live["regions"]) == {"header", "counts", "chart", "strip", "devices"}
        r = console.post(f"/console/campaigns/{campaign_id}/rollout/pause", reason="x")
        assert r.status_code == 409 and "has no rollout" in r.text
    finally:
        console.close()


def test_a_campaign_without_a_rollout_shows_its_audit_once_it_has_one(server: FotaServer) -> None:
    tomorrow = server.now().date() + timedelta(days=1)
    blackout = {"from": f"{tomorrow}T00:00", "to": f"{tomorrow}T12:00", "reason": "freeze"}
    account, campaign_id, _ = http_campaign(server, None, blackouts=[blackout])
    console = Console(server, account)
    try:
        assert 'id="audit"' not in console.get(f"/console/campaigns/{campaign_id}").text
        with account.client() as client:
            r = client.post(
                f"/campaigns/{account.name}/{campaign_id}/blackouts/override",
                json={"until": f"{tomorrow}T06:00", "reason": "hotfix must ship"},
            )
            assert r.status_code == 200, r.text
        page = console.get(f"/console/campaigns/{campaign_id}").text
        assert 'id="rollout"' not in page and 'id="audit"' in page
        row = re.search(r'<tr data-action="blackoutOverride">(.*?)</tr>', page, re.S)
        assert row is not None and account.username in row[1] and "hotfix must ship" in row[1]
    finally:
        console.close()


def test_forged_and_refused_calls_are_4xx_pages(server: FotaServer) -> None:
    account, campaign_id, _ = http_campaign(server, {"waves": [{"devices": 1}, {"percent": 100}]})
    console = Console(server, account)
    base = f"/console/campaigns/{campaign_id}"
    try:
        page = console.get(base)
        assert 'id="rollout-state" data-state="running"' in page.text
        assert 'id="rollout-pause"' in page.text and 'id="rollout-resume"' not in page.text
        assert "Next wave opens when 95 % of a wave&#39;s devices succeeded and stayed healthy for 60 min." in page.text
        live = console.get(f"{base}/live").json()
        assert {"rollout", "rollout-actions", "audit"} <= set(live["regions"])

        for token in ("", "forged"):
            r = console.http.post(
                f"{base}/rollout/pause", data={"csrf_token": token}, headers={"Cookie": console.cookie}
            )
            assert r.status_code == 403
        r = console.post(f"{base}/rollout/resume")  # running: nothing to resume
        assert r.status_code == 409 and "not paused" in r.text
        r = console.post(f"{base}/rollout/approve")
        assert r.status_code == 409 and "no wave waits for approval" in r.text
        r = console.post(f"{base}/rollout/pause", reason="x" * 2001)
        assert r.status_code == 400 and "at most 2000" in r.text
        r = console.post(f"{base}/rollout/restart")
        assert r.status_code == 404
        r = console.post("/console/campaigns/no-such-campaign/rollout/pause")
        assert r.status_code == 404
        with account.client() as client:
            assert client.get(f"/campaigns/{account.name}/{campaign_id}/audit").json() == []
    finally:
        console.close()


def test_resuming_an_automatic_pause_needs_a_reason(server: FotaServer) -> None:
    account, campaign_id, devices = http_campaign(
        server, {"waves": [{"devices": 1}, {"percent": 100}], "abort": {"failurePercent": 1, "minFailures": 1}}
    )
    canary = devices[0]
    assert check_in(server, canary, "4.1")["action"] == "download"
    check_in(server, canary, "4.1", state=0, result=6)  # unsupported package: failed, never retried
    rollout_state(server, account, campaign_id, "autoPaused")
    console = Console(server, account)
    base = f"/console/campaigns/{campaign_id}"
    try:
        page = console.get(base)
        assert 'id="rollout-resume"' in page.text and 'id="rollout-pause"' not in page.text
        r = console.post(f"{base}/rollout/resume", reason="  ")
        assert r.status_code == 400
        assert "reason is required to resume a rollout after an automatic pause" in r.text
        r = console.post(f"{base}/rollout/resume", reason="bad batch replaced")
        assert r.status_code == 303 and r.headers["location"] == f"{base}?done=resume"
        page = console.get(r.headers["location"])
        assert "Rollout resumed." in page.text and 'data-state="running"' in page.text
        assert re.search(r"<td>[^<]+</td><td>resume</td><td class=\"reason\">bad batch replaced</td>", page.text)
    finally:
        console.close()


def test_an_approval_opens_the_next_wave(server: FotaServer) -> None:
    account, campaign_id, devices = http_campaign(
        server,
        {
            "waves": [{"name": "canary", "devices": 1}, {"percent": 100}],
            "advance": {"soakMinutes": 0, "approval": True},
        },
    )
    upgrade(server, devices[0])
    rollout_state(server, account, campaign_id, "waitingApproval")
    console = Console(server, account)
    base = f"/console/campaigns/{campaign_id}"
    try:
        page = console.get(base)
        assert 'id="rollout-approve"' in page.text and "approval required" in page.text
        r = console.post(f"{base}/rollout/approve", reason="canary looks fine")
        assert r.status_code == 303, r.text
        page = console.get(r.headers["location"])
        assert "Next wave approved." in page.text and 'id="rollout-approve"' not in page.text
        with account.client() as client:
            audit = client.get(f"/campaigns/{account.name}/{campaign_id}/audit").json()
            rollout = client.get(f"/campaigns/{account.name}/{campaign_id}").json()["rollout"]
        assert ("approve", account.username, "canary looks fine") in [
            (e["action"], e["actor"], e["reason"]) for e in audit
        ]
        assert rollout["currentWave"] == 1
    finally:
        console.close()
