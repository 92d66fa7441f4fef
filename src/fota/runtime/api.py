"""The ASGI app of a process: the HTTP adapter's app given its parts, its routers by role and the lifespan of the
role services beside it."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from fastapi import FastAPI

from fota.adapters import console
from fota.adapters.http import routers
from fota.adapters.http.api_route import ROW_READS
from fota.adapters.http.app import create_app
from fota.adapters.http.parts import ApiParts
from fota.adapters.storage.database import readiness_problem
from fota.runtime.process import Process
from fota.runtime.roles import BackgroundService, RoleServices
from fota.runtime.settings import Role


def api_app(process: Process, *, background: Sequence[BackgroundService] = ()) -> FastAPI:
    """The app `fota serve` runs; its lifespan starts and stops what the process's roles run beside it."""
    roles = RoleServices(process, background=background)
    # Process-wide, as the thread pool it is a lane of: the last app built sizes it (one per process but in tests).
    ROW_READS.total_tokens = 1 if process.engine.dialect.name == "sqlite" else process.settings.api_threads
    parts = ApiParts(
        services=process.services,
        admin_token=process.admin_token,
        package_base_url=process.settings.public_http_url,
        packages=roles.packages,
        download_gate=roles.download_gate,
        readiness=partial(readiness_problem, process.engine),
        run_due_work=roles.run_due_work,
        check_ins=roles.check_ins,
        campaign_reads=roles.campaign_reads,
    )
    if Role.API not in process.settings.roles:
        # An engine- or LwM2M-only process keeps a small listener for its supervisor: /healthz, /readyz, /metrics.
        # Every other path is a 404, so a load balancer that sends it API traffic by mistake fails loudly.
        return create_app(parts, routers=routers.probe_routers(), lifespan=roles.running)
    return create_app(
        parts,
        # The console is mounted on the API's app and signs in with its tokens.
        routers=[*routers.api_routers(), console.router],
        mounts=[*routers.api_mounts(), console.static_mount()],
        lifespan=roles.running,
        hot_routes=True,
    )
