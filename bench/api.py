"""API benchmark against an honest ceiling: each hot route of `fota serve`, driven by `wrk`, against a bare FastAPI
app (bench/bare_server.py, its own process, same uvicorn options) answering the very bytes fota answered.

Routes: GET campaign, the campaign device report (a 1 000-device page), the license summary, the OAuth token, the
session login and the HTTP device check-in (1 000 devices by default, polling in turn, each with its own key). For
each it prints fota's and the baseline's req/s, p50 and p99, and the ratio fota / bare, all from one run.

    .venv/bin/python -m bench.api --database sqlite [--seconds 8] [--connections 64]
    .venv/bin/python -m bench.api --database postgresql --workers 2
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
from bench.common import (
    FROM,
    IMEI_BASE,
    MAKE,
    MODEL,
    create_campaign,
    machine,
    new_firmware_with_image,
    peak_rss_mib,
    provision_devices,
    running_server,
)
from tests.conftest import Account, RunningServer, _free_port

from bench import wrk

REPORT_DEVICES = 1000  # one full page of the device report (MAX_PAGE_SIZE)


@dataclass
class Route:
    label: str
    url: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    answer: bytes = b""
    fleet: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # (path, headers), taken in turn by wrk

    def fetch(self) -> bytes:
        r = httpx.request(self.method, self.url, headers=self.headers, content=self.body.encode(), timeout=60)
        if r.status_code != 200:
            raise RuntimeError(f"{self.label} answered {r.status_code}: {r.text[:300]}")
        self.answer = r.content
        return r.content


def _bare_server(bodies: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    script = str(Path(__file__).with_name("bare_server.py"))
    args = [sys.executable, script, "--port", str(port), "--bodies", str(bodies), "--workers", str(workers)]
    process = subprocess.Popen(args)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the bare FastAPI baseline did not start")


def _routes(
    server: RunningServer, account: Account, campaign_id: str, http_devices: list[tuple[str, str]]
) -> list[Route]:
    headers = account.headers()
    base = f"{server.base_url}/api/fota/v3"
    basic = base64.b64encode(f"{account.client_id}:{account.client_secret}".encode()).decode()
    imei, key = http_devices[0]
    check_in_headers = {"Content-Type": "application/json"}
    return [
        Route("GET campaign", f"{base}/campaigns/{account.name}/{campaign_id}", headers=headers),
        Route(
            "GET device report (1000)",
            f"{base}/reports/{account.name}/campaigns/{campaign_id}/devices",
            headers=headers,
        ),
        Route("GET license summary", f"{base}/licenses/{account.name}", headers=headers),
        Route(
            "POST oauth2 token",
            f"{server.base_url}/api/ts/v1/oauth2/token",
            method="POST",
            headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
            body="grant_type=client_credentials",
        ),
        Route(
            "POST session login",
            f"{server.base_url}/api/m2m/v1/session/login",
            method="POST",
            headers={"Authorization": headers["Authorization"], "Content-Type": "application/json"},
            body=json.dumps({"username": account.username, "password": account.password}),
        ),
        Route(
            f"POST HTTP device check-in ({len(http_devices)})",
            f"{server.base_url}/device/v1/devices/{imei}/checkin",
            method="POST",
            headers={"Authorization": f"Bearer {key}", **check_in_headers},
            body=json.dumps({"firmware": FROM, "state": 0, "updateResult": 0}),
            fleet=[
                (f"/device/v1/devices/{device}/checkin", {"Authorization": f"Bearer {secret}", **check_in_headers})
                for device, secret in http_devices
            ],
        ),
    ]


def _http_devices(server: RunningServer, account: Account, count: int) -> list[tuple[str, str]]:
    """HTTP devices enrolled in a campaign that starts tomorrow, each with its own key: each check-in finds its
    work and waits."""
    imeis = [str(IMEI_BASE + 900_001 + i) for i in range(count)]
    account.add_devices(
        [
            {"deviceId": imei, "make": MAKE, "model": f"{MODEL}-http", "firmware": FROM, "protocol": "HTTP"}
            for imei in imeis
        ]
    )
    keys = [server.admin.post(f"/accounts/{account.name}/devices/{imei}/key").json()["deviceKey"] for imei in imeis]
    firmware = server.new_firmware(
        make=MAKE, model=f"{MODEL}-http", firmware_from=FROM, firmware_to="2.0.0", protocol="HTTP"
    )
    tomorrow = server.now().date() + timedelta(days=1)
    with account.client() as client:
        r = client.post(
            f"/campaigns/firmware/{account.name}",
            json={
                "firmwareName": firmware["firmwareName"],
                "firmwareFrom": FROM,
                "firmwareTo": "2.0.0",
                "protocol": "HTTP",
                "startDate": tomorrow.isoformat(),
                "endDate": (tomorrow + timedelta(days=1)).isoformat(),
                "deviceList": imeis,
                "autoAssignLicenseFlag": True,
                "autoAddDevicesFlag": False,
            },
        )
        r.raise_for_status()
    return list(zip(imeis, keys, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seconds", type=float, default=8.0, help="wrk duration per measured route")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--only", action="append", default=[], help="measure only routes whose label has this text")
    parser.add_argument("--workers", type=int, default=1, help="fota serve --workers N (PostgreSQL), and as many bare")
    parser.add_argument(
        "--check-in-devices", type=int, default=1000, help="HTTP devices polling in turn, each with its own key"
    )
    args = parser.parse_args()
    if args.workers > 1 and args.database != "postgresql":
        parser.error("--workers needs --database postgresql")
    wrk.require_wrk()
    print(
        f"# bench.api database={args.database} workers={args.workers} wrk -t1 -c{args.connections} -d{args.seconds:g}s"
    )
    print(f"# {machine()}")

    extra = ("--workers", str(args.workers)) if args.workers > 1 else ()
    with (
        # The system clock, as in production: nothing here moves time, and several workers would otherwise share a
        # simulated clock that is read from the database at every now().
        running_server(args.database, *extra, simulated_clock=False) as server,
        tempfile.TemporaryDirectory(prefix="fota-bench-bare-") as bodies,
    ):
        account = server.new_account(license_count=REPORT_DEVICES + args.check_in_devices + 10)
        firmware = new_firmware_with_image(server)
        first = IMEI_BASE + 1
        provision_devices(server, account, REPORT_DEVICES, first=first)
        imeis = [str(first + i) for i in range(REPORT_DEVICES)]
        start = server.now().date() + timedelta(days=1)
        campaign_id, _ = create_campaign(account, account.headers(), firmware, imeis, start, windows=((2, 6),))
        routes = _routes(server, account, campaign_id, _http_devices(server, account, args.check_in_devices))
        routes = [r for r in routes if not args.only or any(text in r.label for text in args.only)]
        for n, route in enumerate(routes):
            Path(bodies, str(n)).write_bytes(route.fetch())
        bare, bare_base = _bare_server(Path(bodies), args.workers)
        pairs: list[tuple[wrk.WrkResult, wrk.WrkResult]] = []
        try:
            for n, route in enumerate(routes):
                load = {"seconds": args.seconds, "connections": args.connections}
                # Short warm-ups first (imports, pools, page cache), then fota and its baseline back to back.
                wrk.run(
                    route.url,
                    label=route.label,
                    method=route.method,
                    headers=route.headers,
                    body=route.body,
                    seconds=2,
                    connections=args.connections,
                    fleet=route.fleet,
                )
                fota = wrk.run(
                    route.url,
                    label=f"fota  {route.label}",
                    method=route.method,
                    headers=route.headers,
                    body=route.body,
                    server_pid=server.process.pid,
                    fleet=route.fleet,
                    **load,
                )
                wrk.run(
                    f"{bare_base}/b/{n}", label="warm-up", method=route.method, seconds=2, connections=args.connections
                )
                baseline = wrk.run(
                    f"{bare_base}/b/{n}",
                    label=f"bare  {len(route.answer)} B",
                    method=route.method,
                    server_pid=bare.pid,
                    **load,
                )
                pairs.append((fota, baseline))
                print(fota.line(), flush=True)
                print(baseline.line(), flush=True)
                print(
                    f"  ratio {route.label}: {fota.rps / baseline.rps:.3f}  "
                    f"(p99 {fota.p99_ms / baseline.p99_ms:.1f} x the bare p99; CPU per request "
                    f"{baseline.cpu_us_per_request / fota.cpu_us_per_request:.3f} of fota's)",
                    flush=True,
                )
        finally:
            bare.terminate()
            bare.wait(timeout=10)
        rss = peak_rss_mib(server.process.pid)
    print(f"# make/model/from: {MAKE} {MODEL} {FROM}; report page = {REPORT_DEVICES} devices")
    print(f"server peak RSS (VmHWM): {rss:.0f} MiB")


if __name__ == "__main__":
    main()
