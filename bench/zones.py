"""Device-local windows at fleet scale: the engine tick's cost, and a check-in's start decision, with a
`windowZone: device` campaign of N devices spread over 24 zones, against a reference fleet of 10 000.

For each of the two sizes, on a fresh database:
1. start `fota serve`, provision an account and a firmware, and create a v3 campaign with `windowZone: device` and a
   02:00-06:00 window through the API (one device in its `deviceList`), then stop the server;
2. write the fleet straight into the tables (N devices, each in one of 24 zones round-robin, all pending in the
   campaign) with multi-row INSERTs, 50 000 a statement: the admin API's time is `bench.scale`'s business;
   then checkpoint SQLite's write-ahead log and ANALYZE, as a database that grew over months would be;
3. on a `fota.runtime.build` process over that database, move its simulated clock hour by hour through three
   days of the campaign (each hour some zone's window opens and another's closes) and time
   `fota.services.engine.run_due_work` (the engine tick) at each hour: the median is the tick's cost;
4. time 1 000 check-in start decisions (`upgrades.current_assignment`: the assignment and the device's zone in one
   query, then the start rule in that zone) for devices picked across the fleet.
The ratios are large/reference; the issue's target for the tick is < 2.

    .venv/bin/python -m bench.zones --database sqlite --devices 100000
    .venv/bin/python -m bench.zones --database postgresql --million
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bench.common import FROM, IMEI_BASE, MAKE, MODEL, machine, new_firmware_with_image, running_server
from sqlalchemy import Engine, insert, update

from fota.adapters.storage.report_changes import fold_report_changes
from fota.adapters.storage.tables import campaign_devices, campaigns, devices
from fota.clock import SimulatedClock
from fota.runtime import Settings, build
from fota.services import upgrades
from fota.services.engine import run_due_work

# 24 zones with 24 different offsets from UTC-10 to UTC+13 (half-hour Kolkata among them): every hour of a day
# opens somebody's window.
ZONES = [
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Halifax",
    "America/Sao_Paulo",
    "Atlantic/South_Georgia",
    "Atlantic/Azores",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Athens",
    "Europe/Moscow",
    "Asia/Dubai",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Noumea",
    "Pacific/Auckland",
]
BATCH = 50_000
DECISIONS = 1000
PASSES = 3  # days of hourly ticks: the tick costs milliseconds, so its median needs a few dozen of them
START = datetime(2031, 6, 2, tzinfo=UTC)  # the campaign's first day, a day without any DST change in these zones


@dataclass
class SizeResult:
    devices: int
    fill_s: float
    tick_s: float  # median over the hourly ticks of PASSES days
    decision_s: float  # mean seconds per check-in start decision
    started: int  # of the decisions, how many found the device's window open


def fill(database_url: str, account: str, campaign_id: str, count: int, now: datetime) -> float:
    """Writes `count` devices in ZONES round-robin, all pending in the campaign; returns seconds."""
    process = build(Settings(database_url=database_url, simulated_clock=True, coap_port=None))
    started = time.perf_counter()
    try:
        with process.engine.begin() as conn:
            for offset in range(0, count, BATCH):
                ids = [str(IMEI_BASE + 2 + i) for i in range(offset, min(offset + BATCH, count))]
                conn.execute(
                    insert(devices),
                    [
                        {
                            "device_id": d,
                            "account_name": account,
                            "make": MAKE,
                            "model": MODEL,
                            "firmware": FROM,
                            "protocol": "LWM2M",
                            "created_at": now,
                            "updated_at": now,
                            "time_zone": ZONES[int(d) % len(ZONES)],
                            "time_zone_source": "admin",
                        }
                        for d in ids
                    ],
                )
                conn.execute(
                    insert(campaign_devices),
                    [
                        {
                            "campaign_id": campaign_id,
                            "device_id": d,
                            "account_name": account,
                            "status": "UpgradePending",
                            "reason": "Upgrade pending",
                            "active": True,
                            "updated_at": now,
                        }
                        for d in ids
                    ],
                )
            conn.execute(update(campaigns).where(campaigns.c.id == campaign_id).values(device_count=count + 1))
        settle(process.engine)
    finally:
        process.engine.dispose()
    return time.perf_counter() - started


def settle(engine: Engine) -> None:
    """What a fleet database that grew over months has had done to it: statistics gathered and, on SQLite, the
    write-ahead log checkpointed. Without it the large run reads a million fresh rows through the WAL.

    On PostgreSQL the report's version rows are folded and the tables vacuumed, as the engine and autovacuum do.
    The fill's multi-row INSERTs run row by row through the driver, so the statement trigger of migration 0021 adds
    a version row per device, where the server's own enrolment (one INSERT ... SELECT or COPY) adds one per
    statement; folded but not vacuumed, the million dead rows would be scanned by every tick's fold."""
    if engine.dialect.name == "sqlite":
        engine.dispose()  # the process's own connections hold the log open; a plain one checkpoints it
        plain = sqlite3.connect(str(engine.url.database), isolation_level=None)
        try:
            plain.execute("ANALYZE")
            plain.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            plain.close()
        return
    with engine.begin() as conn:
        fold_report_changes(conn)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")


