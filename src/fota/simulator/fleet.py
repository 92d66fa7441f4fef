"""A fleet of simulated devices started together: consecutive IMEIs, one template, faults spread by seed.

`async with Fleet(...) as fleet:` registers every device (staggered) and de-registers them all on the way out.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType

from fota.simulator.device import DeviceConfig, SimulatedDevice
from fota.simulator.faults import Fault, FaultShare, assign_faults
from fota.simulator.waiting import wait_until

DEFAULT_IMEI_START = 350000000000001


@dataclass(frozen=True)
class FleetSummary:
    """A snapshot for the live CLI line and for assertions."""

    devices: int
    registered: int
    gone: int
    by_firmware: dict[str, int]
    by_state: dict[int, int]
    by_result: dict[int, int]
    update_executions: int


class Fleet:
    """N devices built from `template` (its imei and faults are replaced per device)."""

    def __init__(
        self,
        count: int,
        template: DeviceConfig,
        *,
        imei_start: int = DEFAULT_IMEI_START,
        faults: Sequence[FaultShare] = (),
        seed: int = 0,
        stagger: float = 0.005,
    ) -> None:
        if count < 0:
            raise ValueError("count must not be negative")
        if len(str(imei_start + max(count - 1, 0))) != 15 or imei_start <= 0:
            raise ValueError("IMEIs are 15 digits: choose imei_start so that the whole range stays 15 digits")
        assigned = assign_faults(count, faults, seed)
        self.stagger = stagger
        self.devices: list[SimulatedDevice] = [
            SimulatedDevice(
                dataclasses.replace(
                    template,
                    imei=str(imei_start + index),
                    endpoint=None,
                    serial=None,
                    faults=template.faults if fault is None else frozenset({fault}),
                    # One bootstrap identity per device: "bs-{imei}" names each device's own.
                    bootstrap_psk_identity=(template.bootstrap_psk_identity or "").format(imei=imei_start + index)
                    or None,
                )
            )
            for index, fault in enumerate(assigned)
        ]
        self._by_imei = {device.imei: device for device in self.devices}

    def __len__(self) -> int:
        return len(self.devices)

    def device(self, imei: str | int) -> SimulatedDevice:
        return self._by_imei[str(imei)]

    def with_fault(self, fault: Fault) -> list[SimulatedDevice]:
        return [device for device in self.devices if fault in device.config.faults]

    async def start(self) -> None:
        """Boot every device, `stagger` seconds apart so registrations do not arrive as one burst."""
        for index, device in enumerate(self.devices):
            if index and self.stagger > 0:
                await asyncio.sleep(self.stagger)
            await device.start()

    async def stop(self, *, concurrency: int = 32) -> None:
        """De-register every device that is still registered and release all sockets, `concurrency` at a time."""
        # A burst of hundreds of De-registers overflows UDP receive buffers and costs CoAP retransmissions.
        gate = asyncio.Semaphore(concurrency)

        async def stop_one(device: SimulatedDevice) -> None:
            async with gate:
                await device.stop()

        await asyncio.gather(*(stop_one(device) for device in self.devices))

    async def __aenter__(self) -> Fleet:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float, what: str = "fleet condition") -> None:
        """Wait until `predicate()` holds, e.g. `lambda: all(d.registered for d in fleet.devices)`."""
        await wait_until(predicate, timeout, what=what, poll=0.02)

    async def wait_all(
        self, predicate: Callable[[SimulatedDevice], bool], timeout: float, what: str = "every device"
    ) -> None:
        await self.wait_for(lambda: all(predicate(device) for device in self.devices), timeout, what)

    def summary(self) -> FleetSummary:
        devices = self.devices
        return FleetSummary(
            devices=len(devices),
            registered=sum(device.registered for device in devices),
            gone=sum(device.gone for device in devices),
            by_firmware=dict(sorted(Counter(device.firmware_version for device in devices).items())),
            by_state=dict(sorted(Counter(int(device.state) for device in devices).items())),
            by_result=dict(sorted(Counter(int(device.update_result) for device in devices).items())),
            update_executions=sum(device.update_executions for device in devices),
        )
