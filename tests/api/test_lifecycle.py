"""The v3 campaign lifecycle (design.md §4), on private servers whose simulated clock the tests move.

Queued -> (PreScheduled) -> Scheduled less than 24 h before the start; DELETE before the start cancels,
after it aborts; 24:00 of endDate ends the campaign. Final campaigns refuse DELETE, date and device changes
with 400. Date changes: anything valid before the start; after it, startDate is fixed but endDate and
windows may move.

At each step the test reads the campaign GET, the by-status report, the campaign's device report and the
device history (`GET /reports/{acc}/devices/{imei}`), whose newest entry for the campaign must show the
change and its time. Tokens age with the simulated clock, so new headers are fetched whenever it moved.
The two tests that leave the clock alone use the shared server.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest

from tests.fota_server import Account, FotaServer

QUEUED = ("CampaignQueued", "CampaignRequestQueued")


def luhn_imei() -> str:
    """A random 15-digit IMEI with a valid Luhn check digit."""
    body = f"35{secrets.randbelow(10**12):012d}"
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return body + str((10 - total % 10) % 10)


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def parse_time(value: Any) -> datetime:
    assert isinstance(value, str) and value, f"not a timestamp: {value!r}"
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None, f"timestamp without zone: {value!r}"
    return parsed


def assert_error(r: httpx.Response, status: int, code: str | None = None) -> None:
    where = f"{r.request.method} {r.request.url.path}"
    assert r.status_code == status, f"{where}: expected {status}, got {r.status_code} {r.text}"
    body = r.json()
    assert isinstance(body, dict) and set(body) == {"errorCode", "errorMessage"}, f"{where}: {body!r}"
    assert isinstance(body["errorMessage"], str) and body["errorMessage"].strip(), body
    if code is not None:
        assert body["errorCode"] == code, f"{where}: {body}"


@dataclass
class Fleet:
    """An account on a private server with firmware and licensed-on-demand devices."""

    server: FotaServer
    account: Account
    fw: dict[str, str]
    devices: list[str]
    today: date

    @property
    def acc(self) -> str:
        return self.account.name

    _headers: tuple[datetime, dict[str, str]] | None = None

    def api(self) -> httpx.Client:
        """A v3 client with headers issued at the server's current (simulated) time.

        Tokens age with the simulated clock, so new ones are fetched whenever the clock has moved.
        """
        now = self.server.now()
        if self._headers is None or self._headers[0] != now:
            self._headers = (now, self.account.headers())
        return self.server.client("/api/fota/v3", headers=self._headers[1])

    def day(self, offset: int) -> date:
        return self.today + timedelta(days=offset)

    def create(
        self,
        start: int,
        end: int,
        devices: list[str] | None = None,
        windows: list[tuple[int, int]] | None = None,
    ) -> dict[str, Any]:
        body = {
            "firmwareName": self.fw["firmwareName"],
            "firmwareFrom": self.fw["firmwareFrom"],
            "firmwareTo": self.fw["firmwareTo"],
            "protocol": "LWM2M",
            "startDate": self.day(start).isoformat(),
            "endDate": self.day(end).isoformat(),
            "deviceList": devices if devices is not None else self.devices,
            "autoAssignLicenseFlag": True,
            "autoAddDevicesFlag": False,
            "campaignName": "lifecycle",
            "campaignTimeWindowList": [{"startTime": s, "endTime": e} for s, e in (windows or [(18, 22)])],
        }
        with self.api() as api:
            r = api.post(f"/campaigns/firmware/{self.acc}", json=body)
        assert r.status_code == 200, r.text
        created: dict[str, Any] = r.json()
        assert isinstance(created["id"], str) and created["id"]
        assert created["startDate"] == body["startDate"] and created["endDate"] == body["endDate"]
        return created

    def campaign(self, cid: str) -> dict[str, Any]:
        with self.api() as api:
            r = api.get(f"/campaigns/{self.acc}/{cid}")
        assert r.status_code == 200, r.text
        campaign: dict[str, Any] = r.json()
        return campaign

    def status(self, cid: str) -> str:
        return str(self.campaign(cid)["status"])

    def by_status(self, status: str) -> set[str]:
        with self.api() as api:
            r = api.get(f"/reports/{self.acc}/firmware/campaigns", params={"campaignStatus": status})
        assert r.status_code == 200, f"{status}: {r.text}"
        return {c["id"] for c in r.json().get("campaignList") or []}

    def device_statuses(self, cid: str) -> dict[str, dict[str, Any]]:
        with self.api() as api:
            r = api.get(f"/reports/{self.acc}/campaigns/{cid}/devices")
        assert r.status_code == 200, r.text
        return {d["deviceId"]: d for d in r.json()["deviceList"]}

    def history(self, imei: str, cid: str) -> list[dict[str, Any]]:
        """The device's history entries for one campaign, oldest first by reportUpdatedTime (stable)."""
        with self.api() as api:
            r = api.get(f"/reports/{self.acc}/devices/{imei}")
        assert r.status_code == 200, r.text
        entries = r.json()
        assert isinstance(entries, list), entries
        mine = [e for e in entries if e["campaignId"] == cid]
        assert mine, f"no history entry of campaign {cid} for {imei}: {entries}"
        for e in mine:
            assert e["deviceId"] == imei and e["accountName"] == self.acc, e
            parse_time(e.get("reportUpdatedTime"))
        return sorted(mine, key=lambda e: parse_time(e["reportUpdatedTime"]))

    def assert_history(
        self, imei: str, cid: str, status: str, not_before: datetime, not_after: datetime
    ) -> dict[str, Any]:
        """The newest entry of the campaign shows `status`, stamped within [not_before, not_after]."""
        newest = self.history(imei, cid)[-1]
        assert newest["status"] == status, newest
        assert isinstance(newest.get("reason"), str), newest
        stamp = parse_time(newest["reportUpdatedTime"])
        slack = timedelta(seconds=1)  # the wire may carry milliseconds only
        assert not_before - slack <= stamp <= not_after + slack, f"{stamp} not in [{not_before}, {not_after}]: {newest}"
        return newest

    def delete(self, cid: str) -> httpx.Response:
        with self.api() as api:
            return api.delete(f"/campaigns/{self.acc}/{cid}")

    def change_dates(
        self, cid: str, start: date, end: date, windows: list[tuple[int, int]] | None = None
    ) -> httpx.Response:
        body: dict[str, Any] = {"startDate": start.isoformat(), "endDate": end.isoformat()}
        if windows is not None:
            body["campaignTimeWindowList"] = [{"startTime": s, "endTime": e} for s, e in windows]
        with self.api() as api:
            return api.put(f"/campaigns/firmware/{self.acc}/{cid}/dates", json=body)

    def change_devices(self, cid: str, kind: str, devices: list[str]) -> httpx.Response:
        with self.api() as api:
            body = {"Type": kind, "deviceList": devices}
            return api.put(f"/campaigns/firmware/{self.acc}/{cid}", json=body)


