"""The LwM2M server's device sessions: at most one per device, started by its check-ins and superseded by a fresh
registration."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace
from typing import Any

from aiocoap import Context

from fota.adapters.delivery.gate import DownloadGate
from fota.adapters.lwm2m.device_client import DeviceClient
from fota.adapters.lwm2m.session import DeviceSession, SessionConfig, StepBatches
from fota.domain.upgrade import Assignment
from fota.services.context import ServiceContext

log = logging.getLogger(__name__)


class SessionRegistry:
    def __init__(
        self,
        services: ServiceContext,
        config: SessionConfig,
        *,
        coaps_base_url: str,
        places: DownloadGate | None = None,
    ) -> None:
        """`places`: the download places new upgrade starts take (docs/adr/0028); None lets every start go on."""
        self.services = services
        self.config = config
        self.places = places
        # A device that checked in over coaps is sent its package link on the coaps endpoint too.
        self.coaps_config = replace(config, coap_base_url=coaps_base_url)
        self.steps = StepBatches(services)
        self.running: dict[str, asyncio.Task[None]] = {}
        self.context: Context | None = None  # the server's CoAP context, once it listens

    def start(
        self,
        device_id: str,
        address: str,
        *,
        registered: bool,
        remote: Any = None,
        assignment: Assignment | None = None,
        assignment_known: bool = False,
        here: bool = False,
    ) -> None:
        """`remote`: the device's DTLS session when it checked in over coaps (requests then go back over it).
        `assignment_known`: `assignment` is the device's current one, read with the check-in (None: nothing to do)."""
        running = self.running.get(device_id)
        if running is not None and not running.done():
            if not registered:
                return  # the running session is still working with this awake device
            running.cancel()  # a fresh registration (e.g. after a reboot) supersedes it
        if assignment_known and assignment is None and not registered:
            return  # an Update with no upgrade to start or resume: nothing to ask the device
        assert self.context is not None
        client = DeviceClient(self.context, address, remote=remote)
        over_dtls = remote is not None and remote.scheme == "coaps"
        session = DeviceSession(
            self.services, client, device_id, self.coaps_config if over_dtls else self.config, self.steps, self.places
        )
        task = asyncio.create_task(
            session.run(registered=registered, assignment=assignment, assignment_known=assignment_known, here=here),
            name=f"lwm2m-session-{device_id}",
        )
        self.running[device_id] = task
        task.add_done_callback(lambda t: self._forget(device_id, t))

    def _forget(self, device_id: str, task: asyncio.Task[None]) -> None:
        if self.running.get(device_id) is task:
            del self.running[device_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("session of %s failed", device_id, exc_info=task.exception())

    async def close(self) -> None:
        await self.steps.close()
        for task in list(self.running.values()):
            task.cancel()
        for task in list(self.running.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
