"""License pool behaviour over real HTTP: concurrency, the assign/remove round trip, the v2 cancel list.

The pool never over-commits (design.md §5, docs/behaviour.md "Licenses"): many clients assigning at once, or
creating auto-licensing campaigns at once, end with exactly `licenseCount` licensed devices, and every answer
agrees with the final state. The v2 cancel list (contract §5 rows 5-7): POST without `type` replaces the list,
`"type": "append"` adds to it, DELETE drops it; the SDK labels the POST body `Content-Type: */*`.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.fota_server import Account, FotaServer

V2 = "/api/fota/v2"


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


def provision(account: Account, fw: dict[str, str], count: int) -> list[str]:
    imeis = [luhn_imei() for _ in range(count)]
    account.add_devices(
        [
            {
                "deviceId": d,
                "mdn": f"{secrets.randbelow(10**10):010d}",
                "make": fw["make"],
                "model": fw["model"],
                "firmware": fw["firmwareFrom"],
                "protocol": fw["protocol"],
            }
            for d in imeis
        ]
    )
    return imeis


def summary(api: httpx.Client, acc: str) -> dict[str, Any]:
    """The license summary with every page's devices joined."""
    r = api.get(f"/licenses/{acc}")
    assert r.status_code == 200, r.text
    body = r.json()
    devices = list(body.get("deviceList") or [])
    while body["hasMoreData"]:
        r = api.get(f"/licenses/{acc}", params={"lastSeenDeviceId": body["lastSeenDeviceId"]})
        assert r.status_code == 200, r.text
        body = r.json()
        devices += body.get("deviceList") or []
    return {**body, "deviceList": devices}


def licensed_devices(api: httpx.Client, acc: str) -> set[str]:
    """Devices whose account-device record says licenseAssigned, across pages."""
    licensed: set[str] = set()
    params: dict[str, str] = {"protocol": "LWM2M"}
    while True:
        r = api.get(f"/devices/{acc}", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        licensed |= {d["deviceId"] for d in body["deviceList"] if d["licenseAssigned"]}
        if not body["hasMoreData"]:
            return licensed
        params["lastSeenDeviceId"] = body["lastSeenDeviceId"]


def run_together(jobs: list[Any], workers: int) -> list[Any]:
    """Run the callables at once: every thread waits at a barrier before its request."""
    barrier = threading.Barrier(len(jobs))

    def go(job: Any) -> Any:
        barrier.wait(timeout=30)
        return job()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(go, jobs))


# ----------------------------------------------------------------------------------------------------
# Concurrency


def test_parallel_assigns_never_overcommit_the_pool(in_process_server: FotaServer) -> None:
    server = in_process_server
    n = 20
    account = server.new_account(license_count=n)
    fw = server.new_firmware()
    imeis = provision(account, fw, 3 * n)
    chunks = [imeis[i : i + 2] for i in range(0, len(imeis), 2)]  # 30 requests of 2 devices
    headers = account.headers()

    done = threading.Event()
    seen: list[int] = []
    watch_errors: list[str] = []

    def watch() -> None:
        """Reads the summary over and over while the assigns run."""
        with server.client("/api/fota/v3", headers=headers) as api:
            while not done.is_set():
                r = api.get(f"/licenses/{account.name}")
                if r.status_code != 200:
                    watch_errors.append(f"{r.status_code} {r.text}")
                    return
                seen.append(int(r.json()["assignedLicenses"] or 0))

    def assign(chunk: list[str]) -> Any:
        def call() -> httpx.Response:
            with server.client("/api/fota/v3", headers=headers) as api:
                return api.post(f"/licenses/{account.name}/assign", json={"deviceList": chunk})

        return call

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        responses = run_together([assign(c) for c in chunks], workers=len(chunks))
    finally:
        done.set()
        watcher.join()

    successes: set[str] = set()
    for chunk, r in zip(chunks, responses, strict=True):
        assert r.status_code == 200, f"{chunk}: {r.status_code} {r.text}"
        body = r.json()
        assert body["licCount"] == n, body
        assert 0 < body["licUsedCount"] <= n, body
        assert sorted(d["deviceId"] for d in body["deviceList"]) == sorted(chunk), body
        for item in body["deviceList"]:
            assert item["status"] in ("LicenseAssignSuccess", "LicenseAssignFailed"), item
            if item["status"] == "LicenseAssignSuccess":
                successes.add(item["deviceId"])
            else:
                assert item.get("resultReason"), item

    assert len(successes) == n
    assert not watch_errors, watch_errors
    assert seen, "the summary was never read during the assigns"
    assert max(seen) <= n, f"the summary showed {max(seen)} > {n} assigned licenses"
    with server.client("/api/fota/v3", headers=account.headers()) as api:
        final = summary(api, account.name)
        assert final["assignedLicenses"] == n
        assert final.get("totalLicenses") == n
        assert {d["deviceId"] for d in final["deviceList"]} == successes
        assert licensed_devices(api, account.name) == successes
        subscription = api.get(f"/subscriptions/{account.name}").json()
        assert (subscription["licenseCount"], subscription["licenseUsedCount"]) == (n, n), subscription