def make_fleet(server: FotaServer) -> Fleet:
    account = server.new_account(license_count=20)
    fw = server.new_firmware()
    imeis = [luhn_imei() for _ in range(3)]
    account.add_devices(
        [
            {
                "deviceId": d,
                "mdn": f"{secrets.randbelow(10**10):010d}",
                "make": fw["make"],
                "model": fw["model"],
                "firmware": fw["firmwareFrom"],
                "protocol": "LWM2M",
            }
            for d in imeis
        ]
    )
    return Fleet(server, account, fw, imeis, server.now().date())


@pytest.fixture
def fleet(private_in_process_server: FotaServer) -> Fleet:
    return make_fleet(private_in_process_server)


def windows_of(campaign: dict[str, Any]) -> list[tuple[int, int]]:
    return [(w["startTime"], w["endTime"]) for w in campaign.get("campaignTimeWindowList") or []]


def test_cancel_before_start(fleet: Fleet) -> None:
    server = fleet.server
    created_at = server.now()
    created = fleet.create(start=3, end=6)
    cid = created["id"]
    assert created["status"] in QUEUED

    assert fleet.status(cid) in QUEUED
    assert cid in fleet.by_status("CampaignQueued") and cid in fleet.by_status("CampaignRequestQueued")
    assert {d: s["status"] for d, s in fleet.device_statuses(cid).items()} == dict.fromkeys(
        fleet.devices, "UpgradePending"
    )
    fleet.assert_history(fleet.devices[0], cid, "UpgradePending", created_at, created_at)
    assert fleet.history(fleet.devices[0], cid)[-1]["startDate"] == fleet.day(3).isoformat()

    removed = fleet.change_devices(cid, "remove", [fleet.devices[2]])
    assert removed.status_code == 200, removed.text
    assert [(d["deviceId"], d["status"]) for d in removed.json()["deviceList"]] == [
        (fleet.devices[2], "RemoveDeviceSucceed")
    ]
    assert fleet.device_statuses(cid)[fleet.devices[2]]["status"] == "DeviceRemoved"

    # 25 h before the start: still queued.
    server.set_clock(midnight(fleet.day(3)) - timedelta(hours=25))
    assert fleet.status(cid) in QUEUED
    assert cid not in fleet.by_status("CampaignScheduled")

    # 23 h before the start: laid out (PreScheduled) and Scheduled in the same engine run.
    server.set_clock(midnight(fleet.day(3)) - timedelta(hours=23))
    assert fleet.status(cid) == "CampaignScheduled"
    assert cid in fleet.by_status("CampaignScheduled")
    assert cid not in fleet.by_status("CampaignQueued") | fleet.by_status("CampaignRequestQueued")
    assert cid not in fleet.by_status("CampaignPreScheduled")
    statuses = [e["status"] for e in fleet.history(fleet.devices[0], cid)]
    if "CampaignPreScheduled" in statuses and "CampaignScheduled" in statuses:
        assert statuses.index("CampaignPreScheduled") < statuses.index("CampaignScheduled"), statuses
    assert fleet.device_statuses(cid)[fleet.devices[0]]["status"] == "UpgradePending"

    cancelled_at = server.now()
    r = fleet.delete(cid)
    assert r.status_code == 200, r.text
    assert r.json() == {"success": True}
    assert fleet.status(cid) == "CampaignCancelled"
    assert cid in fleet.by_status("CampaignCancelled")
    assert cid not in fleet.by_status("CampaignScheduled")
    devices = fleet.device_statuses(cid)
    assert devices[fleet.devices[0]]["status"] == "CampaignCancelled"
    assert devices[fleet.devices[1]]["status"] == "CampaignCancelled"
    assert devices[fleet.devices[2]]["status"] == "DeviceRemoved"
    for imei in fleet.devices[:2]:
        fleet.assert_history(imei, cid, "CampaignCancelled", cancelled_at, server.now())

    assert_error(fleet.delete(cid), 400, "InvalidCampaignState")
    assert_error(fleet.change_devices(cid, "append", [fleet.devices[2]]), 400, "InvalidCampaignState")
    assert_error(fleet.change_dates(cid, fleet.day(4), fleet.day(7)), 400, "InvalidCampaignState")
    assert fleet.status(cid) == "CampaignCancelled"


