"""Prometheus metrics of one `fota serve` process: every metric object, in one registry, served at `/metrics`.

Only adapters import this module: the domain and services stay free of Prometheus and return counts (reports,
statuses) that the adapters record here. docs/operations.md lists every metric and what it means.

Label values are a small fixed set each (HTTP routes are path templates, never raw paths), so the number of
series stays bounded however large the fleet. Labelled counters are created at zero for their known values, so a
rate is defined from the first scrape and a dashboard never shows a series appearing out of nothing.
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.process_collector import ProcessCollector

from fota.domain.statuses import DeviceStatus

# Our own registry rather than the library's global one: nothing imported by accident ends up on /metrics, and
# tests of this module can read exactly what the server exports.
REGISTRY = CollectorRegistry()
# No `*_created` series: a second series per counter that dashboards do not use and Prometheus stores anyway.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped upstream
ProcessCollector(registry=REGISTRY)  # CPU, memory, open files of this process: free, and the first thing one asks

CONTENT_TYPE = CONTENT_TYPE_LATEST

# --- HTTP -----------------------------------------------------------------------------------------------------------

UNMATCHED_ROUTE = "unmatched"

HTTP_REQUESTS = Counter(
    "fota_http_requests_total",
    "HTTP requests answered, by method, route (path template, or 'unmatched') and status code.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_REQUEST_DURATION = Histogram(
    "fota_http_request_duration_seconds",
    "Time from receiving an HTTP request to the end of its response, by method and route (path template).",
    ["method", "route"],
    # From a cached health probe to a large report or a whole firmware image on a slow link.
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)

# --- LwM2M --------------------------------------------------------------------------------------------------------

LWM2M_REGISTRATIONS = Counter(
    "fota_lwm2m_registrations_total",
    "LwM2M registration interface operations accepted: register, update (a check-in) or deregister.",
    ["kind"],
    registry=REGISTRY,
)
LWM2M_REFUSED = Counter(
    "fota_lwm2m_refused_total",
    "LwM2M registration requests refused: unknown_endpoint (not a provisioned device), bad_request (malformed) or "
    "security (wrong channel or DTLS identity for the device), rate_limited (an address past its refusal budget).",
    ["reason"],
    registry=REGISTRY,
)
LWM2M_BOOTSTRAPS = Counter(
    "fota_lwm2m_bootstraps_total",
    "LwM2M bootstraps: finished (the client took its management account), failed (it stopped answering or refused "
    "a step) or refused (its Bootstrap-Request was not admitted).",
    ["result"],
    registry=REGISTRY,
)
LWM2M_REGISTERED_DEVICES = Gauge(
    "fota_lwm2m_registered_devices",
    "Devices with an unexpired registration made or refreshed through this process's LwM2M server.",
    registry=REGISTRY,
)
CHECKINS = Counter(
    "fota_checkins_total",
    "Device check-ins: LwM2M Register and Update, and HTTP device protocol check-ins.",
    registry=REGISTRY,
)

# --- upgrades -----------------------------------------------------------------------------------------------------

UPGRADE_STEPS = Counter(
    "fota_upgrade_steps_total",
    "Upgrade steps reached by devices in a campaign (Starting, Downloading, Downloaded, Updating).",
    ["step"],
    registry=REGISTRY,
)
UPGRADES = Counter(
    "fota_upgrades_total",
    "Upgrade attempts concluded: success, failed (for good) or retry (pending again after a back-off).",
    ["outcome"],
    registry=REGISTRY,
)

# --- firmware downloads -------------------------------------------------------------------------------------------

DOWNLOADS = Counter(
    "fota_downloads_total",
    "Firmware packages delivered completely (last block or byte range served, or pushed), by transport.",
    ["transport"],
    registry=REGISTRY,
)
DOWNLOAD_BYTES = Counter(
    "fota_download_bytes_total",
    "Firmware package bytes sent to devices, by transport (resent blocks count again).",
    ["transport"],
    registry=REGISTRY,
)
BANDWIDTH_WAITS = Counter(
    "fota_bandwidth_waits_total",
    "Download requests refused because the campaign's bandwidth budget for the hour is used up, by transport.",
    ["transport"],
    registry=REGISTRY,
)
DOWNLOADS_ACTIVE = Gauge(
    "fota_downloads_active",
    "Download places held in this process (downloads under way and starts about to offer one, counted against "
    "fota_download_limit); idle ones drop out after a minute.",
    registry=REGISTRY,
)
DOWNLOAD_LIMIT = Gauge(
    "fota_download_limit",
    "Concurrent downloads this process lets run now: adapted to its event-loop lag, at most --max-downloads.",
    registry=REGISTRY,
)
DOWNLOAD_STARTS_WAITING = Gauge(
    "fota_download_starts_waiting",
    "LwM2M upgrade starts waiting in line for a download place.",
    registry=REGISTRY,
)
DOWNLOAD_STARTS_DEFERRED = Counter(
    "fota_download_starts_deferred_total",
    "LwM2M upgrade starts that found no download place within their wait and wait for the device's next check-in.",
    registry=REGISTRY,
)
COAP_BLOCKS_DIRECT = Counter(
    "fota_coap_blocks_direct_total",
    "CoAP Block2 requests answered from memory before aiocoap decodes them (docs/adr/0044).",
    registry=REGISTRY,
)
COAP_SENDS_REPEATED = Counter(
    "fota_coap_sends_repeated_total",
    "CoAP datagrams sent again because their send failed with an earlier datagram's ICMP error (docs/adr/0045).",
    registry=REGISTRY,
)
DOWNLOADS_REFUSED = Counter(
    "fota_downloads_refused_total",
    "Download requests answered 5.03 / 503 with Max-Age / Retry-After: no place free for a download that held none.",
    ["transport"],
    registry=REGISTRY,
)
EVENT_LOOP_LAG = Gauge(
    "fota_event_loop_lag_seconds",
    "How late this process's event loop runs its timers (smoothed): one signal the download limit follows.",
    registry=REGISTRY,
)
EVENT_LOOP_BUSY = Gauge(
    "fota_event_loop_busy_ratio",
    "Share of wall time this process's event-loop thread is on the CPU (smoothed, 0..1): the limit's other signal.",
    registry=REGISTRY,
)

# --- callbacks and the engine --------------------------------------------------------------------------------------

CALLBACK_DELIVERIES = Counter(
    "fota_callback_deliveries_total",
    "Callback event delivery attempts by result: delivered, retry (scheduled again) or given_up.",
    ["result"],
    registry=REGISTRY,
)
CALLBACK_REFUSED = Counter(
    "fota_callback_refused_total",
    "Callback delivery attempts the outbound URL policy refused before connecting (an internal address, plain http).",
    registry=REGISTRY,
)
ENGINE_TICKS = Counter(
    "fota_engine_ticks_total",
    "Campaign engine ticks run (the loop's, and those run when the simulated clock is moved).",
    registry=REGISTRY,
)
ENGINE_TICK_DURATION = Histogram(
    "fota_engine_tick_seconds",
    "Time one engine tick took: due campaign transitions, step time-outs and registration purges.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
    registry=REGISTRY,
)
ENGINE_LAG = Gauge(
    "fota_engine_lag_seconds",
    "How late the oldest due engine work was at the start of the last tick (0 when nothing was overdue).",
    registry=REGISTRY,
)

for _kind in ("register", "update", "deregister"):
    LWM2M_REGISTRATIONS.labels(_kind)
for _reason in ("unknown_endpoint", "bad_request", "security", "rate_limited"):
    LWM2M_REFUSED.labels(_reason)
for _result in ("finished", "failed", "refused"):
    LWM2M_BOOTSTRAPS.labels(_result)
for _step in ("Starting", "Downloading", "Downloaded", "Updating"):
    UPGRADE_STEPS.labels(_step)
for _outcome in ("success", "failed", "retry"):
    UPGRADES.labels(_outcome)
for _transport in ("coap", "http"):
    DOWNLOADS_REFUSED.labels(_transport)
    DOWNLOADS.labels(_transport)
    DOWNLOAD_BYTES.labels(_transport)
for _result in ("delivered", "retry", "given_up"):
    CALLBACK_DELIVERIES.labels(_result)


def exposition() -> bytes:
    """The registry in the Prometheus text format, for `GET /metrics`."""
    return generate_latest(REGISTRY)


_OUTCOMES = {DeviceStatus.SUCCESS: "success", DeviceStatus.PENDING: "retry", DeviceStatus.FAILED: "failed"}


def record_outcome(status: DeviceStatus | None, count: int = 1) -> None:
    """Counts concluded upgrades by the status `services.upgrades.conclude` returned (None: concluded elsewhere)."""
    outcome = _OUTCOMES.get(status) if status is not None else None
    if outcome is not None:
        UPGRADES.labels(outcome).inc(count)


def record_download(transport: str, sent: int, *, complete: bool) -> None:
    DOWNLOAD_BYTES.labels(transport).inc(sent)
    if complete:
        DOWNLOADS.labels(transport).inc()


class RegisteredDevices:
    """This process's view of which devices are registered: enough for a gauge without a query per scrape.

    Keyed by device, so a device that registers again (after a reboot, without deregistering) counts once.
    Expiry is judged on the injected clock at scrape time, as the registration service judges it.
    """

    def __init__(self) -> None:
        self._devices: dict[str, tuple[str, datetime]] = {}  # device id -> (location, expires at)
        self._locations: dict[str, str] = {}  # location -> device id

    def seen(self, device_id: str, location: str, expires_at: datetime) -> None:
        previous = self._devices.get(device_id)
        if previous is not None and previous[0] != location:
            self._locations.pop(previous[0], None)
        self._devices[device_id] = (location, expires_at)
        self._locations[location] = device_id

    def gone(self, location: str) -> None:
        device_id = self._locations.pop(location, None)
        if device_id is not None:
            self._devices.pop(device_id, None)

    def count(self, now: datetime) -> int:
        for device_id, (location, expires_at) in list(self._devices.items()):
            if expires_at <= now:
                del self._devices[device_id]
                self._locations.pop(location, None)
        return len(self._devices)
