"""CoAP image blocks served by `fota serve` against aiocoap's raw GET rate, both driven by the same datagram load
generator (bench/coap_load.py), which is cheap enough that the server measured is what limits the rate.

fota: N endpoints at once, each with a download link of its own, read a 64 KiB image in 512-byte Block2 blocks,
block after block, and start again at block 0 after the last. The raw stack: the same number of endpoints GET a
trivial aiocoap resource (bench/coap_baseline_server.py, its own process), once as aiocoap comes and once with the
tuning fota gives its own endpoint (the stricter ceiling). Each prints blocks (requests) a minute,
p50 and p99, and the ratio, all from one run. The server runs nothing else meanwhile: no check-ins, no engine work.

    .venv/bin/python -m bench.blocks --database sqlite [--seconds 8] [--endpoints 32]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
from datetime import timedelta

from bench.common import (
    IMEI_BASE,
    TO,
    create_campaign,
    machine,
    new_firmware_with_image,
    peak_rss_mib,
    percentile,
    provision_devices,
    running_server,
)
from tests.conftest import RunningServer

from bench import coap_baseline_server, coap_load
from fota.adapters.storage.database import make_engine
from fota.adapters.storage.unit_of_work import SqlUnitOfWorkFactory
from fota.services.ports import DownloadLink
from fota.services.upgrades import download_token_hash
from fota.simulator.package import build_image

BLOCK_BYTES = 512


def download_tokens(server: RunningServer, campaign_id: str, firmware_name: str, device_ids: list[str]) -> list[str]:
    """A download link for each device, stored as the server stores one when it offers the package."""
    engine = make_engine(server.database_url)
    now = server.now()
    tokens = [secrets.token_urlsafe(24) for _ in device_ids]
    try:
        with SqlUnitOfWorkFactory(engine)() as uow:
            for token, device_id in zip(tokens, device_ids, strict=True):
                link = DownloadLink(device_id, campaign_id, firmware_name, now, now + timedelta(days=1))
                uow.downloads.add(download_token_hash(token), link)
            uow.commit()
    finally:
        engine.dispose()
    return tokens


def raw_rate(endpoints: int, seconds: float, *, tuned: bool = False) -> coap_load.Load:
    """The rate of bench/coap_baseline_server.py (`tuned`: with fota's tuning of its endpoint)."""

    async def measure() -> coap_load.Load:
        async with coap_baseline_server.running(seconds, tuned=tuned) as port:
            return await coap_load.drive(port, paths=[("x",)] * endpoints, seconds=seconds)

    return asyncio.run(measure())


async def _blocks(port: int, tokens: list[str], blocks: int, seconds: float) -> coap_load.Load:
    await asyncio.sleep(1.0)  # the server's CoAP endpoint has no readiness signal either
    return await coap_load.drive(port, paths=[("fw", t) for t in tokens], blocks=blocks, seconds=seconds)


def line(label: str, load: coap_load.Load) -> str:
    latencies = sorted(load.latencies)
    p50 = percentile(latencies, 50) * 1000 if latencies else 0.0
    p99 = percentile(latencies, 99) * 1000 if latencies else 0.0
    return (
        f"{label:<5} {load.per_minute:>11,.0f}/min  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  "
        f"{load.ok:>8} answered  {load.errors} errors"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seconds", type=float, default=8.0)
    # The download limit starts at 32 places (ADR 28): more endpoints at once would be refused until it grows.
    parser.add_argument("--endpoints", type=int, default=32)
    parser.add_argument("--image-kib", type=int, default=64)
    args = parser.parse_args()
    print(f"# bench.blocks database={args.database} endpoints={args.endpoints} image={args.image_kib} KiB")
    print(f"# {machine()}")
    blocks = -(-args.image_kib * 1024 // BLOCK_BYTES)

    with running_server(args.database) as server:
        account = server.new_account(license_count=args.endpoints)
        firmware = new_firmware_with_image(server, build_image(TO, args.image_kib * 1024))
        first = IMEI_BASE + 20_000_001
        device_ids = [str(first + i) for i in range(args.endpoints)]
        provision_devices(server, account, args.endpoints, first=first)
        tomorrow = server.now().date() + timedelta(days=1)
        campaign_id, _ = create_campaign(account, account.headers(), firmware, device_ids, tomorrow)
        tokens = download_tokens(server, campaign_id, firmware["firmwareName"], device_ids)
        fota = asyncio.run(_blocks(server.coap_port, tokens, blocks, args.seconds))
        rss = peak_rss_mib(server.process.pid)

    raw = raw_rate(args.endpoints, args.seconds)
    tuned = raw_rate(args.endpoints, args.seconds, tuned=True)
    print(line("fota", fota) + f"  ({BLOCK_BYTES}-byte blocks of /fw/<token>)")
    print(line("raw", raw) + "  (aiocoap as it comes, a 2-byte resource)")
    print(line("tuned", tuned) + "  (the same with fota's tuning of its endpoint)")
    for label, baseline in (("raw", raw), ("tuned raw", tuned)):
        ratio = fota.per_minute / baseline.per_minute if baseline.per_minute else 0.0
        p99 = _p99(fota) / _p99(baseline) if baseline.latencies else 0.0
        print(f"  ratio blocks served : {label} GET rate = {ratio:.3f}  (p99 {p99:.1f} x its p99)")
    print(f"server peak RSS (VmHWM): {rss:.0f} MiB")


def _p99(load: coap_load.Load) -> float:
    return percentile(sorted(load.latencies), 99)


if __name__ == "__main__":
    main()
