"""What the HTTP app is built from besides its routers: the services, the admin token, firmware delivery and the
hooks into the rest of the process (readiness, and the engine's due work). `fota.runtime` assembles it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from fota.adapters.delivery.gate import DownloadGate
from fota.adapters.delivery.packages import PackageStore
from fota.adapters.http.check_in_lane import CheckInLane
from fota.domain.campaign import Campaign
from fota.services.context import ServiceContext
from fota.services.ports import ReportVersion


class LoopCampaignReads(Protocol):
    """A campaign read by id in the event loop itself, where the database has an async driver (PostgreSQL)."""

    async def campaign(self, account_name: str, campaign_id: str) -> Campaign | None: ...
    async def campaign_and_report(self, account_name: str, campaign_id: str) -> tuple[Campaign, ReportVersion] | None:
        """The campaign with its device report's version, read together (services/report_pages.py)."""
        ...


@dataclass(frozen=True)
class ApiParts:
    services: ServiceContext
    admin_token: str  # the admin API's bearer token
    package_base_url: str  # how devices reach our HTTP endpoint: the base of their package links
    packages: PackageStore
    download_gate: DownloadGate
    # None when the database answers and its schema is current; otherwise what is not ready (the `/readyz` body).
    readiness: Callable[[], dict[str, str] | None]
    # The engine's tick, then a callback delivery pass: run when the simulated clock moves, so that the new time's
    # transitions, and the callbacks they enqueue, are visible at once.
    run_due_work: Callable[[], None]
    check_ins: CheckInLane  # the HTTP device check-ins, written by group commit
    # GET campaign's and a cached report page's read without the thread pool (hot_routes.py); None on SQLite, whose
    # `loop_reader` serves.
    campaign_reads: LoopCampaignReads | None = None