def test_parallel_auto_licensing_campaign_creates_share_one_pool(in_process_server: FotaServer) -> None:
    server = in_process_server
    n = 10
    account = server.new_account(license_count=n)
    fw = server.new_firmware()
    imeis = provision(account, fw, 3 * n)
    groups = [imeis[i : i + 5] for i in range(0, len(imeis), 5)]  # 6 campaigns of 5 devices
    today = server.now().date()
    headers = account.headers()

    def create(devices: list[str]) -> Any:
        body = {
            "firmwareName": fw["firmwareName"],
            "firmwareFrom": fw["firmwareFrom"],
            "firmwareTo": fw["firmwareTo"],
            "protocol": "LWM2M",
            "startDate": (today + timedelta(days=1)).isoformat(),
            "endDate": (today + timedelta(days=3)).isoformat(),
            "deviceList": devices,
            "autoAssignLicenseFlag": True,
            "autoAddDevicesFlag": False,
            "campaignName": "pool",
            "campaignTimeWindowList": [{"startTime": 18, "endTime": 22}],
        }

        def call() -> httpx.Response:
            with server.client("/api/fota/v3", headers=headers) as api:
                return api.post(f"/campaigns/firmware/{account.name}", json=body)

        return call

    responses = run_together([create(g) for g in groups], workers=len(groups))

    enrolled: set[str] = set()
    with server.client("/api/fota/v3", headers=account.headers()) as api:
        for group, r in zip(groups, responses, strict=True):
            assert r.status_code in (200, 400), f"{group}: {r.status_code} {r.text}"
            if r.status_code != 200:
                continue
            report = api.get(f"/reports/{account.name}/campaigns/{r.json()['id']}/devices")
            assert report.status_code == 200, report.text
            rows = {d["deviceId"]: d for d in report.json()["deviceList"]}
            assert set(rows) == set(group), rows
            for imei, row in rows.items():
                assert row["status"] in ("UpgradePending", "DeviceRejected"), row
                if row["status"] == "UpgradePending":
                    enrolled.add(imei)
                else:
                    assert row.get("resultReason"), row
        final = summary(api, account.name)
        assert final["assignedLicenses"] == n, final
        assert len(enrolled) == n
        assert {d["deviceId"] for d in final["deviceList"]} == enrolled
        assert licensed_devices(api, account.name) == enrolled


# ----------------------------------------------------------------------------------------------------
# Assign and remove


def results(r: httpx.Response) -> dict[str, dict[str, Any]]:
    assert r.status_code == 200, r.text
    return {d["deviceId"]: d for d in r.json()["deviceList"]}


def statuses_of(r: httpx.Response) -> dict[str, str]:
    return {k: v["status"] for k, v in results(r).items()}


def test_assign_and_remove_round_trip(in_process_server: FotaServer) -> None:
    server = in_process_server
    account = server.new_account(license_count=5)
    fw = server.new_firmware()
    a, b, c, d = provision(account, fw, 4)
    stranger = luhn_imei()
    with account.client() as api:
        start = summary(api, account.name)
        assert (start["assignedLicenses"] or 0, start.get("totalLicenses"), start["deviceList"]) == (0, 5, [])

        r = api.post(f"/licenses/{account.name}/assign", json={"deviceList": [a, b, c]})
        assert r.json()["licCount"] == 5 and r.json()["licUsedCount"] == 3, r.text
        assert statuses_of(r) == dict.fromkeys((a, b, c), "LicenseAssignSuccess")
        assigned = summary(api, account.name)
        assert assigned["assignedLicenses"] == 3
        assert {x["deviceId"] for x in assigned["deviceList"]} == {a, b, c}
        for x in assigned["deviceList"]:
            assert isinstance(x.get("assignmentTime"), str) and x["assignmentTime"], x

        # Assigning to an already licensed device succeeds without using another license.
        r = api.post(f"/licenses/{account.name}/assign", json={"deviceList": [a]})
        assert results(r)[a]["status"] == "LicenseAssignSuccess"
        assert r.json()["licUsedCount"] == 3
        # A device the account does not have fails, with a reason.
        r = api.post(f"/licenses/{account.name}/assign", json={"deviceList": [stranger]})
        assert results(r)[stranger]["status"] == "LicenseAssignFailed"
        assert results(r)[stranger].get("resultReason")
        assert summary(api, account.name)["assignedLicenses"] == 3

        r = api.post(f"/licenses/{account.name}/remove", json={"deviceList": [a, b]})
        assert r.json()["licUsedCount"] == 1, r.text
        assert statuses_of(r) == dict.fromkeys((a, b), "LicenseRemoveSuccess")
        # Removing from unlicensed or unknown devices fails per device.
        r = api.post(f"/licenses/{account.name}/remove", json={"deviceList": [a, d, stranger]})
        for imei in (a, d, stranger):
            assert results(r)[imei]["status"] == "LicenseRemoveFailed", r.text
            assert results(r)[imei].get("resultReason"), r.text
        after = summary(api, account.name)
        assert after["assignedLicenses"] == 1
        assert [x["deviceId"] for x in after["deviceList"]] == [c]
        assert licensed_devices(api, account.name) == {c}

        # Freed licenses can be handed out again, up to the pool and no further.
        r = api.post(f"/licenses/{account.name}/assign", json={"deviceList": [a, b, d]})
        assert statuses_of(r) == dict.fromkeys((a, b, d), "LicenseAssignSuccess")
        assert r.json()["licUsedCount"] == 4
        extra = provision(account, fw, 2)
        r = api.post(f"/licenses/{account.name}/assign", json={"deviceList": extra})
        statuses = sorted(v["status"] for v in results(r).values())
        assert statuses == ["LicenseAssignFailed", "LicenseAssignSuccess"], r.text
        assert summary(api, account.name)["assignedLicenses"] == 5


