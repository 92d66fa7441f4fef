"""The ThingSpace v1 API (`/api/fota/v1`): thin routes over the same services as v3, in v1's shapes."""

from fota.adapters.http.v1 import callbacks, licenses, reports, upgrades

ROUTERS = (licenses.router, upgrades.router, reports.router, callbacks.router)
