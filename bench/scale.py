"""Scale benchmark: a big campaign, its device report, the engine tick's cost against fleet size, peak RSS.

For each of two sizes (the reference, default 10 000 devices, and the large one, default 100 000; 1 000 000 with
--million), on a fresh database:
1. provision an account with that many devices through the admin API (`POST /admin/v1/accounts/{a}/devices`,
   50 000 per request: the same path an operator uses, so its time is reported too, but it is not the target);
2. time `POST /api/fota/v3/campaigns/firmware/{a}` with up to 100 000 devices in `deviceList` (target: 100 000 in
   < 5 s); a larger fleet then joins the same campaign 100 000 at a time (`PUT .../{id}` with `"type": "append"`),
   timed separately: one request per 100 000 keeps the server's memory bounded, as an operator's tooling would;
3. time paging through the whole campaign device report (1 000 devices a page, `lastSeenDeviceId`);
4. read the server's peak RSS (VmHWM), then stop the server so its own engine loop cannot touch the due work;
5. make 1 000 of the campaign's devices due (UpgradeInProgress, step Downloading, deadline an hour ago: devices
   that went quiet mid-download) with one UPDATE, and time `fota.services.engine.run_due_work`, called directly
   on a process from `fota.runtime.build` over the same database, until a call finds nothing left to time out.
The tick ratio is large/reference for the same 1 000 due devices; the issue's target is < 2.

    .venv/bin/python -m bench.scale --database sqlite
    .venv/bin/python -m bench.scale --database postgresql --million
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from datetime import timedelta

import httpx
from bench.common import (
    IMEI_BASE,
    create_campaign,
    machine,
    new_firmware_with_image,
    peak_rss_mib,
    provision_devices,
    running_server,
)
from sqlalchemy import select, update
from tests.conftest import Account

from fota.adapters.storage.tables import campaign_devices
from fota.runtime import Settings, build
from fota.services.engine import run_due_work

DUE = 1000
CREATE_BATCH = 100_000


@dataclass
class SizeResult:
    devices: int
    provision_s: float
    create_s: float
    append_s: float
    pages: int
    page_s: float
    rss_mib: float
    idle_tick_s: float
    tick_s: float
    ticks: int
    timed_out: int


def page_report(base_url: str, account: str, campaign_id: str, headers: dict[str, str], devices: int) -> int:
    """Follows lastSeenDeviceId to the end; bounded by the expected page count and ten minutes."""
    url = f"{base_url}/api/fota/v3/reports/{account}/campaigns/{campaign_id}/devices"
    after: str | None = None
    pages = seen = 0
    deadline = time.monotonic() + 600
    with httpx.Client(headers=headers, timeout=120) as client:
        while pages <= devices // 1000 + 2 and time.monotonic() < deadline:
            r = client.get(url, params={"lastSeenDeviceId": after} if after else None)
            r.raise_for_status()
            body = r.json()
            pages += 1
            seen += len(body["deviceList"])
            if not body.get("hasMoreData"):
                break
            after = body["lastSeenDeviceId"]
    if seen != devices:
        raise RuntimeError(f"the report listed {seen} devices, expected {devices}")
    return pages


def tick_cost(database_url: str, campaign_id: str) -> tuple[float, float, int, int]:
    """(idle tick seconds, seconds to time out DUE steps, run_due_work calls, steps timed out)."""
    process = build(Settings(database_url=database_url, simulated_clock=True, coap_port=None))
    clock, policy, uow_factory = process.services.clock, process.services.policy, process.services.uow
    try:
        run_due_work(uow_factory=uow_factory, clock=clock, policy=policy)  # warm-up: connections, statement cache
        started = time.perf_counter()
        run_due_work(uow_factory=uow_factory, clock=clock, policy=policy)
        idle = time.perf_counter() - started
        past = clock.now() - timedelta(hours=1)
        with process.engine.begin() as conn:
            chosen = (
                select(campaign_devices.c.device_id)
                .where(campaign_devices.c.campaign_id == campaign_id)
                .order_by(campaign_devices.c.device_id)
                .limit(DUE)
                .scalar_subquery()
            )
            conn.execute(
                update(campaign_devices)
                .where(campaign_devices.c.campaign_id == campaign_id, campaign_devices.c.device_id.in_(chosen))
                .values(status="UpgradeInProgress", reason="Downloading", step="Downloading", step_deadline=past)
            )
        calls = timed_out = 0
        started = time.perf_counter()
        # expire_steps takes a batch of 500 per call, as the engine loop does each second: call until dry.
        while calls < 50:
            calls += 1
            report = run_due_work(uow_factory=uow_factory, clock=clock, policy=policy)
            timed_out += report.timed_out
            if report.timed_out == 0:
                break
        return idle, time.perf_counter() - started, calls, timed_out
    finally:
        process.engine.dispose()


def append_devices(account: Account, headers: dict[str, str], campaign_id: str, imeis: list[str]) -> float:
    """Adds the devices to the campaign, CREATE_BATCH per request; returns seconds."""
    url = f"{account.server.base_url}/api/fota/v3/campaigns/firmware/{account.name}/{campaign_id}"
    started = time.perf_counter()
    with httpx.Client(headers=headers, timeout=600) as client:
        for offset in range(0, len(imeis), CREATE_BATCH):
            r = client.put(url, json={"type": "append", "deviceList": imeis[offset : offset + CREATE_BATCH]})
            if r.status_code != 200:
                raise RuntimeError(f"appending devices answered {r.status_code}: {r.text[:500]}")
    return time.perf_counter() - started


def run_size(backend: str, devices: int) -> SizeResult:
    with running_server(backend) as server:
        account = server.new_account(license_count=devices)
        firmware = new_firmware_with_image(server)
        first = IMEI_BASE + 1
        provision_s = provision_devices(server, account, devices, first=first)
        headers = account.headers()
        imeis = [str(first + i) for i in range(devices)]
        start = server.now().date() + timedelta(days=1)
        campaign_id, create_s = create_campaign(
            account, headers, firmware, imeis[:CREATE_BATCH], start, windows=((2, 6),)
        )
        append_s = append_devices(account, headers, campaign_id, imeis[CREATE_BATCH:])
        started = time.perf_counter()
        pages = page_report(server.base_url, account.name, campaign_id, headers, devices)
        page_s = time.perf_counter() - started
        rss = peak_rss_mib(server.process.pid)
        server.stop()  # its engine loop would otherwise race us for the due steps
        idle, tick_s, calls, timed_out = tick_cost(server.database_url, campaign_id)
    result = SizeResult(devices, provision_s, create_s, append_s, pages, page_s, rss, idle, tick_s, calls, timed_out)
    appended = f"  append {devices - CREATE_BATCH:,} {append_s:6.2f}s" if devices > CREATE_BATCH else ""
    print(
        f"{backend:<10} {devices:>9,} devices: provision {provision_s:6.2f}s  "
        f"create campaign {min(devices, CREATE_BATCH):,} {create_s:6.2f}s{appended}  "
        f"report {pages} pages {page_s:6.2f}s  peak RSS {rss:5.0f} MiB  idle tick {idle * 1000:6.1f} ms  "
        f"{timed_out} due timed out in {calls} calls {tick_s * 1000:7.1f} ms",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--reference", type=int, default=10_000, help="devices in the tick's reference fleet")
    parser.add_argument("--devices", type=int, default=100_000, help="devices in the large campaign")
    parser.add_argument("--million", action="store_true", help="large campaign of 1 000 000 devices")
    args = parser.parse_args()
    large = 1_000_000 if args.million else args.devices
    print(f"# bench.scale database={args.database} reference={args.reference} large={large} due={DUE}")
    print(f"# {machine()}")
    reference = run_size(args.database, args.reference)
    big = run_size(args.database, large)
    created = min(large, CREATE_BATCH)
    print(
        f"campaign of {created:,} created in {big.create_s:.2f}s ({created / big.create_s:,.0f} devices/s); "
        f"reference {args.reference:,} in {reference.create_s:.2f}s"
    )
    if large > CREATE_BATCH:
        print(f"{large - CREATE_BATCH:,} more appended in {big.append_s:.2f}s; the campaign holds {large:,} devices")
    print(
        f"report paging: {large / big.page_s:,.0f} devices/s ({big.page_s / big.pages * 1000:.0f} ms/page) vs "
        f"{args.reference / reference.page_s:,.0f} devices/s at {args.reference:,}"
    )
    print(
        f"tick ratio ({large:,} vs {args.reference:,} devices, {DUE} due): {big.tick_s / reference.tick_s:.2f} "
        f"(idle tick ratio {big.idle_tick_s / reference.idle_tick_s:.2f})"
    )
    print(f"server peak RSS: {max(reference.rss_mib, big.rss_mib):.0f} MiB")


if __name__ == "__main__":
    main()
