"""Campaign creation of N devices against the database's own floor for the same rows, measured in the same run.

Each round, on the same PostgreSQL server:
1. `bench.write_floor.measure`: the time PostgreSQL alone needs to write an N-device campaign's rows;
2. `fota serve` on a fresh database, N devices provisioned through the admin API (not timed as the target), then
   `POST /api/fota/v3/campaigns/firmware/{a}` with every device in `deviceList`, timed as a client waits for it.
The two alternate, so a change in the machine's load shows in both; the figure is the median of the rounds'
creation / floor (the issue's target: at most 1.5), each round's pair measured back to back; the ratio of the
medians is printed too. `--sqlite` also times the creation on SQLite (no floor there).
`--py-spy EXE:PREFIX` records the server during each PostgreSQL creation request (`PREFIX-<round>.json`, speedscope).

    .venv/bin/python -m bench.create --devices 100000 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from datetime import timedelta

from bench.common import IMEI_BASE, create_campaign, machine, new_firmware_with_image, provision_devices, running_server
from bench.write_floor import measure
from tests.conftest import DATABASES, POSTGRES_ADMIN_URL, TEARDOWN


def creation(backend: str, devices: int, py_spy: tuple[str, str] | None = None) -> float:
    """Seconds of one creation request with every one of the account's `devices` in its list."""
    with running_server(backend) as server:
        account = server.new_account(license_count=devices)
        firmware = new_firmware_with_image(server)
        first = IMEI_BASE + 1
        provision_devices(server, account, devices, first=first)
        imeis = [str(first + i) for i in range(devices)]
        start = server.now().date() + timedelta(days=1)
        recorder = None
        if py_spy:
            executable, output = py_spy
            command = [executable, "record", "-p", str(server.process.pid), "-f", "speedscope", "-o", output]
            recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)  # py-spy attaches before the request starts
        try:
            _, seconds = create_campaign(account, account.headers(), firmware, imeis, start, windows=((2, 6),))
        finally:
            if recorder is not None:
                recorder.send_signal(subprocess.signal.SIGINT)
                recorder.wait(timeout=60)
    TEARDOWN.wait()  # the database is dropped in the background: done before anything else is timed
    return seconds


def _rounds(args: argparse.Namespace, floors: list[float], creations: list[float], lites: list[float]) -> None:
    for round_ in range(1, args.rounds + 1):
        spy = None
        if args.py_spy:
            executable, prefix = args.py_spy.split(":", 1)
            spy = (executable, f"{prefix}-{round_}.json")
        floors.append(measure(args.devices, show=False))
        creations.append(creation("postgresql", args.devices, spy))
        line = f"round {round_}: floor {floors[-1]:5.2f}s  create (postgresql) {creations[-1]:5.2f}s"
        if args.sqlite:
            lites.append(creation("sqlite", args.devices))
            line += f"  create (sqlite) {lites[-1]:5.2f}s"
        print(f"{line}  ratio {creations[-1] / floors[-1]:.2f}  # {machine().rsplit(' ', 1)[1]}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sqlite", action="store_true", help="also time the creation on SQLite")
    parser.add_argument("--py-spy", metavar="PATH", help="py-spy's executable and an output prefix, EXE:PREFIX")
    args = parser.parse_args()
    print(f"# bench.create devices={args.devices} rounds={args.rounds}")
    print(f"# {machine()}")
    floors: list[float] = []
    creations: list[float] = []
    lites: list[float] = []
    try:
        _rounds(args, floors, creations, lites)
    finally:
        DATABASES.drop_template(POSTGRES_ADMIN_URL)  # the migrated template every round's databases were cloned from
    floor, created = statistics.median(floors), statistics.median(creations)
    ratio = statistics.median(c / f for c, f in zip(creations, floors, strict=True))
    print(
        f"median: floor {floor:.2f}s, postgresql creation of {args.devices:,} {created:.2f}s "
        f"(ratio of the medians {created / floor:.2f}); median of the rounds' creation/floor {ratio:.2f} "
        "(target <= 1.5)"
    )
    if lites:
        print(f"median sqlite creation of {args.devices:,}: {statistics.median(lites):.2f}s")
    print(f"# {machine()}")


if __name__ == "__main__":
    main()
