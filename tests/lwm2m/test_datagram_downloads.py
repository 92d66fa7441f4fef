"""Devices that download by hand-written datagrams (DeviceConfig.datagram_downloads, as bench/dispatch.py runs them)
are upgraded by a real fota server end to end: every block of their images comes over those sockets."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest

from fota.simulator import firmware
from fota.simulator.datagram_blocks import BlockReply, DatagramBlocks
from fota.simulator.firmware import Delivery, Protocol
from fota.simulator.fleet import Fleet
from tests.conftest import RunningServer
from tests.lwm2m.harness import TO, create_campaign_with_sdk, device_report, provision, resilient_template

DEVICES = 3
IMAGE_SIZE = 20_000


def test_a_campaign_upgrades_devices_that_download_by_datagrams(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    replies: list[BlockReply] = []

    class Counted(DatagramBlocks):
        async def get(self, number: int, szx: int) -> BlockReply:
            reply = await super().get(number, szx)
            replies.append(reply)
            return reply

    monkeypatch.setattr(firmware, "DatagramBlocks", Counted)
    account = server.new_account()
    firmware_row, imeis, start = provision(server, account, DEVICES, image_size=IMAGE_SIZE)
    today = server.now().date()
    campaign_id = create_campaign_with_sdk(account, firmware_row, imeis, today, today + timedelta(days=2))
    server.advance(0)
    template = dataclasses.replace(
        resilient_template(server, checkin_interval=1.0),
        delivery=Delivery.PULL,
        protocols=(Protocol.COAP,),
        datagram_downloads=True,
    )

    async def scenario() -> Fleet:
        async with Fleet(DEVICES, template, imei_start=start) as fleet:
            await fleet.wait_all(lambda d: d.firmware_version == TO, 60, "every device on the new firmware")
            for _ in range(120):  # the server records the success from the re-registration on the new firmware
                if await asyncio.to_thread(statuses) == {"UpgradeSuccess"}:
                    break
                await asyncio.sleep(0.25)
            return fleet

    def statuses() -> set[str]:
        return {r["status"] for r in device_report(account, campaign_id).values()}

    fleet = asyncio.run(scenario())
    assert statuses() == {"UpgradeSuccess"}
    blocks = [r for r in replies if r.successful]
    assert len(blocks) >= DEVICES * -(-IMAGE_SIZE // 512)
    assert all(d.package_bytes_received >= IMAGE_SIZE for d in fleet.devices)
    # Every byte a device counted came by datagrams: none through its aiocoap context.
    assert sum(len(r.payload) for r in blocks) == sum(d.package_bytes_received for d in fleet.devices)
