"""The bandwidth budget on the HTTP download path, with HTTP devices of the poll protocol: a start the hour cannot
carry waits as UpgradePending with the budget's reason, a body carries at most one hour's budget (a 206 the device
resumes from), a request past the budget is a 503 with Retry-After, and the ranged resume succeeds in the next hour.
The bytes sent in each simulated clock hour never exceed the budget."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select

from fota.adapters.storage.database import make_engine
from fota.adapters.storage.tables import campaign_bandwidth
from tests.fota_server import FotaServer

BUDGET = 2048  # bytes per hour: two CoAP blocks' worth, less than one image
IMAGE = random.Random(13).randbytes(3000)


def test_http_downloads_keep_to_the_hourly_budget(private_in_process_server: FotaServer) -> None:
    server = private_in_process_server
    account = server.new_account()
    firmware = server.new_firmware(make="Acme", model="Meter-9", firmware_from="1", firmware_to="2", protocol="HTTP")
    assert server.admin.put(f"/firmware/{firmware['firmwareName']}/image", content=IMAGE).status_code == 200
    first, second = (str(random.randint(10**14, 10**15 - 1)) for _ in range(2))
    account.add_devices(
        [
            {"deviceId": imei, "make": "Acme", "model": "Meter-9", "firmware": "1", "protocol": "HTTP"}
            for imei in (first, second)
        ]
    )
    keys = {
        imei: server.admin.post(f"/accounts/{account.name}/devices/{imei}/key").json()["deviceKey"]
        for imei in (first, second)
    }
    today = server.now().date() + timedelta(days=1)  # the clock never moves back: the campaign runs tomorrow
    with account.client() as client:
        r = client.post(
            f"/campaigns/firmware/{account.name}",
            json={
                "firmwareName": firmware["firmwareName"],
                "firmwareFrom": "1",
                "firmwareTo": "2",
                "protocol": "HTTP",
                "startDate": today.isoformat(),
                "endDate": (today + timedelta(days=1)).isoformat(),
                "deviceList": [first, second],
                "autoAssignLicenseFlag": True,
                "autoAddDevicesFlag": False,
                "bandwidth": {"bytesPerHour": BUDGET},
            },
        )
        assert r.status_code == 200, r.text
        campaign_id = r.json()["id"]
    nine = datetime.combine(today, datetime.min.time(), tzinfo=UTC).replace(hour=9)
    server.set_clock(nine + timedelta(minutes=10))
    sent: Counter[datetime] = Counter()  # body bytes received, by the simulated clock hour they were sent in

    def check_in(imei: str) -> dict[str, object]:
        r = server.http.post(
            f"/device/v1/devices/{imei}/checkin",
            json={"firmware": "1", "state": 0, "updateResult": 0},
            headers={"Authorization": f"Bearer {keys[imei]}"},
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    def fetch(url: str, headers: dict[str, str] | None = None) -> httpx.Response:
        r = server.http.get(url, headers=headers or {})
        sent[server.now().replace(minute=0, second=0, microsecond=0)] += len(r.content) if r.is_success else 0
        return r

    def row(imei: str) -> dict[str, object]:
        with account.client() as client:
            report = client.get(f"/reports/{account.name}/campaigns/{campaign_id}/devices").json()["deviceList"]
        return next(d for d in report if d["deviceId"] == imei)

    # 09:10: the first device is admitted with one hour's budget; the second cannot be, and waits for 10:00.
    instruction = check_in(first)
    assert instruction["action"] == "download", (row(first), row(second), server.now())
    assert check_in(second) == {"action": "none"}
    waiting = row(second)
    assert waiting["status"] == "UpgradePending"
    ten = nine + timedelta(hours=1)
    assert waiting["resultReason"] == (
        f"waiting for the bandwidth budget: the campaign's {BUDGET} bytes per hour are used up until {ten.isoformat()}"
    )
    assert datetime.fromisoformat(str(waiting["nextAttemptTime"])) == ten

    # The body carries what the hour grants: a 206 of the first BUDGET bytes, though no Range was asked for.
    url = str(instruction["packageUrl"])
    head = fetch(url)
    assert head.status_code == 206, head.text
    assert head.headers["Content-Range"] == f"bytes 0-{BUDGET - 1}/{len(IMAGE)}"
    assert head.content == IMAGE[:BUDGET]
    # The ranged resume in the same hour finds the budget used up.
    refused = fetch(url, {"Range": f"bytes={BUDGET}-"})
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == str(50 * 60)
    assert check_in(second) == {"action": "none"}  # no attempt before 10:00, and no counter work either

    # 10:00:05: the resume is served from the new hour; the second device still does not fit beside it.
    server.set_clock(ten + timedelta(seconds=5))
    tail = fetch(url, {"Range": f"bytes={BUDGET}-"})
    assert tail.status_code == 206, tail.text
    assert tail.headers["Content-Range"] == f"bytes {BUDGET}-{len(IMAGE) - 1}/{len(IMAGE)}"
    assert head.content + tail.content == IMAGE
    assert check_in(second) == {"action": "none"}
    assert row(second)["nextAttemptTime"] is not None

    # 11:00: the second device starts, and downloads its first hour's share.
    eleven = ten + timedelta(hours=1)
    server.set_clock(eleven)
    assert row(second)["status"] == "UpgradePending"
    instruction = check_in(second)
    assert instruction["action"] == "download"
    assert fetch(str(instruction["packageUrl"])).content == IMAGE[:BUDGET]
    assert row(second)["status"] == "UpgradeInProgress"

    assert sent == {nine: BUDGET, ten: len(IMAGE) - BUDGET, eleven: BUDGET}
    engine = make_engine(server.database_url)
    try:
        with engine.connect() as connection:
            counters = dict(
                connection.execute(
                    select(campaign_bandwidth.c.hour, campaign_bandwidth.c.bytes).where(
                        campaign_bandwidth.c.campaign_id == campaign_id
                    )
                ).all()
            )
    finally:
        engine.dispose()
    # The claims' start grants were taken over by the first bodies: nothing was counted twice.
    assert counters == {nine: BUDGET, ten: len(IMAGE) - BUDGET, eleven: BUDGET}
    assert max(sent.values()) <= BUDGET
