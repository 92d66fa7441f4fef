"""What a process runs beside its HTTP listener, by role (`fota serve --role`): the LwM2M server and bootstrap
server, the engine and outbox loops, the PostgreSQL notification listener, and any extra background service (the
demo fleet); started and stopped in one order with the app's lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial
from typing import Protocol

import anyio.to_thread

from fota.adapters import metrics
from fota.adapters.delivery.gate import DownloadGate
from fota.adapters.delivery.packages import PackageStore
from fota.adapters.engine_loop import EngineLoop
from fota.adapters.http.check_in_lane import CheckInLane
from fota.adapters.lwm2m.bootstrap_server import BootstrapServer
from fota.adapters.lwm2m.server import Lwm2mServer
from fota.adapters.outbox_loop import OutboxLoop
from fota.adapters.storage.campaign_store import campaign_of
from fota.adapters.storage.lag import oldest_due_work
from fota.adapters.storage.notifications import ENGINE_CHANNEL, OUTBOX_CHANNEL, TOKENS_CHANNEL, NotificationListener
from fota.adapters.storage.postgresql_campaign_reads import LoopCampaignReads
from fota.runtime.process import Process
from fota.runtime.settings import Role, Settings


class BackgroundService(Protocol):
    """Something that runs in the server's event loop beside the API (the demo fleet, for one)."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


class RoleServices:
    def __init__(self, process: Process, *, background: Sequence[BackgroundService] = ()) -> None:
        self.process = process
        self.background = tuple(background)
        settings = process.settings
        services = process.services
        roles = settings.roles
        self.run_engine = Role.ENGINE in roles
        # Built whatever the roles: moving the simulated clock runs a tick and a delivery pass in any process.
        self.engine_loop = EngineLoop(
            services,
            interval=settings.engine_interval_seconds,
            callback_retention=timedelta(days=settings.callback_retention_days),
            oldest_due_work=partial(oldest_due_work, process.engine),
        )
        self.outbox_loop = OutboxLoop(
            services, interval=settings.callback_interval_seconds, max_attempts=settings.callback_max_attempts
        )
        self.packages = PackageStore(services)
        self.download_gate = DownloadGate(settings.max_downloads)
        gate = self.download_gate
        metrics.DOWNLOADS_ACTIVE.set_function(lambda: gate.active)
        metrics.DOWNLOAD_LIMIT.set_function(lambda: gate.limit)
        metrics.DOWNLOAD_STARTS_WAITING.set_function(lambda: gate.waiting)
        metrics.EVENT_LOOP_LAG.set_function(lambda: gate.lag.seconds)
        metrics.EVENT_LOOP_BUSY.set_function(lambda: gate.lag.busy)
        self.lwm2m = (
            Lwm2mServer(
                services,
                host=settings.coap_host,
                port=settings.coap_port,
                coaps_port=settings.coaps_port,
                packages=self.packages,
                gate=self.download_gate,
                coap_base_url=settings.public_coap_url
                or f"coap://{_reachable(settings.coap_host)}:{settings.coap_port}",
                public_coaps_url=settings.public_coaps_url,
                http_base_url=settings.public_http_url,
                allow_nosec=settings.allow_nosec,
            )
            if settings.coap_port is not None and Role.LWM2M in roles
            else None
        )
        self.bootstrap_server = (
            BootstrapServer(
                services,
                host=settings.coap_host,
                port=settings.bootstrap_port,
                coaps_port=_bootstrap_coaps_port(settings),
                management=self.lwm2m,
                allow_nosec=settings.allow_nosec,
            )
            if self.lwm2m is not None and settings.bootstrap_port
            else None
        )
        # Several processes on PostgreSQL: a commit that enqueues work wakes every engine's loops at once (ADR 9),
        # and a revoked token leaves every API process's token cache, which is trusted only while this listener
        # hears.
        self.listener = None
        if process.engine.dialect.name == "postgresql" and (self.run_engine or Role.API in roles):
            wakes = (
                {OUTBOX_CHANNEL: self.outbox_loop.wake, ENGINE_CHANNEL: self.engine_loop.wake}
                if self.run_engine
                else {}
            )
            self.listener = NotificationListener(process.engine, wakes, {TOKENS_CHANNEL: services.tokens.revoked})
            services.tokens.live = self.listener.listening.is_set
        self.check_ins = CheckInLane(services)
        self.campaign_reads = (
            LoopCampaignReads(process.engine, campaign_of)
            if process.engine.dialect.name == "postgresql" and Role.API in roles
            else None
        )

    def run_due_work(self) -> None:
        """The engine's tick, then a delivery pass (after the tick, so the callbacks of its transitions go out too)."""
        self.engine_loop.tick()
        self.outbox_loop.deliver()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        # The thread pool that runs the routes' blocking work is the event loop's own: sized here, inside it.
        anyio.to_thread.current_default_thread_limiter().total_tokens = self.process.settings.api_threads
        self.download_gate.start()
        if self.lwm2m is not None:
            await self.lwm2m.start()
        if self.bootstrap_server is not None:
            await self.bootstrap_server.start()
        if self.run_engine:
            self.engine_loop.start()
            self.outbox_loop.start()
        if self.listener is not None:
            self.listener.start()
        for service in self.background:
            await service.start()
        try:
            yield
        finally:
            for service in self.background:
                await service.stop()
            if self.bootstrap_server is not None:
                await self.bootstrap_server.stop()
            if self.lwm2m is not None:
                await self.lwm2m.stop()
            if self.listener is not None:
                await asyncio.to_thread(self.listener.stop)
            await self.engine_loop.stop()
            await self.outbox_loop.stop()
            await self.download_gate.stop()
            await self.packages.close()
            await self.check_ins.close()
            if self.campaign_reads is not None:
                await self.campaign_reads.close()
            await asyncio.to_thread(self.process.callback_sender.close)
            self.process.engine.dispose()


def _bootstrap_coaps_port(settings: Settings) -> int:
    """The bootstrap server's coaps port: given, or the bootstrap port + 1 (0: none)."""
    if settings.bootstrap_coaps_port is None:
        return settings.bootstrap_port + 1
    return settings.bootstrap_coaps_port


def _reachable(host: str) -> str:
    """A host a device on this machine can reach when we listen on every address."""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - comparing, not binding
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
