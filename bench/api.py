"""API benchmark: GET campaign and the campaign device report (a 1000-device page) under concurrency 64.

Baseline, measured in the same run against the same server process: a constant JSON body of the same size served
by a route mounted only for the benchmark (bench/constant_server.py). The ratio real/constant is the share of the
framework's ceiling that the real route reaches; the issue's target for GET campaign is >= 50 %.

    .venv/bin/python -m bench.api --database sqlite --requests 3000
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.common import (
    FROM,
    IMEI_BASE,
    MAKE,
    MODEL,
    LoadResult,
    create_campaign,
    http_load,
    machine,
    new_firmware_with_image,
    peak_rss_mib,
    provision_devices,
)
from tests.conftest import (
    RunningServer,
    _drop_postgres_database,
    _free_port,
    _launch,
    _postgres_database,
)

REPORT_DEVICES = 1000  # one full page of the device report (MAX_PAGE_SIZE)


def _start(backend: str, tmp: Path) -> RunningServer:
    """bench/constant_server.py as a subprocess, launched and health-checked the way tests start `fota serve`."""
    database_url = f"sqlite:///{tmp / 'fota.db'}" if backend == "sqlite" else _postgres_database()[1]
    token = secrets.token_urlsafe(24)
    env = {**os.environ, "FOTA_ADMIN_TOKEN": token, "FOTA_DATABASE_URL": database_url}
    port, coap_port = _free_port(), _free_port(socket.SOCK_DGRAM)
    script = str(Path(__file__).with_name("constant_server.py"))
    args = [sys.executable, script, "--port", str(port), "--coap-port", str(coap_port)]
    process = _launch(args, env, tmp / "server.log", tmp)
    if process is None:
        raise RuntimeError("port race lost; run again")
    return RunningServer(f"http://127.0.0.1:{port}", token, backend, database_url, process, tmp / "server.log")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--requests", type=int, default=3000, help="requests per measured route")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--max-seconds", type=float, default=60.0, help="time budget per measured route")
    args = parser.parse_args()
    print(f"# bench.api database={args.database} requests={args.requests} concurrency={args.concurrency}")
    print(f"# {machine()}")

    with tempfile.TemporaryDirectory(prefix="fota-bench-api-") as tmp:
        server = _start(args.database, Path(tmp))
        try:
            account = server.new_account(license_count=REPORT_DEVICES)
            firmware = new_firmware_with_image(server)
            first = IMEI_BASE + 1
            provision_devices(server, account, REPORT_DEVICES, first=first)
            headers = account.headers()
            imeis = [str(first + i) for i in range(REPORT_DEVICES)]
            start = server.now().date() + timedelta(days=1)
            campaign_id, _ = create_campaign(account, headers, firmware, imeis, start, windows=((2, 6),))
            base = f"{server.base_url}/api/fota/v3"
            routes = {
                "GET campaign": f"{base}/campaigns/{account.name}/{campaign_id}",
                "GET device report": f"{base}/reports/{account.name}/campaigns/{campaign_id}/devices",
            }
            results: list[tuple[LoadResult, LoadResult, LoadResult]] = []
            for label, url in routes.items():
                # Warm up (first-request imports, connection pools, SQLite page cache), then measure.
                http_load(url, headers, requests=200, concurrency=args.concurrency, max_seconds=20)
                real = http_load(
                    url,
                    headers,
                    requests=args.requests,
                    concurrency=args.concurrency,
                    max_seconds=args.max_seconds,
                    label=label,
                )
                size = real.body_bytes
                ceilings = []
                for kind in ("async", "sync"):
                    ceiling = f"{server.base_url}/bench/constant/{kind}/{size}"
                    http_load(ceiling, {}, requests=200, concurrency=args.concurrency, max_seconds=20)
                    ceilings.append(
                        http_load(
                            ceiling,
                            {},
                            requests=args.requests,
                            concurrency=args.concurrency,
                            max_seconds=args.max_seconds,
                            label=f"  constant {kind} {size} B",
                        )
                    )
                results.append((real, ceilings[0], ceilings[1]))
                time.sleep(0.5)
            rss = peak_rss_mib(server.process.pid)
        finally:
            server.stop()
            if args.database == "postgresql":
                _drop_postgres_database(server.database_url.rsplit("/", 1)[1])

    print(f"# device make/model/from: {MAKE} {MODEL} {FROM}; report page = {REPORT_DEVICES} devices")
    for real, async_ceiling, sync_ceiling in results:
        print(real.line())
        print(async_ceiling.line())
        print(sync_ceiling.line())
        print(
            f"  ratio {real.label}: {real.rps / async_ceiling.rps:.1%} of constant-async ceiling, "
            f"{real.rps / sync_ceiling.rps:.1%} of constant-sync"
        )
    print(f"server peak RSS (VmHWM): {rss:.0f} MiB")


if __name__ == "__main__":
    main()