def measure(database_url: str, count: int) -> tuple[float, float, int]:
    """(median tick seconds over PASSES days of hours, mean seconds per start decision, decisions that started)."""
    process = build(Settings(database_url=database_url, simulated_clock=True, coap_port=None))
    clock, policy, uow_factory = process.services.clock, process.services.policy, process.services.uow
    assert isinstance(clock, SimulatedClock)
    try:
        clock.set(START)
        run_due_work(uow_factory=uow_factory, clock=clock, policy=policy)  # Scheduled now; warms the connections
        ticks = []
        for hour in range(24 * PASSES):  # the clock moves on hour by hour: each hour opens some zone's window
            clock.set(START + timedelta(hours=hour, minutes=30))
            started = time.perf_counter()
            run_due_work(uow_factory=uow_factory, clock=clock, policy=policy)
            ticks.append(time.perf_counter() - started)
        picked = random.Random(7).sample(range(count), DECISIONS)
        found = 0
        started = time.perf_counter()
        for i in picked:
            assignment = upgrades.current_assignment(uow=uow_factory(), clock=clock, device_id=str(IMEI_BASE + 2 + i))
            found += assignment is not None
        decision = (time.perf_counter() - started) / DECISIONS
        return statistics.median(ticks), decision, found
    finally:
        process.engine.dispose()


def run_size(backend: str, count: int) -> SizeResult:
    with running_server(backend) as server:
        server.set_clock(START - timedelta(days=1))
        account = server.new_account(license_count=1)
        firmware = new_firmware_with_image(server)
        seed = str(IMEI_BASE + 1)
        account.add_devices([{"deviceId": seed, "make": MAKE, "model": MODEL, "firmware": FROM, "protocol": "LWM2M"}])
        body = {
            "firmwareName": firmware["firmwareName"],
            "firmwareFrom": FROM,
            "firmwareTo": firmware["firmwareTo"],
            "protocol": "LWM2M",
            "startDate": START.date().isoformat(),
            "endDate": (START + timedelta(days=30)).date().isoformat(),
            "deviceList": [seed],
            "autoAssignLicenseFlag": True,
            "autoAddDevicesFlag": False,
            "campaignTimeWindowList": [{"startTime": 2, "endTime": 6}],
            "windowZone": "device",
        }
        with account.client() as client:
            r = client.post(f"/campaigns/firmware/{account.name}", json=body)
        if r.status_code != 200:
            raise RuntimeError(f"campaign creation answered {r.status_code}: {r.text[:500]}")
        campaign_id = str(r.json()["id"])
        server.stop()  # its engine loop would tick beside ours
        fill_s = fill(server.database_url, account.name, campaign_id, count, START - timedelta(days=1))
        tick_s, decision_s, started = measure(server.database_url, count)
    print(
        f"{backend:<10} {count:>9,} devices in {len(ZONES)} zones: written in {fill_s:6.1f}s  "
        f"tick median {tick_s * 1000:7.2f} ms  start decision {decision_s * 1e6:7.0f} us "
        f"({started} of {DECISIONS} in an open window)",
        flush=True,
    )
    return SizeResult(count, fill_s, tick_s, decision_s, started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--reference", type=int, default=10_000, help="devices in the reference fleet")
    parser.add_argument("--devices", type=int, default=100_000, help="devices in the large fleet")
    parser.add_argument("--million", action="store_true", help="a large fleet of 1 000 000 devices")
    args = parser.parse_args()
    large = 1_000_000 if args.million else args.devices
    print(f"# bench.zones database={args.database} reference={args.reference} large={large} zones={len(ZONES)}")
    print(f"# {machine()}")
    reference = run_size(args.database, args.reference)
    big = run_size(args.database, large)
    print(
        f"tick ratio ({large:,} vs {args.reference:,} devices over {len(ZONES)} zones): "
        f"{big.tick_s / reference.tick_s:.2f} (goal < 2); "
        f"start decision ratio {big.decision_s / reference.decision_s:.2f}"
    )


if __name__ == "__main__":
    main()
