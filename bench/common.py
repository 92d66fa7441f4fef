"""Shared benchmark plumbing: start the real server, provision an account, drive bounded HTTP load, do the math.

Every loop here is bounded both in count and in wall time, and every target is 127.0.0.1: a benchmark that hangs
or wanders off the machine is worse than no benchmark.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import httpx

# `python -m bench.x` from the repository root already has it on sys.path; running a file directly does not.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.conftest import (  # noqa: E402 - needs the path above
    Account,
    RunningServer,
    _drop_postgres_database,
    start_server,
)

MAKE, MODEL, FROM, TO = "BenchCo", "B-1", "1.0.0", "2.0.0"
IMEI_BASE = 350_000_000_000_000  # 15 digits, room for far more than a million consecutive IMEIs


def machine() -> str:
    """One line describing where the figures came from (these machines differ and are shared)."""
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    load = os.getloadavg()
    return (
        f"nproc={os.cpu_count()} cpu={cpu!r} python={platform.python_version()} "
        f"loadavg(1m,5m)={load[0]:.2f},{load[1]:.2f}"
    )


def peak_rss_mib(pid: int) -> float:
    """VmHWM (the kernel's high-water mark of resident memory) of a process, in MiB; psutil is not installed."""
    return memory_kib(pid, "VmHWM") / 1024


def memory_kib(pid: int, field: str = "VmRSS") -> float:
    """A memory figure of /proc/<pid>/status (VmRSS: resident now, VmHWM: its peak), in KiB; NaN if absent."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return float(line.split()[1])
    return float("nan")


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list; exact enough for latency reporting."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@contextmanager
def running_server(backend: str, *extra_args: str, simulated_clock: bool = True) -> Iterator[RunningServer]:
    """`fota serve` as a subprocess on a fresh database, stopped (and its PostgreSQL database dropped) on exit.

    A fresh interpreter, not the tests' forked server: that one hashes secrets at the tests' cheap Argon2id cost,
    and the token and login figures are of the production cost."""
    with tempfile.TemporaryDirectory(prefix="fota-bench-") as tmp:
        server = start_server(
            backend, Path(tmp), "--log-level", "warning", *extra_args, simulated_clock=simulated_clock, forked=False
        )
        try:
            yield server
        finally:
            server.stop()
            if backend == "postgresql":
                _drop_postgres_database(server.database_url.rsplit("/", 1)[1])


def provision_devices(server: RunningServer, account: Account, count: int, *, first: int, batch: int = 50_000) -> float:
    """Adds `count` devices (IMEIs first..first+count-1) through the admin API in large batches; returns seconds."""
    started = time.perf_counter()
    for offset in range(0, count, batch):
        chunk = [
            {"deviceId": str(first + i), "make": MAKE, "model": MODEL, "firmware": FROM, "protocol": "LWM2M"}
            for i in range(offset, min(offset + batch, count))
        ]
        r = server.admin.post(f"/accounts/{account.name}/devices", json={"deviceList": chunk}, timeout=600)
        r.raise_for_status()
    return time.perf_counter() - started


def new_firmware_with_image(server: RunningServer, image: bytes | None = None) -> dict[str, str]:
    firmware = server.new_firmware(make=MAKE, model=MODEL, firmware_from=FROM, firmware_to=TO)
    if image is not None:
        r = server.admin.put(
            f"/firmware/{firmware['firmwareName']}/image",
            content=image,
            headers={"Content-Type": "application/octet-stream"},
        )
        r.raise_for_status()
    return firmware


def create_campaign(
    account: Account,
    headers: dict[str, str],
    firmware: dict[str, str],
    imeis: list[str],
    start: date,
    *,
    windows: tuple[tuple[int, int], ...] = (),
    timeout: float = 600,
) -> tuple[str, float]:
    """POSTs a v3 firmware campaign; returns its id and the seconds the request took (what a client waits)."""
    body = {
        "firmwareName": firmware["firmwareName"],
        "firmwareFrom": FROM,
        "firmwareTo": TO,
        "protocol": "LWM2M",
        "startDate": start.isoformat(),
        "endDate": (start + timedelta(days=2)).isoformat(),
        "deviceList": imeis,
        "autoAssignLicenseFlag": True,
        "autoAddDevicesFlag": False,
        "campaignName": "bench",
        "campaignTimeWindowList": [{"startTime": s, "endTime": e} for s, e in windows],
    }
    url = f"{account.server.base_url}/api/fota/v3/campaigns/firmware/{account.name}"
    started = time.perf_counter()
    r = httpx.post(url, json=body, headers=headers, timeout=timeout)
    elapsed = time.perf_counter() - started
    if r.status_code not in (200, 201):  # the contract answers 200 (ThingSpace), not 201
        raise RuntimeError(f"campaign creation answered {r.status_code}: {r.text[:500]}")
    return str(r.json()["id"]), elapsed


@dataclass
class LoadResult:
    """What a bounded load run measured: every latency of a successful request, errors, elapsed wall time."""

    label: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0
    body_bytes: int = 0

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def line(self) -> str:
        if not self.latencies:
            return f"{self.label:<28} no successful request ({self.errors} errors)"
        return (
            f"{self.label:<28} {len(self.latencies):>6} ok {self.errors:>3} err  {self.rps:8.1f} req/s  "
            f"p50 {percentile(self.latencies, 50) * 1000:7.1f} ms  p99 {percentile(self.latencies, 99) * 1000:7.1f} ms"
            f"  mean {statistics.fmean(self.latencies) * 1000:7.1f} ms  body {self.body_bytes} B"
        )


async def _load(
    url: str, headers: dict[str, str], requests: int, concurrency: int, max_seconds: float, label: str
) -> LoadResult:
    result = LoadResult(label)
    issued = 0
    deadline = time.monotonic() + max_seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=60) as client:

        async def worker() -> None:
            nonlocal issued
            # Each worker takes the next request number until the count or the time budget is spent.
            while issued < requests and time.monotonic() < deadline:
                issued += 1
                started = time.perf_counter()
                try:
                    r = await client.get(url)
                except httpx.HTTPError:
                    result.errors += 1
                    continue
                if r.status_code == 200:
                    result.latencies.append(time.perf_counter() - started)
                    result.body_bytes = len(r.content)
                else:
                    result.errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.elapsed = time.perf_counter() - started
    return result


def http_load(
    url: str,
    headers: dict[str, str],
    *,
    requests: int,
    concurrency: int = 64,
    max_seconds: float = 60.0,
    label: str = "",
) -> LoadResult:
    """GETs `url` `requests` times from `concurrency` keep-alive connections, stopping early at `max_seconds`."""
    return asyncio.run(_load(url, headers, requests, concurrency, max_seconds, label or url))
