"""A fake unit of work (tests/unit/fakes.py) holding one account with firmware and devices, on a simulated clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from fota.clock import SimulatedClock
from fota.domain.accounts import Account
from fota.domain.campaign import Firmware
from fota.domain.devices import Device
from fota.domain.protocols import Protocol
from fota.services.campaigns import CampaignCreate
from tests.unit.fakes import FakeStore, FakeUnitOfWorkFactory

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday morning
ACCOUNT = "0000000001-00001"
FIRMWARE = "SEQUANS_GM01Q_1.0_2.0"


@dataclass
class World:
    uow_factory: FakeUnitOfWorkFactory
    clock: SimulatedClock
    devices: list[str]

    @property
    def store(self) -> FakeStore:
        return self.uow_factory.store

    def day(self, offset: int) -> date:
        return (self.clock.now() + timedelta(days=offset)).date()

    def request(self, devices: list[str], *, start: int = 3, end: int = 6, auto_license: bool = True) -> CampaignCreate:
        return CampaignCreate(
            firmware_name=FIRMWARE,
            firmware_from="1.0",
            firmware_to="2.0",
            protocol="LWM2M",
            start_date=self.day(start),
            end_date=self.day(end),
            device_ids=devices,
            auto_assign_license=auto_license,
            auto_add_devices=False,
            campaign_name="service test",
        )


def world_with(license_count: int, device_count: int) -> World:
    store = FakeStore()
    store.accounts[ACCOUNT] = Account(ACCOUNT, license_count, 0, "TS-HFOTA-EVNT", START)
    store.firmware[FIRMWARE] = Firmware(FIRMWARE, "SEQUANS", "GM01Q", "1.0", "2.0", Protocol.LWM2M, "note", START)
    devices = [f"35000000000{i:04d}" for i in range(device_count)]
    for imei in devices:
        store.devices[imei] = Device(
            imei, ACCOUNT, None, "SEQUANS", "GM01Q", "1.0", Protocol.LWM2M, False, None, START, START
        )
    return World(FakeUnitOfWorkFactory(store), SimulatedClock(START), devices)


@pytest.fixture
def world() -> World:
    return world_with(license_count=3, device_count=5)
