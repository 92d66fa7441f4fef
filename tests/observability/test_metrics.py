"""`GET /metrics` on a real server: the Prometheus text format, HTTP metrics by route template, and the device,
upgrade, download, callback and engine counters moving while simulated LwM2M devices go through a campaign."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from datetime import time as clock_time

import httpx
from aiocoap import POST, Context, Message

from fota.simulator.device import DeviceConfig
from fota.simulator.firmware import Delivery, Protocol
from fota.simulator.fleet import Fleet
from tests.conftest import Account, RunningServer
from tests.lwm2m.harness import (
    FROM,
    MAKE,
    MODEL,
    TO,
    callback_receiver,
    create_campaign_with_sdk,
    device_report,
    imei_block,
    provision,
)
from tests.observability.scrape import Samples, scrape, total, value

METRICS = {
    "fota_http_requests": "counter",
    "fota_http_request_duration_seconds": "histogram",
    "fota_lwm2m_registrations": "counter",
    "fota_lwm2m_refused": "counter",
    "fota_lwm2m_registered_devices": "gauge",
    "fota_checkins": "counter",
    "fota_upgrade_steps": "counter",
    "fota_upgrades": "counter",
    "fota_downloads": "counter",
    "fota_download_bytes": "counter",
    "fota_downloads_active": "gauge",
    "fota_download_limit": "gauge",
    "fota_download_starts_waiting": "gauge",
    "fota_download_starts_deferred": "counter",
    "fota_downloads_refused": "counter",
    "fota_event_loop_lag_seconds": "gauge",
    "fota_event_loop_busy_ratio": "gauge",
    "fota_callback_deliveries": "counter",
    "fota_engine_ticks": "counter",
    "fota_engine_tick_seconds": "histogram",
    "fota_engine_lag_seconds": "gauge",
}


def test_metrics_is_prometheus_text_without_auth_and_outside_openapi(server: RunningServer) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    r = httpx.get(f"{server.base_url}/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=")
    families = {f.name: f.type for f in text_string_to_metric_families(r.text)}
    assert {name: families.get(name) for name in METRICS} == METRICS
    assert "/metrics" not in httpx.get(f"{server.base_url}/openapi.json").json()["paths"]


def test_requests_are_counted_and_timed_by_route_template(server: RunningServer, account: Account) -> None:
    route = "/admin/v1/accounts/{account}"
    before = scrape(server)
    for _ in range(3):
        assert server.admin.get(f"/accounts/{account.name}").status_code == 200
    assert server.admin.get("/accounts/no-such-account").status_code == 404
    assert httpx.get(f"{server.base_url}/no/such/path").status_code == 404
    after = scrape(server)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("fota_http_requests_total", method="GET", route=route, status="200") == 3
    assert delta("fota_http_requests_total", method="GET", route=route, status="404") == 1
    assert delta("fota_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert delta("fota_http_request_duration_seconds_count", method="GET", route=route) == 4
    assert delta("fota_http_request_duration_seconds_sum", method="GET", route=route) > 0
    assert delta("fota_http_request_duration_seconds_bucket", method="GET", route=route, le="+Inf") == 4
    # Bounded cardinality: no label ever holds a raw path.
    routes = {dict(labels).get("route", "") for (_, labels) in after}
    assert not any(account.name in r or "no-such" in r or "/no/such" in r for r in routes)


def test_refused_registrations_are_counted(server: RunningServer) -> None:
    unknown = f"urn:imei:{imei_block(1)}"  # a well-formed IMEI nobody provisioned

    async def register(query: tuple[str, ...]) -> str:
        context = await Context.create_client_context()
        try:
            request = Message(code=POST, uri=f"{server.coap_url}/rd", payload=b"</3/0>,</5/0>")
            request.opt.uri_query = query
            return str((await context.request(request).response).code)
        finally:
            await context.shutdown()

    before = scrape(server)
    assert "4.03" in asyncio.run(register((f"ep={unknown}", "lt=60")))
    assert "4.00" in asyncio.run(register(("lt=60",)))  # no endpoint name
    after = scrape(server)
    for reason in ("unknown_endpoint", "bad_request"):
        moved = value(after, "fota_lwm2m_refused_total", reason=reason)
        assert moved == value(before, "fota_lwm2m_refused_total", reason=reason) + 1, reason


def _wait(what: str, predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def test_counters_move_during_a_campaign(private_server: RunningServer) -> None:
    """Three devices: CoAP pull, CoAP push, and HTTP-only pull (it declares only HTTP in /5/0/8), each upgraded once."""
    server = private_server
    account = server.new_account()
    image_size = 4096
    firmware, imeis, start = provision(server, account, 3, image_size=image_size)
    now = server.now()
    tomorrow = now.date() + timedelta(days=1)
    template = DeviceConfig(
        server=server.coap_url,
        make=MAKE,
        model=MODEL,
        firmware=FROM,
        checkin_interval=1.0,
        awake_seconds=8.0,
        reboot_seconds=0.5,
        lifetime=60,
    )
    kinds = [
        template,
        dataclasses.replace(template, delivery=Delivery.PUSH, max_block_size=256),
        dataclasses.replace(template, delivery=Delivery.PULL, protocols=(Protocol.HTTP,)),
    ]
    samples: dict[str, Samples] = {}

    with callback_receiver() as receiver:
        with account.client() as client:
            assert client.post(f"/callbacks/{account.name}", json={"url": receiver.url}).status_code == 200
        campaign_id = create_campaign_with_sdk(account, firmware, imeis, tomorrow, tomorrow + timedelta(days=1))
        samples["start"] = scrape(server)

        async def scenario() -> None:
            fleets = [Fleet(1, kind, imei_start=start + i) for i, kind in enumerate(kinds)]
            devices = [d for fleet in fleets for d in fleet.devices]
            for fleet in fleets:
                await fleet.start()
            try:
                await fleets[0].wait_for(lambda: all(d.updates >= 1 for d in devices), 30, "a check-in each")
                samples["registered"] = await asyncio.to_thread(scrape, server)
                await asyncio.to_thread(server.set_clock, datetime.combine(tomorrow, clock_time(1), tzinfo=now.tzinfo))
                await fleets[0].wait_for(lambda: all(d.firmware_version == TO for d in devices), 90, "devices on 2.0.0")

                def all_succeeded() -> bool:
                    return {r["status"] for r in device_report(account, campaign_id).values()} == {"UpgradeSuccess"}

                # The devices keep checking in until the server has seen every one come back on the new firmware.
                await asyncio.to_thread(_wait, "every device UpgradeSuccess", all_succeeded)
                samples["upgraded"] = await asyncio.to_thread(scrape, server)
            finally:
                for fleet in fleets:
                    await fleet.stop()

        asyncio.run(scenario())

        # Callbacks go out on the outbox loop's next pass: wait for them, then for the counter to have caught up.
        _wait("success callbacks", lambda: sum(e["status"] == "UpgradeSuccess" for e in receiver.events) == 3)
        received = len(receiver.ids())
        _wait(
            "callback deliveries counted",
            lambda: value(scrape(server), "fota_callback_deliveries_total", result="delivered") >= received,
        )
    start_, registered, upgraded, end = samples["start"], samples["registered"], samples["upgraded"], scrape(server)

    # Registered and checking in.
    assert value(registered, "fota_lwm2m_registrations_total", kind="register") >= 3
    assert value(registered, "fota_checkins_total") > value(start_, "fota_checkins_total")
    assert value(registered, "fota_lwm2m_registered_devices") == 3
    assert value(upgraded, "fota_checkins_total") > value(registered, "fota_checkins_total")
    assert value(upgraded, "fota_lwm2m_registrations_total", kind="update") > 0
    # A device de-registers before it reboots into the new firmware, and on the way out.
    assert value(end, "fota_lwm2m_registrations_total", kind="deregister") >= 3
    assert value(end, "fota_lwm2m_registered_devices") == 0

    # Every device went through every step once and succeeded, first time.
    for step in ("Starting", "Downloading", "Downloaded", "Updating"):
        assert value(upgraded, "fota_upgrade_steps_total", step=step) >= 3, step
    assert value(upgraded, "fota_upgrades_total", outcome="success") == 3
    assert value(upgraded, "fota_upgrades_total", outcome="failed") == 0

    # Two CoAP deliveries (pull and push), one over HTTP, each of the whole image at least.
    assert value(upgraded, "fota_downloads_total", transport="coap") == 2
    assert value(upgraded, "fota_downloads_total", transport="http") == 1
    assert value(upgraded, "fota_download_bytes_total", transport="coap") >= 2 * image_size
    assert value(upgraded, "fota_download_bytes_total", transport="http") >= image_size
    assert ("fota_downloads_active", frozenset()) in upgraded

    # Callback events: every status change above was delivered, none given up.
    assert value(end, "fota_callback_deliveries_total", result="delivered") >= received >= 3 * 4
    assert value(end, "fota_callback_deliveries_total", result="given_up") == 0

    # The engine ticks (its loop, and every clock move) and reports how late it is.
    assert value(end, "fota_engine_ticks_total") > value(start_, "fota_engine_ticks_total") > 0
    # (A tick may finish between the two readings of one scrape.)
    assert total(end, "fota_engine_tick_seconds_count") >= value(end, "fota_engine_ticks_total") - 1
    assert value(end, "fota_engine_lag_seconds") >= 0
    assert ("fota_engine_lag_seconds", frozenset()) in end