def test_abort_after_start(fleet: Fleet) -> None:
    server = fleet.server
    created = fleet.create(start=0, end=3, devices=fleet.devices[:2])
    cid = created["id"]

    server.set_clock(midnight(fleet.day(1)) + timedelta(hours=10))
    assert fleet.status(cid) == "CampaignScheduled"
    assert {d: s["status"] for d, s in fleet.device_statuses(cid).items()} == dict.fromkeys(
        fleet.devices[:2], "UpgradePending"
    )

    aborted_at = server.now()
    r = fleet.delete(cid)
    assert r.status_code == 200, r.text
    assert r.json() == {"success": True}
    assert fleet.status(cid) == "CampaignAborted"
    assert cid in fleet.by_status("CampaignAborted")
    assert cid not in fleet.by_status("CampaignCancelled")
    assert {d: s["status"] for d, s in fleet.device_statuses(cid).items()} == dict.fromkeys(
        fleet.devices[:2], "CampaignAborted"
    )
    for imei in fleet.devices[:2]:
        fleet.assert_history(imei, cid, "CampaignAborted", aborted_at, server.now())

    assert_error(fleet.delete(cid), 400, "InvalidCampaignState")
    assert_error(fleet.change_devices(cid, "append", [fleet.devices[2]]), 400, "InvalidCampaignState")
    assert_error(fleet.change_dates(cid, fleet.day(0), fleet.day(5)), 400, "InvalidCampaignState")

    # The aborted campaign no longer holds its devices: a new campaign can enrol them.
    again = fleet.create(start=1, end=4, devices=fleet.devices[:1])
    assert fleet.device_statuses(again["id"])[fleet.devices[0]]["status"] == "UpgradePending"


