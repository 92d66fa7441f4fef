"""The fleet the campaign CLI tests share: a fresh account with its own firmware and four devices on it."""

from __future__ import annotations

import uuid

import pytest

from tests.cli.test_campaign_cli import Fleet, imei
from tests.conftest import RunningServer


@pytest.fixture
def fleet(server: RunningServer) -> Fleet:
    account = server.new_account()
    firmware = server.new_firmware(
        make="Acme", model=f"M-{uuid.uuid4().hex[:8]}", firmware_from="1.0", firmware_to="2.0"
    )
    devices = sorted(imei() for _ in range(4))
    account.add_devices(
        [
            {"deviceId": d, "make": "Acme", "model": firmware["model"], "firmware": "1.0", "protocol": "LWM2M"}
            for d in devices
        ]
    )
    return Fleet(server, account, firmware, devices)
