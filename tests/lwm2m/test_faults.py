"""Each injected device fault ends in the right per-device status and reason; transient failures are retried with
back-off up to the limit, and no upgrade stays in progress past its time-out."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from datetime import timedelta

import pytest

from fota.simulator.device import DeviceConfig
from fota.simulator.faults import Fault
from fota.simulator.fleet import Fleet
from tests.conftest import RunningServer
from tests.lwm2m.harness import FROM, MAKE, MODEL, TO, create_campaign_with_sdk, device_report, provision

pytestmark = pytest.mark.slow

FAULTS = [None, *Fault]  # one healthy device, then one device per fault

EXPECTED = {
    None: ("UpgradeSuccess", "Upgrade completed successfully"),
    Fault.DROP_DOWNLOAD: (
        "UpgradeFailed",
        "Update Result 4: Connection lost during downloading process (after 3 attempts)",
    ),
    Fault.CORRUPT: (
        "UpgradeFailed",
        "Update Result 5: Integrity check failure for new downloaded package (after 3 attempts)",
    ),
    Fault.UPDATE_FAILS: ("UpgradeFailed", "Update Result 8: Firmware update failed"),
    Fault.OLD_FIRMWARE: ("UpgradeFailed", "firmware mismatch after reboot: device reports '1.0.0', expected '2.0.0'"),
    Fault.NEVER_RETURNS: ("UpgradeFailed", "time-out: the device did not come back after the Update"),
    Fault.UNSUPPORTED_PACKAGE: ("UpgradeFailed", "Update Result 6: Unsupported package type"),
}


def test_every_fault_ends_in_its_status_and_reason(private_server: RunningServer) -> None:
    server = private_server
    account = server.new_account()
    firmware, imeis, start = provision(server, account, len(FAULTS))
    today = server.now().date()
    campaign_id = create_campaign_with_sdk(account, firmware, imeis, today, today + timedelta(days=2))
    server.advance(0)  # scheduled now: the campaign starts today, any hour

    template = DeviceConfig(
        server=server.coap_url,
        make=MAKE,
        model=MODEL,
        firmware=FROM,
        checkin_interval=1.0,
        awake_seconds=6.0,
        reboot_seconds=0.3,
        lifetime=3600,
        transfer_timeout=5.0,
    )
    by_imei = dict(zip(imeis, FAULTS, strict=True))

    def settled() -> bool:
        return all(r["status"] not in ("UpgradePending", "UpgradeInProgress") for r in report().values())

    def report() -> dict[str, dict[str, object]]:
        return device_report(account, campaign_id)

    async def scenario() -> None:
        fleets = [
            Fleet(1, dataclasses.replace(template, faults=frozenset({f}) if f else frozenset()), imei_start=start + i)
            for i, f in enumerate(FAULTS)
        ]
        for fleet in fleets:
            await fleet.start()
        try:
            done = threading.Event()
            # Time moves on the server only when told: step past retry back-offs and the Update time-out.
            for _ in range(60):
                await asyncio.sleep(1.0)
                if await asyncio.to_thread(settled):
                    done.set()
                    break
                await asyncio.to_thread(server.advance, 5 * 60)
            assert done.is_set(), await asyncio.to_thread(report)
            devices = [fleet.devices[0] for fleet in fleets]
            assert [d.update_executions for d in devices] == [
                1 if f in (None, Fault.UPDATE_FAILS, Fault.OLD_FIRMWARE, Fault.NEVER_RETURNS) else 0 for f in FAULTS
            ]
        finally:
            for fleet in fleets:
                await fleet.stop()

    asyncio.run(scenario())

    final = report()
    for imei, fault in by_imei.items():
        status, reason = EXPECTED[fault]
        assert final[imei]["status"] == status, (fault, final[imei])
        assert str(final[imei]["resultReason"]).startswith(reason), (fault, final[imei])
    assert not any(r["status"] == "UpgradeInProgress" for r in final.values())
    # The retried faults really were tried three times: three "Downloading" steps in their history.
    with account.client() as client:
        for imei, fault in by_imei.items():
            history = client.get(f"/reports/{account.name}/devices/{imei}").json()
            starts = sum(1 for h in history if h["status"] == "UpgradeInProgress" and h["reason"] == "Downloading")
            assert starts == (3 if fault in (Fault.DROP_DOWNLOAD, Fault.CORRUPT) else 1), (fault, history)
    assert firmware["firmwareTo"] == TO