def test_campaign_starting_today_is_scheduled_on_the_next_tick(in_process_server: FotaServer) -> None:
    """docs/behaviour.md: a campaign that starts today is scheduled on the engine's next tick (clock untouched)."""
    server = in_process_server
    fleet = make_fleet(server)
    cid = fleet.create(start=0, end=2)["id"]
    server.advance(0)  # runs the engine now instead of waiting for its next second
    assert fleet.status(cid) == "CampaignScheduled"


def test_delete_on_the_start_day_aborts(in_process_server: FotaServer) -> None:
    server = in_process_server
    fleet = make_fleet(server)
    cid = fleet.create(start=0, end=2)["id"]
    r = fleet.delete(cid)
    assert r.status_code == 200, r.text
    assert fleet.status(cid) == "CampaignAborted"
    assert {d: s["status"] for d, s in fleet.device_statuses(cid).items()} == dict.fromkeys(
        fleet.devices, "CampaignAborted"
    )


def test_end_after_end_date(fleet: Fleet) -> None:
    server = fleet.server
    cid = fleet.create(start=0, end=1, devices=fleet.devices[:2])["id"]
    end_of_campaign = midnight(fleet.day(2))  # 24:00 of endDate

    server.set_clock(end_of_campaign - timedelta(seconds=1))
    assert fleet.status(cid) == "CampaignScheduled"
    assert fleet.device_statuses(cid)[fleet.devices[0]]["status"] == "UpgradePending"

    server.set_clock(end_of_campaign)
    assert fleet.status(cid) == "CampaignEnded"
    assert cid in fleet.by_status("CampaignEnded")
    assert cid not in fleet.by_status("CampaignScheduled")
    assert {d: s["status"] for d, s in fleet.device_statuses(cid).items()} == dict.fromkeys(
        fleet.devices[:2], "CampaignEnded"
    )
    for imei in fleet.devices[:2]:
        fleet.assert_history(imei, cid, "CampaignEnded", end_of_campaign - timedelta(seconds=1), server.now())

    server.set_clock(end_of_campaign + timedelta(hours=5))
    assert fleet.status(cid) == "CampaignEnded"
    assert_error(fleet.delete(cid), 400, "InvalidCampaignState")
    assert_error(fleet.change_dates(cid, fleet.day(0), fleet.day(6)), 400, "InvalidCampaignState")
    assert_error(fleet.change_devices(cid, "append", [fleet.devices[2]]), 400, "InvalidCampaignState")
    assert fleet.status(cid) == "CampaignEnded"
    assert fleet.campaign(cid)["endDate"] == fleet.day(1).isoformat()


def test_a_campaign_ending_on_the_calendar_s_last_day_runs_beside_the_others(fleet: Fleet) -> None:
    # 24:00 of 9999-12-31 is past what an instant holds: the campaign ends at the end of time instead, and neither
    # its reports nor the engine's tick (which every other campaign waits on) fail over it.
    # Both start tomorrow: 19:00 of today may already be past on a clock that starts at the wall clock's time.
    server = fleet.server
    last_day = (date.max - fleet.day(0)).days
    far = fleet.create(start=1, end=last_day, devices=fleet.devices[:2])
    assert far["endDate"] == "9999-12-31"
    near = fleet.create(start=1, end=2, devices=fleet.devices[2:3])["id"]

    server.set_clock(midnight(fleet.day(1)) + timedelta(hours=19))
    assert fleet.status(far["id"]) == fleet.status(near) == "CampaignScheduled"
    assert {s["status"] for s in fleet.device_statuses(far["id"]).values()} == {"UpgradePending"}

    server.set_clock(midnight(fleet.day(3)))  # 24:00 of the near campaign's endDate
    assert fleet.status(near) == "CampaignEnded"
    assert fleet.status(far["id"]) == "CampaignScheduled"
    assert {s["status"] for s in fleet.device_statuses(far["id"]).values()} == {"UpgradePending"}
    assert fleet.change_dates(far["id"], fleet.day(1), date.max).status_code == 200