def test_license_of_a_device_in_a_live_campaign_cannot_be_removed(in_process_server: FotaServer) -> None:
    server = in_process_server
    account = server.new_account(license_count=5)
    fw = server.new_firmware()
    (imei,) = provision(account, fw, 1)
    today = server.now().date()
    with account.client() as api:
        r = api.post(
            f"/campaigns/firmware/{account.name}",
            json={
                "firmwareName": fw["firmwareName"],
                "firmwareFrom": fw["firmwareFrom"],
                "firmwareTo": fw["firmwareTo"],
                "protocol": "LWM2M",
                "startDate": today.isoformat(),
                "endDate": (today + timedelta(days=2)).isoformat(),
                "deviceList": [imei],
                "autoAssignLicenseFlag": True,
                "autoAddDevicesFlag": False,
            },
        )
        assert r.status_code == 200, r.text
        r = api.post(f"/licenses/{account.name}/remove", json={"deviceList": [imei]})
        assert results(r)[imei]["status"] == "LicenseRemoveFailed"
        assert results(r)[imei].get("resultReason")
        assert summary(api, account.name)["assignedLicenses"] == 1


# ----------------------------------------------------------------------------------------------------
# The v2 cancel list


@pytest.fixture
def v2(in_process_account: Account) -> Iterator[httpx.Client]:
    account = in_process_account
    with account.server.client(f"{V2}/licenses/{account.name}", headers=account.headers()) as client:
        yield client


def post_list(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/cancel", content=json.dumps(body).encode(), headers={"Content-Type": "*/*"})
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    assert isinstance(result["count"], int) and isinstance(result["deviceList"], list), result
    return result


def cancel_list(client: httpx.Client) -> dict[str, Any]:
    r = client.get("/cancel")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert isinstance(body["hasMoreData"], bool) and isinstance(body["updateTime"], str), body
    assert body["count"] == len(body["deviceList"]), body
    return body


def test_cancel_list_starts_empty(v2: httpx.Client) -> None:
    body = cancel_list(v2)
    assert (body["count"], body["deviceList"], body["hasMoreData"]) == (0, [], False)


def test_cancel_list_post_without_type_replaces_and_append_adds(v2: httpx.Client, in_process_account: Account) -> None:
    account = in_process_account
    fw = account.server.new_firmware()
    a, b, c, d = provision(account, fw, 4)

    post_list(v2, {"deviceList": [a, b]})
    assert cancel_list(v2)["deviceList"] == sorted([a, b])  # ascending id order, like every list

    post_list(v2, {"deviceList": [c], "type": "append"})
    listed = cancel_list(v2)
    assert listed["deviceList"] == sorted([a, b, c]) and listed["count"] == 3

    post_list(v2, {"deviceList": [d]})
    listed = cancel_list(v2)
    assert listed["deviceList"] == [d] and listed["count"] == 1


def test_cancel_list_delete_drops_the_list(v2: httpx.Client, in_process_account: Account) -> None:
    account = in_process_account
    fw = account.server.new_firmware()
    a, b = provision(account, fw, 2)
    post_list(v2, {"deviceList": [a, b]})
    r = v2.delete("/cancel")
    assert r.status_code == 200, r.text
    assert r.json() == {"success": True}
    body = cancel_list(v2)
    assert (body["count"], body["deviceList"]) == (0, [])
    post_list(v2, {"deviceList": [b], "type": "append"})  # appending to a dropped list starts a new one
    assert cancel_list(v2)["deviceList"] == [b]


def test_cancel_list_is_per_account(v2: httpx.Client, in_process_account: Account) -> None:
    account = in_process_account
    fw = account.server.new_firmware()
    (a,) = provision(account, fw, 1)
    post_list(v2, {"deviceList": [a]})
    other = account.server.new_account()
    with account.server.client(f"{V2}/licenses/{other.name}", headers=other.headers()) as client:
        assert cancel_list(client)["deviceList"] == []
    assert cancel_list(v2)["deviceList"] == [a]


def test_cancel_list_does_not_remove_licenses(v2: httpx.Client, in_process_account: Account) -> None:
    account = in_process_account
    fw = account.server.new_firmware()
    a, b = provision(account, fw, 2)
    with account.client() as api:
        api.post(f"/licenses/{account.name}/assign", json={"deviceList": [a, b]}).raise_for_status()
        post_list(v2, {"deviceList": [a]})
        assert summary(api, account.name)["assignedLicenses"] == 2
