"""The web console in headless Chromium: sign-in, a campaign created through its dry-run preview and watched to
100 % with simulated LwM2M devices, a device's history, cancellation with confirmation, a staged rollout paused and
resumed from its panel, and CSRF refusal."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from fota.simulator.device import DeviceConfig
from fota.simulator.fleet import Fleet
from tests.api.test_rollout_http_devices import check_in as http_check_in
from tests.conftest import Account, RunningServer
from tests.console.test_rollout_routes import http_campaign
from tests.lwm2m.harness import FROM, MAKE, MODEL, imei_block, provision

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "console"
DOC_IMAGE = ROOT / "docs" / "images" / "console-campaign.png"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser, server: RunningServer) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=server.base_url, viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(30_000)
    yield ctx
    ctx.close()


def shot(page: Page, name: str, server: RunningServer) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}-{server.backend}.png"), full_page=True)


def sign_in(page: Page, account: Account, password: str | None = None) -> None:
    page.goto("/console/campaigns")
    expect(page).to_have_url(re.compile(r"/console/sign-in"))
    page.fill("input[name=account]", account.name)
    page.fill("input[name=username]", account.username)
    page.fill("input[name=password]", password or account.password)
    page.click("button[type=submit]")


def api_campaign(
    account: Account,
    firmware: dict[str, str],
    imeis: list[str],
    start: date,
    name: str,
    rollout: dict[str, object] | None = None,
) -> str:
    body: dict[str, object] = {
        "campaignName": name,
        "firmwareName": firmware["firmwareName"],
        "firmwareFrom": firmware["firmwareFrom"],
        "firmwareTo": firmware["firmwareTo"],
        "protocol": "LWM2M",
        "startDate": start.isoformat(),
        "endDate": (start + timedelta(days=2)).isoformat(),
        "deviceList": imeis,
        "autoAssignLicenseFlag": True,
        "autoAddDevicesFlag": False,
    }
    if rollout is not None:
        body["rollout"] = rollout
    with account.client() as client:
        r = client.post(f"/campaigns/firmware/{account.name}", json=body)
        assert r.status_code == 200, r.text
        return str(r.json()["id"])


class FleetThread:
    """Simulated devices on their own event loop, so the synchronous browser test can drive the console."""

    def __init__(self, server: RunningServer, count: int, imei_start: int) -> None:
        self.template = DeviceConfig(
            server=server.coap_url,
            make=MAKE,
            model=MODEL,
            firmware=FROM,
            checkin_interval=1.0,
            awake_seconds=8.0,
            reboot_seconds=0.5,
            lifetime=60,
        )
        self.fleet = Fleet(count, self.template, imei_start=imei_start)
        self.registered = threading.Event()
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            await self.fleet.start()
            try:
                await self.fleet.wait_all(lambda d: d.registered, 30, "registered")
                self.registered.set()
                while not self.stop.is_set():
                    await asyncio.sleep(0.1)
            finally:
                await self.fleet.stop()

        try:
            asyncio.run(main())
        except BaseException as error:
            self.error = error
            self.registered.set()

    def __enter__(self) -> FleetThread:
        self.thread.start()
        assert self.registered.wait(40) and self.error is None, self.error
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(30)


def test_sign_in_refuses_a_wrong_password_and_signs_out(context: BrowserContext, server: RunningServer) -> None:
    account = server.new_account()
    page = context.new_page()
    sign_in(page, account, password="not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("not correct")
    assert not [c for c in context.cookies() if c["name"] == "fota_console"]

    page.fill("input[name=password]", account.password)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/console/campaigns$"))
    cookie = next(c for c in context.cookies() if c["name"] == "fota_console")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"
    expect(page.locator("h1")).to_have_text("Campaigns")

    page.click("text=Sign out")
    expect(page).to_have_url(re.compile(r"/console/sign-in"))
    page.goto("/console/campaigns")
    expect(page).to_have_url(re.compile(r"/console/sign-in"))


def test_the_preview_shows_the_waves_of_a_rollout(context: BrowserContext, server: RunningServer) -> None:
    account = server.new_account(license_count=10)
    firmware, imeis, _ = provision(server, account, 6)
    berlin = imeis[:2]
    for imei in berlin:
        r = server.admin.patch(f"/accounts/{account.name}/devices/{imei}", json={"timeZone": "Europe/Berlin"})
        assert r.status_code == 200, r.text
    today = server.now().date()
    page = context.new_page()
    sign_in(page, account)
    page.click("text=New campaign")
    page.select_option("select[name=firmware]", firmware["firmwareName"])
    page.fill("input[name=start_date]", (today + timedelta(days=1)).isoformat())
    page.fill("input[name=end_date]", (today + timedelta(days=9)).isoformat())
    page.fill("textarea[name=device_ids]", "\n".join(imeis))
    page.fill("textarea[name=rollout]", '{"waves": [{"devices": 1}, {"percent": 100}]')  # not JSON
    page.click("text=Preview campaign")
    expect(page.locator("[role=alert]")).to_contain_text("rollout must be JSON")

    rollout = '{"waves": [{"name": "canary", "devices": 2}, {"percent": 100}], "canary": "stratified"}'
    page.fill("textarea[name=rollout]", rollout)
    page.select_option("select[name=window_zone]", "device")
    page.click("text=Preview campaign")
    expect(page.locator("h1")).to_have_text("Dry-run preview")
    expect(page.locator("#preview-eligible")).to_have_text("6")
    waves = page.locator("#preview-waves tbody tr")
    expect(waves).to_have_count(2)
    canary = page.locator("#preview-waves tr[data-wave=canary]")
    expect(canary.locator("td").nth(1)).to_have_text("2")
    # Stratified: one device of each zone's group in the canary.
    expect(canary.locator("td").nth(2)).to_contain_text("Europe/Berlin: 1")
    expect(canary.locator("td").nth(2)).to_contain_text("UTC: 1")
    expect(page.locator("#preview-waves tr[data-wave=wave-2] td").nth(1)).to_have_text("4")
    shot(page, "preview-waves", server)

    page.click("text=Back to the form")
    expect(page.locator("textarea[name=rollout]")).to_have_value(rollout)
    expect(page.locator("select[name=window_zone]")).to_have_value("device")


def test_campaign_created_through_the_preview_runs_to_100_percent(
    context: BrowserContext, server: RunningServer
) -> None:
    account = server.new_account(license_count=4)
    firmware, imeis, start = provision(server, account, 5)
    stale = str(imei_block(1))
    account.add_devices([{"deviceId": stale, "make": MAKE, "model": MODEL, "firmware": "0.9.0", "protocol": "LWM2M"}])
    unknown = str(imei_block(1))
    now = server.now()
    # imeis[4] joins another campaign first (one license), leaving three licenses for imeis[0..3].
    api_campaign(account, firmware, [imeis[4]], now.date() + timedelta(days=1), "holding campaign")

    hour = min(now.hour, 20)
    page = context.new_page()
    sign_in(page, account)
    with FleetThread(server, 3, start):
        page.click("text=New campaign")
        page.fill("input[name=name]", "SIM-1 to 2.0.0")
        page.select_option("select[name=firmware]", firmware["firmwareName"])
        page.fill("input[name=start_date]", now.date().isoformat())
        page.fill("input[name=end_date]", (now.date() + timedelta(days=1)).isoformat())
        page.fill("input[name=windows]", f"{hour}-{hour + 4}")
        page.fill("textarea[name=device_ids]", "\n".join([*imeis, stale, unknown]))
        page.click("text=Preview campaign")

        expect(page.locator("h1")).to_have_text("Dry-run preview")
        expect(page.locator("#preview-eligible")).to_have_text("3")
        expect(page.locator("#preview-rejected")).to_have_text("4")
        expect(page.locator("#preview-licenses")).to_have_text("3")
        completion = page.locator("#preview-completion").inner_text()
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", completion), completion
        reasons = {
            row.locator("td").nth(0).inner_text(): int(row.locator("td").nth(1).inner_text())
            for row in page.locator("#preview-reasons tbody tr").all()
        }
        assert reasons == {
            "No FOTA license available in the account's pool": 1,
            "Device is already in another live campaign": 1,
            "Device runs firmware '0.9.0', not the campaign's firmwareFrom '1.0.0'": 1,
            "Device not found in this account": 1,
        }
        shot(page, "preview", server)
        with account.client() as client:  # the preview wrote nothing
            assert client.get(f"/campaigns/{account.name}?status=CampaignQueued").status_code in (200, 404)

        page.click("#create-campaign")
        expect(page).to_have_url(re.compile(r"/console/campaigns/[0-9a-f-]{36}\?created=1"))
        expect(page.locator("#campaign-status")).to_have_text(re.compile("Scheduled|Queued|PreScheduled"))
        shot(page, "campaign-running", server)

        # The page updates itself (polling): move the simulated clock a little while the devices upgrade.
        deadline = time.monotonic() + 120
        progress = page.locator("#progress-value")
        while progress.inner_text() != "100 %" and time.monotonic() < deadline:
            server.advance(2)
            page.wait_for_timeout(500)
        assert progress.inner_text() == "100 %"
        expect(page.locator(".tile[data-status=UpgradeSuccess] .n")).to_have_text("3")
        expect(page.locator(".tile[data-status=DeviceRejected] .n")).to_have_text("4")
        shot(page, "campaign-finished", server)
        if os.environ.get("FOTA_UPDATE_DOC_IMAGES"):
            # Opt-in, so that a test run leaves the working tree as it found it.
            shutil.copyfile(ARTIFACTS / f"campaign-finished-{server.backend}.png", DOC_IMAGE)

        page.select_option("select[name=status]", "DeviceRejected")
        expect(page.locator("#device-table tbody tr")).to_have_count(4)
        page.select_option("select[name=status]", "UpgradeSuccess")
        expect(page.locator("#device-table tbody tr")).to_have_count(3)

        page.click(f"#device-table a:text('{imeis[0]}')")
        expect(page.locator("h1")).to_have_text(imeis[0])
        statuses = page.locator("#device-history tbody tr td:nth-child(2)").all_inner_texts()
        assert statuses[0] == "UpgradeSuccess"
        assert "UpgradePending" in statuses and "UpgradeInProgress" in statuses
        shot(page, "device", server)

    page.goto("/console/campaigns")
    rows = page.locator("#campaigns tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="SIM-1 to 2.0.0").locator(".progress-value")).to_have_text("100 %")
    shot(page, "campaigns", server)


def test_cancel_asks_for_confirmation(context: BrowserContext, server: RunningServer) -> None:
    account = server.new_account()
    firmware, imeis, _ = provision(server, account, 2)
    campaign_id = api_campaign(account, firmware, imeis, server.now().date() + timedelta(days=1), "to cancel")
    page = context.new_page()
    sign_in(page, account)
    page.goto(f"/console/campaigns/{campaign_id}")
    page.click("text=Cancel campaign…")
    expect(page.locator("h1")).to_have_text("Cancel this campaign?")
    page.click("text=No, keep it running")
    expect(page.locator("#campaign-status")).to_have_text(re.compile("Queued|PreScheduled|Scheduled"))

    page.click("text=Cancel campaign…")
    page.click("#confirm-cancel")
    expect(page.locator("#campaign-status")).to_have_text("Cancelled")
    expect(page.locator(".tile[data-status=CampaignCancelled] .n")).to_have_text("2")
    with account.client() as client:
        assert client.get(f"/campaigns/{account.name}/{campaign_id}").json()["status"] == "CampaignCancelled"


def test_a_rollout_is_paused_and_resumed_from_its_panel(context: BrowserContext, server: RunningServer) -> None:
    account = server.new_account()
    firmware, imeis, _ = provision(server, account, 3)
    rollout = {"waves": [{"name": "canary", "devices": 1}, {"percent": 100}], "advance": {"approval": True}}
    campaign_id = api_campaign(account, firmware, imeis, server.now().date() + timedelta(days=1), "staged", rollout)
    page = context.new_page()
    sign_in(page, account)
    page.goto(f"/console/campaigns/{campaign_id}")
    state = page.locator("#rollout-state")
    expect(state).to_have_text("Running")
    waves = page.locator("#rollout-waves tbody tr")
    expect(waves).to_have_count(2)
    canary = page.locator("#rollout-waves tr[data-wave=canary]")
    expect(canary).to_have_class("current")
    expect(canary.locator("td").nth(1)).to_have_text("1")
    expect(canary.locator("td").nth(5)).to_have_text("open")
    expect(page.locator("#rollout-waves tr[data-wave=wave-2] td").nth(1)).to_have_text("2")
    expect(page.locator("#rollout-gate")).to_contain_text(
        "Next wave opens when 95 % of a wave's devices succeeded and stayed healthy for 60 min; approval required."
    )
    expect(page.locator("#rollout-resume")).to_have_count(0)

    page.fill("#rollout input[name=reason]", "waiting for the field report")
    page.click("#rollout-pause")
    expect(page.locator("[role=status]")).to_have_text("Rollout paused.")
    expect(state).to_have_text("Paused")
    expect(page.locator("#rollout-paused-reason")).to_have_text("waiting for the field report")
    entry = page.locator("#audit-table tbody tr[data-action=pause] td")
    expect(entry.nth(1)).to_have_text(account.username)
    expect(entry.nth(3)).to_have_text("waiting for the field report")
    expect(page.locator("#rollout-pause")).to_have_count(0)
    shot(page, "rollout-paused", server)

    page.click("#rollout-resume")  # a manual pause resumes without a reason
    expect(page.locator("[role=status]")).to_have_text("Rollout resumed.")
    expect(state).to_have_text("Running")
    expect(page.locator("#audit-table tbody tr")).to_have_count(2)

    # A pause from elsewhere (the API) reaches the open page through its live regions.
    with account.client() as client:
        r = client.post(f"/campaigns/{account.name}/{campaign_id}/rollout/pause", json={"reason": "from the API"})
        assert r.status_code == 200, r.text
    expect(state).to_have_text("Paused")
    expect(page.locator("#audit-table tbody tr")).to_have_count(3)
    expect(page.locator("#rollout-resume")).to_have_count(1)


def test_an_automatic_pause_is_resumed_with_a_reason(context: BrowserContext, server: RunningServer) -> None:
    rollout = {"waves": [{"devices": 1}, {"percent": 100}], "abort": {"failurePercent": 1, "minFailures": 1}}
    account, campaign_id, devices = http_campaign(server, rollout)
    assert http_check_in(server, devices[0], "4.1")["action"] == "download"
    http_check_in(server, devices[0], "4.1", state=0, result=6)  # unsupported package: failed, never retried
    page = context.new_page()
    sign_in(page, account)
    live = re.compile(rf"/console/campaigns/{campaign_id}/live")
    with page.expect_response(live):
        page.goto(f"/console/campaigns/{campaign_id}")
    expect(page.locator("#rollout-state")).to_have_text("Paused automatically")
    expect(page.locator("#rollout-waves tbody tr").first.locator("td").nth(3)).to_have_text("1")
    expect(page.locator("#audit-table tbody tr[data-action=autoPause] td").nth(1)).to_have_text("fota")

    # The reason is required (the browser asks for it), and typing it survives the page's polls.
    page.click("#rollout-resume")
    expect(page.locator("#rollout-state")).to_have_text("Paused automatically")
    page.fill("#rollout input[name=reason]", "bad unit replaced")
    page.click("#rollout-gate")  # the field loses its focus
    for _ in range(2):
        with page.expect_response(live):
            pass
    expect(page.locator("#rollout input[name=reason]")).to_have_value("bad unit replaced")
    page.click("#rollout-resume")
    expect(page.locator("[role=status]")).to_have_text("Rollout resumed.")
    expect(page.locator("#rollout-state")).to_have_text("Running")
    expect(page.locator("#audit-table tbody tr[data-action=resume] td").nth(3)).to_have_text("bad unit replaced")


def test_forged_posts_are_refused(context: BrowserContext, server: RunningServer) -> None:
    account = server.new_account()
    firmware, imeis, _ = provision(server, account, 1)
    campaign_id = api_campaign(account, firmware, imeis, server.now().date() + timedelta(days=1), "kept")
    page = context.new_page()
    sign_in(page, account)
    expect(page).to_have_url(re.compile(r"/console/campaigns$"))

    # The session cookie goes along (same browser context) but the form's token does not: refused.
    for token in ("", "forged"):
        r = context.request.post(
            f"/console/campaigns/{campaign_id}/cancel",
            form={"csrf_token": token, "confirm": "yes"},
            max_redirects=0,
        )
        assert r.status == 403
    r = context.request.post("/console/sign-in", form={"account": account.name, "csrf_token": "x"}, max_redirects=0)
    assert r.status == 403
    with account.client() as client:
        assert client.get(f"/campaigns/{account.name}/{campaign_id}").json()["status"] != "CampaignCancelled"
