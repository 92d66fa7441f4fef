"""A simulated LwM2M device that reports a zone in the Device object's Timezone (/3/0/15) at registration has that
zone, written with the firmware it reports in the same read, unless the administration set one; a device without
the resource, or with a name that is no IANA zone, has none. A zone the administration clears is filled again by
the device's next registration."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

from fota.simulator.device import DeviceConfig
from fota.simulator.fleet import Fleet
from tests.conftest import Account, RunningServer
from tests.lwm2m.harness import FROM, MAKE, MODEL, imei_block

KOLKATA, BERLIN, LOS_ANGELES = "Asia/Kolkata", "Europe/Berlin", "America/Los_Angeles"


def _read(account: Account, imei: str) -> dict[str, Any]:
    r = account.server.admin.get(f"/accounts/{account.name}/devices/{imei}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _wait_for_firmware(account: Account, imeis: list[str], firmware: str, timeout: float = 30.0) -> None:
    """The report is one write: once the firmware a device reported is stored, so is the zone read with it."""
    deadline = time.monotonic() + timeout
    while any(_read(account, imei)["firmware"] != firmware for imei in imeis):
        if time.monotonic() > deadline:
            raise TimeoutError(f"devices {imeis} did not report firmware {firmware} within {timeout} s")
        time.sleep(0.1)


def _zone(account: Account, imei: str) -> tuple[str | None, str | None]:
    body = _read(account, imei)
    return body["timeZone"], body["timeZoneSource"]


def test_a_reported_zone_is_taken_unless_the_administration_set_one(server: RunningServer) -> None:
    account = server.new_account()
    start = imei_block(4)
    reporting, overridden, silent, garbled = (str(start + i) for i in range(4))
    account.add_devices(
        [
            {"deviceId": i, "make": MAKE, "model": MODEL, "firmware": FROM, "protocol": "LWM2M"}
            | ({"timeZone": BERLIN} if i == overridden else {})
            for i in (reporting, overridden, silent, garbled)
        ]
    )
    template = DeviceConfig(
        server=server.coap_url,
        make=MAKE,
        model=MODEL,
        firmware="1.0.1",
        checkin_interval=30.0,
        awake_seconds=5.0,
        lifetime=300,
    )
    zones = {reporting: KOLKATA, overridden: KOLKATA, silent: None, garbled: "+05:30"}

    def fleet(imei: str, firmware: str) -> Fleet:
        config = dataclasses.replace(template, firmware=firmware, time_zone=zones[imei])
        return Fleet(1, config, imei_start=int(imei))

    async def scenario() -> None:
        fleets = [fleet(imei, "1.0.1") for imei in zones]
        for each in fleets:
            await each.start()
        try:
            await asyncio.to_thread(_wait_for_firmware, account, list(zones), "1.0.1")
            assert await asyncio.to_thread(_zone, account, reporting) == (KOLKATA, "device")
            assert await asyncio.to_thread(_zone, account, overridden) == (BERLIN, "admin")
            assert await asyncio.to_thread(_zone, account, silent) == (None, None)
            assert await asyncio.to_thread(_zone, account, garbled) == (None, None)
        finally:
            for each in fleets:
                await each.stop()

        # The administration overrides the reported zone and clears its own; both devices register again.
        admin = account.server.admin
        path = f"/accounts/{account.name}/devices"
        assert admin.patch(f"{path}/{reporting}", json={"timeZone": LOS_ANGELES}).status_code == 200
        assert admin.patch(f"{path}/{overridden}", json={"timeZone": None}).status_code == 200
        again = [fleet(reporting, "1.0.2"), fleet(overridden, "1.0.2")]
        for each in again:
            await each.start()
        try:
            await asyncio.to_thread(_wait_for_firmware, account, [reporting, overridden], "1.0.2")
            assert await asyncio.to_thread(_zone, account, reporting) == (LOS_ANGELES, "admin")
            assert await asyncio.to_thread(_zone, account, overridden) == (KOLKATA, "device")
        finally:
            for each in again:
                await each.stop()

    asyncio.run(scenario())
