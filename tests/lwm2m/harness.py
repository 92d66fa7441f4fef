"""Helpers for end-to-end device tests: a callback receiver, fleet provisioning, a campaign through the SDK, and an
LwM2M server on loopback for tests of its endpoint."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import Engine, select
from verizon.models.campaign_firmware_upgrade import CampaignFirmwareUpgrade
from verizon.models.v3_time_window import V3TimeWindow

from fota.adapters.delivery.gate import DownloadGate
from fota.adapters.delivery.packages import PackageStore
from fota.adapters.lwm2m.server import Lwm2mServer
from fota.adapters.storage.database import make_engine
from fota.adapters.storage.tables import history, outbox
from fota.services.context import ServiceContext
from fota.simulator.device import DeviceConfig
from fota.simulator.package import build_image
from tests.api.sdk_client import sdk_session
from tests.conftest import Account, RunningServer

MAKE, MODEL = "SimCo", "SIM-1"
FROM, TO = "1.0.0", "2.0.0"


@dataclass
class CallbackReceiver:
    """A real HTTP server on loopback that records every callback POST."""

    events: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def ids(self) -> list[str]:
        with self.lock:
            return [e["eventId"] for e in self.events]

    def device_events(self, device_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.events if e.get("deviceId") == device_id]

    def verify(self, secret: str) -> None:
        """Every body carries a valid signature over `<timestamp>.<body>`."""
        with self.lock:
            pairs = list(zip(self.headers, self.raw, strict=True))
        for headers, body in pairs:
            timestamp = headers["x-fota-timestamp"]
            expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(headers["x-fota-signature"], f"sha256={expected}")


@contextmanager
def callback_receiver() -> Iterator[CallbackReceiver]:
    receiver = CallbackReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with receiver.lock:
                receiver.raw.append(body)
                receiver.events.append(json.loads(body))
                receiver.headers.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        # Several engines post at once; the default backlog of 5 can refuse a burst.
        request_queue_size = 128

    httpd = Server(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{httpd.server_address[1]}/hooks/fota"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        httpd.shutdown()
        httpd.server_close()


def drain_outbox(engine: Engine, account_name: str, clock: RunningServer, timeout: float = 60.0) -> set[str]:
    """Waits until the server has delivered every callback event of the account; returns the recorded event ids.

    A failed attempt is retried after a back-off on the simulated clock, so the clock keeps moving while waiting:
    one second per half second, which keeps the 60 s delivery lease far longer than any send (10 s at most).
    """
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as connection:
            rows = connection.execute(
                select(outbox.c.event_id, outbox.c.delivered_at, outbox.c.attempts, outbox.c.last_error).where(
                    outbox.c.account_name == account_name
                )
            ).all()
        pending = [(r.event_id, r.attempts, r.last_error) for r in rows if r.delivered_at is None]
        if not pending:
            return {r.event_id for r in rows}
        if time.monotonic() > deadline:
            raise AssertionError(f"callback outbox not drained, {len(pending)} pending: {pending[:5]}")
        clock.advance(1)
        threading.Event().wait(0.5)


def settle(
    server: RunningServer, account_name: str, campaign_id: str, imeis: list[str], receiver: CallbackReceiver
) -> tuple[set[str], list[str]]:
    """After an outage test: every device reached UpgradeSuccess exactly once, and once the outbox has drained, every
    recorded callback event reached the receiver. Returns (recorded event ids, received event ids)."""
    engine = make_engine(server.database_url)
    try:
        with engine.connect() as connection:
            successes = Counter(
                connection.execute(
                    select(history.c.device_id).where(
                        history.c.campaign_id == campaign_id, history.c.status == "UpgradeSuccess"
                    )
                ).scalars()
            )
        assert successes == dict.fromkeys(imeis, 1), "every device finishes exactly once"
        recorded = drain_outbox(engine, account_name, server)
    finally:
        engine.dispose()
    received = receiver.ids()
    assert recorded and set(received) == recorded, "every recorded event reached the receiver"
    return recorded, received


def imei_block(count: int) -> int:
    """A random start for `count` consecutive 15-digit IMEIs, so tests sharing a server never collide."""
    return random.randint(10**14, 10**15 - count - 1)


def provision(
    server: RunningServer, account: Account, count: int, *, image_size: int = 4096
) -> tuple[dict[str, str], list[str], int]:
    """Firmware SimCo SIM-1 1.0.0 -> 2.0.0 with a real image, and `count` devices on 1.0.0."""
    firmware = server.new_firmware(make=MAKE, model=MODEL, firmware_from=FROM, firmware_to=TO)
    image = build_image(TO, image_size)
    r = server.admin.put(
        f"/firmware/{firmware['firmwareName']}/image",
        content=image,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 200, r.text
    start = imei_block(count)
    imeis = [str(start + i) for i in range(count)]
    account.add_devices(
        [{"deviceId": i, "make": MAKE, "model": MODEL, "firmware": FROM, "protocol": "LWM2M"} for i in imeis]
    )
    return firmware, imeis, start


def create_campaign_with_sdk(
    account: Account,
    firmware: dict[str, str],
    imeis: list[str],
    start: date,
    end: date,
    windows: tuple[tuple[int, int], ...] = (),
) -> str:
    sdk = sdk_session(account)
    body = CampaignFirmwareUpgrade(
        firmware_name=firmware["firmwareName"],
        firmware_from=FROM,
        firmware_to=TO,
        protocol="LWM2M",
        start_date=start,
        end_date=end,
        device_list=imeis,
        auto_assign_license_flag=True,
        auto_add_devices_flag=False,
        campaign_name="end-to-end",
        campaign_time_window_list=[V3TimeWindow(start_time=s, end_time=e) for s, e in windows],
    )
    created = sdk.campaigns_v3.schedule_campaign_firmware_upgrade(account.name, body).body
    assert created.status == "CampaignQueued"
    return str(created.id)


def device_report(account: Account, campaign_id: str) -> dict[str, dict[str, Any]]:
    with account.client() as client:
        r = client.get(f"/reports/{account.name}/campaigns/{campaign_id}/devices")
        assert r.status_code == 200, r.text
        return {d["deviceId"]: d for d in r.json()["deviceList"]}


def resilient_template(server: RunningServer | str, *, checkin_interval: float, timeout: float = 5.0) -> DeviceConfig:
    """Devices for outage tests: short time-outs and quick re-registration, so they notice a dead server fast."""
    return DeviceConfig(
        server=server if isinstance(server, str) else server.coap_url,
        make=MAKE,
        model=MODEL,
        firmware=FROM,
        checkin_interval=checkin_interval,
        awake_seconds=10.0,
        reboot_seconds=0.5,
        lifetime=3600,
        transfer_timeout=timeout,
        request_timeout=timeout,
        register_retry=1.0,
    )


def watched_campaign(
    server: RunningServer, account: Account, receiver: CallbackReceiver, count: int
) -> tuple[str, list[str], int]:
    """`count` provisioned devices in a campaign live today, with `receiver` registered for its callbacks.

    Returns the campaign id, the IMEIs and the first IMEI as a number (the fleet's `imei_start`).
    """
    firmware, imeis, start = provision(server, account, count, image_size=2048)
    with account.client() as client:
        assert client.post(f"/callbacks/{account.name}", json={"url": receiver.url}).status_code == 200
    today = server.now().date()
    campaign_id = create_campaign_with_sdk(account, firmware, imeis, today, today + timedelta(days=2))
    server.advance(0)
    return campaign_id, imeis, start


def loopback_lwm2m_server(services: ServiceContext, *, port: int, coaps_port: int) -> Lwm2mServer:
    """The LwM2M server of `services` on 127.0.0.1 (coaps on `coaps_port`, 0 for none), plain CoAP devices allowed;
    not started."""
    return Lwm2mServer(
        services,
        host="127.0.0.1",
        port=port,
        coaps_port=coaps_port,
        packages=PackageStore(services),
        gate=DownloadGate(8),
        coap_base_url="coap://127.0.0.1",
        public_coaps_url="",
        http_base_url="http://127.0.0.1",
        allow_nosec=True,
    )