def test_date_changes_before_and_after_start(fleet: Fleet) -> None:
    server = fleet.server
    cid = fleet.create(start=3, end=6, windows=[(18, 22)])["id"]

    # Before the start every valid change works: both dates and the windows.
    r = fleet.change_dates(cid, fleet.day(2), fleet.day(8), windows=[(2, 6), (18, 23)])
    assert r.status_code == 200, r.text
    changed = r.json()
    assert (changed["id"], changed["startDate"], changed["endDate"]) == (
        cid,
        fleet.day(2).isoformat(),
        fleet.day(8).isoformat(),
    )
    assert windows_of(changed) == [(2, 6), (18, 23)]
    got = fleet.campaign(cid)
    assert (got["startDate"], got["endDate"], windows_of(got)) == (
        fleet.day(2).isoformat(),
        fleet.day(8).isoformat(),
        [(2, 6), (18, 23)],
    )
    assert got["status"] in QUEUED
    assert fleet.history(fleet.devices[0], cid)[-1]["startDate"] == fleet.day(2).isoformat()

    # Later start, shorter campaign, windows left out (the request replaces them: any hour).
    r = fleet.change_dates(cid, fleet.day(4), fleet.day(5))
    assert r.status_code == 200, r.text
    got = fleet.campaign(cid)
    assert (got["startDate"], got["endDate"], windows_of(got)) == (
        fleet.day(4).isoformat(),
        fleet.day(5).isoformat(),
        [],
    )
    assert fleet.history(fleet.devices[0], cid)[-1]["startDate"] == fleet.day(4).isoformat()

    # Into the campaign, on its second day: startDate now lies in the past.
    server.set_clock(midnight(fleet.day(5)) + timedelta(hours=1))
    assert fleet.status(cid) == "CampaignScheduled"

    for start in (fleet.day(5), fleet.day(6), fleet.day(3)):
        assert_error(fleet.change_dates(cid, start, fleet.day(9)), 400)
    assert fleet.campaign(cid)["startDate"] == fleet.day(4).isoformat()

    # ... but endDate and windows may still move, sending the unchanged startDate again.
    r = fleet.change_dates(cid, fleet.day(4), fleet.day(9), windows=[(12, 20)])
    assert r.status_code == 200, r.text
    got = fleet.campaign(cid)
    assert (got["startDate"], got["endDate"], windows_of(got), got["status"]) == (
        fleet.day(4).isoformat(),
        fleet.day(9).isoformat(),
        [(12, 20)],
        "CampaignScheduled",
    )
    assert fleet.device_statuses(cid)[fleet.devices[0]]["status"] == "UpgradePending"
    newest = fleet.history(fleet.devices[0], cid)[-1]
    assert newest["startDate"] == fleet.day(4).isoformat() and newest["status"] == "UpgradePending", newest

    # An endDate already behind us is refused, and bad windows still are.
    assert_error(fleet.change_dates(cid, fleet.day(4), fleet.day(4)), 400)
    assert_error(fleet.change_dates(cid, fleet.day(4), fleet.day(9), windows=[(12, 14)]), 400)
    got = fleet.campaign(cid)
    assert (got["endDate"], windows_of(got)) == (fleet.day(9).isoformat(), [(12, 20)])

    # The moved end date is the one the engine obeys.
    server.set_clock(midnight(fleet.day(9)) + timedelta(hours=12))
    assert fleet.status(cid) == "CampaignScheduled"
    server.set_clock(midnight(fleet.day(10)))
    assert fleet.status(cid) == "CampaignEnded"
