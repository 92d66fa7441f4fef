"""The demo fleet `fota serve --demo` provisions: an account, credentials, firmware and devices, printed once."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from rich.console import Console

from fota.bootstrap import Container
from fota.domain.errors import Conflict
from fota.services import admin

ACCOUNT = "0000123456-00001"
CLIENT_ID = "demo-client"
CLIENT_SECRET = "demo-client-secret"  # noqa: S105 - a published demo credential, local only
USERNAME = "demo"
PASSWORD = "demo-password"  # noqa: S105 - a published demo credential, local only
MAKE, MODEL = "SEQUANS Communications", "GM01Q"
FIRMWARE_FROM, FIRMWARE_TO = "SR1.2.0.0-10512", "SR1.2.0.0-10657"
FIRMWARE_NAME = f"SEQUANSCommunications_{MODEL}_{FIRMWARE_FROM}_{FIRMWARE_TO}"
DEVICES = 20


def provision_demo(container: Container, *, base_url: str) -> None:
    """Idempotent: a second run finds everything in place and prints the same credentials."""
    c = container
    steps: list[Callable[[], object]] = [
        lambda: admin.create_account(
            uow=c.uow(), clock=c.clock, name=ACCOUNT, license_count=1000, purchase_type="TS-HFOTA-EVNT"
        ),
        lambda: admin.create_client(
            uow=c.uow(),
            clock=c.clock,
            hasher=c.hasher,
            account_name=ACCOUNT,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
        ),
        lambda: admin.create_user(
            uow=c.uow(),
            clock=c.clock,
            hasher=c.hasher,
            account_name=ACCOUNT,
            username=USERNAME,
            password=PASSWORD,
        ),
        lambda: admin.create_firmware(
            uow=c.uow(),
            clock=c.clock,
            name=FIRMWARE_NAME,
            make=MAKE,
            model=MODEL,
            firmware_from=FIRMWARE_FROM,
            firmware_to=FIRMWARE_TO,
            protocol="LWM2M",
            release_note="Demo release",
            launch_date=None,
        ),
    ]
    for step in steps:
        with contextlib.suppress(Conflict):
            step()
    imeis = [f"35{n:013d}" for n in range(1, DEVICES + 1)]
    admin.provision_devices(
        uow=c.uow(),
        clock=c.clock,
        account_name=ACCOUNT,
        specs=[
            admin.DeviceSpec(imei, MAKE, MODEL, FIRMWARE_FROM, "LWM2M", f"555{n:07d}")
            for n, imei in enumerate(imeis, start=1)
        ],
    )
    lines = [
        f"fota demo on {base_url}",
        f"  account        {ACCOUNT}",
        f"  OAuth client   {CLIENT_ID} / {CLIENT_SECRET}    POST {base_url}/api/ts/v1/oauth2/token",
        f"  user           {USERNAME} / {PASSWORD}    POST {base_url}/api/m2m/v1/session/login",
        f"  firmware       {FIRMWARE_NAME}",
        f"  devices        {DEVICES} x {MAKE} {MODEL} on {FIRMWARE_FROM}: {imeis[0]} .. {imeis[-1]}",
        f"  admin token    {c.admin_token}",
        f"  API docs       {base_url}/docs",
    ]
    Console(soft_wrap=True).print("\n".join(lines), highlight=False, markup=False)
