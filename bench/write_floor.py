"""The database's own cost of the rows a campaign creation writes, with no Python in the loop: the floor under
bench.scale's and bench.create's creation times.

On a fresh, migrated database with N devices, one transaction writes what creating an N-device campaign with
auto-assigned licenses writes (N campaign rows, N license rows, 2N history rows), each as one
`INSERT ... SELECT` from `devices`, and commits. Nothing crosses the wire but the statements, so the time is the
database's alone: `POST /campaigns` cannot go below it on the same machine.

    .venv/bin/python -m bench.write_floor --database postgresql --devices 100000
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from bench.common import machine
from sqlalchemy import Engine, insert, text
from tests.conftest import DATABASES, POSTGRES_ADMIN_URL, TEARDOWN, _drop_postgres_database, _postgres_database

from fota.adapters.storage.database import make_engine, migrate
from fota.adapters.storage.tables import accounts, campaigns, firmware

ACCOUNT = "0000000001-00001"
STEPS = {
    "campaign rows": "INSERT INTO campaign_devices (campaign_id, device_id, account_name, status, reason, active, "
    "updated_at, attempts) SELECT 'c1', device_id, account_name, 'UpgradePending', :reason, true, :now, 0 FROM devices",
    "license rows": "INSERT INTO device_licenses (device_id, account_name, assigned_at) "
    "SELECT device_id, account_name, :now FROM devices",
    "history rows (2 per device)": "INSERT INTO history (account_name, campaign_id, device_id, status, reason, at) "
    "SELECT account_name, c, device_id, s, :reason, :now FROM devices, "
    "(VALUES ('c1', 'UpgradePending'), (NULL, 'LicenseAssigned')) AS kinds (c, s)",
}


def load(engine: Engine, devices: int) -> None:
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            insert(accounts).values(
                name=ACCOUNT, license_count=devices, licenses_used=0, created_at=now, updated_at=now
            )
        )
        connection.execute(
            insert(firmware).values(
                name="fw", make="M", model="X", firmware_from="1", firmware_to="2", protocol="LWM2M", launch_date=now
            )
        )
        connection.execute(
            insert(campaigns).values(
                id="c1",
                account_name=ACCOUNT,
                firmware_name="fw",
                firmware_from="1",
                firmware_to="2",
                protocol="LWM2M",
                make="M",
                model="X",
                start_date=now.date(),
                end_date=now.date(),
                windows=[],
                auto_assign_license=True,
                auto_add_devices=False,
                status="CampaignQueued",
                created_at=now,
                updated_at=now,
            )
        )
        connection.execute(
            text(
                "INSERT INTO devices (device_id, account_name, make, model, firmware, protocol, created_at, "
                "updated_at) SELECT (350000000000000 + g)::text, :a, 'M', 'X', '1', 'LWM2M', :t, :t "
                "FROM generate_series(1, :n) g"
            ),
            {"a": ACCOUNT, "n": devices, "t": now},
        )
    with engine.connect() as connection:
        connection.execute(text("ANALYZE"))


def measure(devices: int, *, show: bool = True) -> float:
    """Seconds PostgreSQL takes to write (and commit) an N-device campaign's rows, on a fresh database of its own;
    `show` prints each step's time."""
    name, url = _postgres_database()
    engine = make_engine(url)
    try:
        migrate(engine)
        load(engine, devices)
        params = {"now": datetime.now(UTC), "reason": "Upgrade pending: waiting for the device to check in"}
        total = time.perf_counter()
        with engine.begin() as connection:
            for step, statement in STEPS.items():
                started = time.perf_counter()
                connection.execute(text(statement), params)
                if show:
                    print(f"{step:<28} {time.perf_counter() - started:6.2f}s")
            started = time.perf_counter()
        if show:
            print(f"{'commit':<28} {time.perf_counter() - started:6.2f}s")
        return time.perf_counter() - total
    finally:
        engine.dispose()
        _drop_postgres_database(name)
        TEARDOWN.wait()  # the drop runs in the background: done before anything else is timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["postgresql"], default="postgresql")
    parser.add_argument("--devices", type=int, default=100_000)
    args = parser.parse_args()
    print(f"# bench.write_floor database={args.database} devices={args.devices}")
    print(f"# {machine()}")
    try:
        floor = measure(args.devices)
    finally:
        DATABASES.drop_template(POSTGRES_ADMIN_URL)  # the migrated template the database was cloned from
    print(f"floor for a {args.devices:,}-device campaign: {floor:.2f}s")


if __name__ == "__main__":
    main()
