"""A campaign's `retryPolicy` decides over real LwM2M devices: a neverRetry failure fails the device after its first
attempt, and a retried failure waits out the policy's back-off on the simulated clock, not the server's own."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from fota.adapters.storage.database import make_engine
from fota.adapters.storage.tables import campaign_devices
from fota.simulator.device import DeviceConfig
from fota.simulator.faults import Fault
from fota.simulator.fleet import Fleet
from tests.conftest import Account, RunningServer
from tests.lwm2m.harness import FROM, MAKE, MODEL, TO, device_report, provision


def template(server: RunningServer, fault: Fault) -> DeviceConfig:
    return DeviceConfig(
        server=server.coap_url,
        make=MAKE,
        model=MODEL,
        firmware=FROM,
        checkin_interval=0.5,
        awake_seconds=4.0,
        reboot_seconds=0.3,
        lifetime=3600,
        transfer_timeout=5.0,
        faults=frozenset({fault}),
    )


def create_campaign(
    account: Account, firmware: dict[str, str], imei: str, today: date, retry_policy: dict[str, Any]
) -> str:
    body = {
        "firmwareName": firmware["firmwareName"],
        "firmwareFrom": FROM,
        "firmwareTo": TO,
        "protocol": "LWM2M",
        "startDate": today.isoformat(),
        "endDate": (today + timedelta(days=2)).isoformat(),
        "deviceList": [imei],
        "autoAssignLicenseFlag": True,
        "autoAddDevicesFlag": False,
        "campaignName": "retry policy",
        "retryPolicy": retry_policy,
    }
    with account.client() as client:
        r = client.post(f"/campaigns/firmware/{account.name}", json=body)
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def starts(account: Account, imei: str) -> int:
    """Attempts begun, as the device's history shows them: one "Downloading" step each."""
    with account.client() as client:
        history = client.get(f"/reports/{account.name}/devices/{imei}").json()
    return sum(1 for h in history if h["status"] == "UpgradeInProgress" and h["reason"] == "Downloading")


def stored_attempts(server: RunningServer, campaign_id: str, imei: str) -> int:
    engine = make_engine(server.database_url)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(
                    select(campaign_devices.c.attempts).where(
                        campaign_devices.c.campaign_id == campaign_id, campaign_devices.c.device_id == imei
                    )
                ).scalar_one()
            )
    finally:
        engine.dispose()


def test_never_retry_fails_at_once_and_backoff_follows_the_policy(private_server: RunningServer) -> None:
    server = private_server
    account = server.new_account()
    firmware, imeis, start = provision(server, account, 2)
    corrupt, dropping = imeis
    today = server.now().date()
    never = create_campaign(account, firmware, corrupt, today, {"neverRetry": ["IntegrityFailure"]})
    backoff = create_campaign(account, firmware, dropping, today, {"maxAttempts": 3, "backoffSeconds": [300, 3600]})
    server.advance(0)  # both scheduled now: they start today, any hour

    def row(campaign_id: str, imei: str) -> dict[str, Any]:
        return device_report(account, campaign_id)[imei]

    async def until(predicate: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not await asyncio.to_thread(predicate):
            assert loop.time() < deadline, what
            await asyncio.sleep(0.2)

    async def check_ins(fleet: Fleet, count: int) -> None:
        """`count` more registration updates: the device asked for work that often, with the clock standing."""
        device = fleet.devices[0]
        seen = device.updates
        await fleet.wait_for(lambda: device.updates >= seen + count, 30.0, f"{count} check-ins")

    async def scenario() -> None:
        fleets = [
            Fleet(1, template(server, Fault.CORRUPT), imei_start=start),
            Fleet(1, template(server, Fault.DROP_DOWNLOAD), imei_start=start + 1),
        ]
        corrupt_fleet, dropping_fleet = fleets
        for fleet in fleets:
            await fleet.start()
        try:
            # The integrity failure is final at once, where the server's own rule would retry it.
            await until(lambda: row(never, corrupt)["status"] == "UpgradeFailed", "the corrupt device fails")
            failed = row(never, corrupt)
            assert failed["resultReason"] == (
                "Update Result 5: Integrity check failure for new downloaded package "
                "(IntegrityFailure is never retried)"
            )

            # The lost connection is retried, but only after the policy's 300 s.
            await until(lambda: row(backoff, dropping)["status"] == "UpgradePending", "the first attempt fails")
            first_failed_at = await asyncio.to_thread(server.now)
            pending = row(backoff, dropping)
            assert datetime.fromisoformat(pending["nextAttemptTime"]) == first_failed_at + timedelta(seconds=300)
            assert str(pending["resultReason"]).startswith(
                "attempt 1 failed (Update Result 4: Connection lost during downloading process)"
            )
            await check_ins(dropping_fleet, 3)
            await asyncio.to_thread(server.advance, 299)  # past the server's own back-off (60 s), not the policy's
            await check_ins(dropping_fleet, 3)
            assert await asyncio.to_thread(starts, account, dropping) == 1
            assert row(backoff, dropping)["status"] == "UpgradePending"

            await asyncio.to_thread(server.advance, 1)
            await until(lambda: starts(account, dropping) == 2, "the second attempt starts once 300 s passed")
            await until(lambda: row(backoff, dropping)["status"] == "UpgradePending", "the second attempt fails")
            second_failed_at = await asyncio.to_thread(server.now)
            assert datetime.fromisoformat(row(backoff, dropping)["nextAttemptTime"]) == second_failed_at + timedelta(
                seconds=3600
            )
            await asyncio.to_thread(server.advance, 3600)
            await until(lambda: row(backoff, dropping)["status"] == "UpgradeFailed", "the third attempt is the last")
            await check_ins(corrupt_fleet, 2)
            assert [f.devices[0].update_executions for f in fleets] == [0, 0]
        finally:
            for fleet in fleets:
                await fleet.stop()

    asyncio.run(scenario())

    final = row(backoff, dropping)
    assert final["resultReason"] == (
        "Update Result 4: Connection lost during downloading process (after 3 attempts)"
    ), final
    assert starts(account, dropping) == 3
    assert stored_attempts(server, backoff, dropping) == 3
    # Over an hour of simulated time later the corrupt device still had its one attempt only.
    assert row(never, corrupt)["status"] == "UpgradeFailed"
    assert starts(account, corrupt) == 1
    assert stored_attempts(server, never, corrupt) == 1
