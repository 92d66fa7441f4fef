"""The composition root: the one place that imports every layer and builds a `fota` process by role.

`build(settings)` connects to the database, migrates it and wires the concrete adapters into the
`services.context.ServiceContext` the edges take; `api_app(process)` is the ASGI app `fota serve` runs, whose
lifespan starts and stops the LwM2M server (and bootstrap server), the engine and outbox loops and the PostgreSQL
notification listener as the settings' roles ask; `serve(process, ...)` runs it under uvicorn, with the demo fleet
for `--demo`; `supervise(specs)` runs `--workers N` processes on one port. No adapter imports this package except
the `fota serve` command, the process's entry point.

In-process, for tests: an API app on a given database with a simulated clock and no LwM2M server; its engine and
outbox loops run as under `fota serve` (`roles=frozenset({Role.API})` leaves them out, and then only
`POST /admin/v1/clock` runs the due work):

    process = runtime.build(runtime.Settings(database_url=url, simulated_clock=True, coap_port=None))
    with TestClient(runtime.api_app(process)) as client:  # the lifespan runs inside `with`
        client.post("/admin/v1/accounts", headers={"Authorization": f"Bearer {process.admin_token}"}, json=...)

`process.services` gives the same unit-of-work factories and clock to call the services directly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fota.runtime.settings import ALL_ROLES, DEFAULT_DATABASE_URL, Role, Settings

if TYPE_CHECKING:
    from fota.runtime.api import api_app
    from fota.runtime.process import Process, build
    from fota.runtime.roles import BackgroundService
    from fota.runtime.serving import serve
    from fota.runtime.workers import WorkerSpec, supervise, worker_settings

# The rest is imported on first use (PEP 562): the CLI reads the settings for every command, and only `fota serve`
# needs the API app, whose routes and models take most of a process's start-up.
_LAZY = {
    "api_app": "fota.runtime.api",
    "Process": "fota.runtime.process",
    "build": "fota.runtime.process",
    "BackgroundService": "fota.runtime.roles",
    "serve": "fota.runtime.serving",
    "WorkerSpec": "fota.runtime.workers",
    "supervise": "fota.runtime.workers",
    "worker_settings": "fota.runtime.workers",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "ALL_ROLES",
    "DEFAULT_DATABASE_URL",
    "BackgroundService",
    "Process",
    "Role",
    "Settings",
    "WorkerSpec",
    "api_app",
    "build",
    "serve",
    "supervise",
    "worker_settings",
]
