"""A fota server as the tests drive it, however it runs: its admin client, accounts, firmware and the clock.

`RunningServer` (tests/conftest.py) is a `fota serve` subprocess on real sockets; `InProcessServer`
(tests/in_process.py) is the ASGI app in this process. Tests reach either only through `http`, `client()` and `admin`.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import httpx

# Generous: a server under a 500-device load answers slowly, and a slow answer is not what these tests check.
TIMEOUT = 60.0


@dataclass
class Account:
    """An account provisioned through the admin API, with one API client and one user."""

    name: str
    client_id: str
    client_secret: str
    username: str
    password: str
    server: FotaServer

    def token(self) -> str:
        r = self.server.http.post(
            "/api/ts/v1/oauth2/token",
            auth=(self.client_id, self.client_secret),
            data={"grant_type": "client_credentials"},
        )
        r.raise_for_status()
        return str(r.json()["access_token"])

    def session(self, bearer: str) -> str:
        r = self.server.http.post(
            "/api/m2m/v1/session/login",
            headers={"Authorization": f"Bearer {bearer}"},
            json={"username": self.username, "password": self.password},
        )
        r.raise_for_status()
        return str(r.json()["sessionToken"])

    def headers(self) -> dict[str, str]:
        """Fresh, valid ThingSpace headers for this account."""
        bearer = self.token()
        return {"Authorization": f"Bearer {bearer}", "VZ-M2M-Token": self.session(bearer)}

    def client(self) -> httpx.Client:
        """An httpx client on the FOTA v3 base URL with this account's headers."""
        return self.server.client("/api/fota/v3", headers=self.headers())

    def add_devices(self, devices: list[dict[str, str]]) -> httpx.Response:
        r = self.server.admin.post(f"/accounts/{self.name}/devices", json={"deviceList": devices})
        assert r.status_code == 201, r.text
        return r


@dataclass
class FotaServer:
    base_url: str
    admin_token: str
    backend: str
    database_url: str
    http: httpx.Client = field(init=False)  # on base_url, no headers: for one-off requests
    admin: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = self.client()
        self.admin = self.client("/admin/v1", headers={"Authorization": f"Bearer {self.admin_token}"})

    def transport(self) -> httpx.BaseTransport | None:
        """How requests reach the server; None: over the network to base_url."""
        return None

    def client(self, path: str = "", headers: dict[str, str] | None = None, timeout: float = TIMEOUT) -> httpx.Client:
        """A new httpx client on base_url + path; close it (or use it in a `with`)."""
        return httpx.Client(base_url=self.base_url + path, headers=headers, timeout=timeout, transport=self.transport())

    def now(self) -> datetime:
        r = self.admin.get("/clock")
        r.raise_for_status()
        return datetime.fromisoformat(r.json()["now"])

    def set_clock(self, instant: datetime) -> datetime:
        r = self.admin.post("/clock", json={"now": instant.isoformat()})
        assert r.status_code == 200, r.text
        return datetime.fromisoformat(r.json()["now"])

    def advance(self, seconds: float) -> datetime:
        r = self.admin.post("/clock", json={"advanceSeconds": seconds})
        assert r.status_code == 200, r.text
        return datetime.fromisoformat(r.json()["now"])

    def new_account(self, license_count: int = 100, purchase_type: str = "TS-HFOTA-EVNT") -> Account:
        name = f"{secrets.randbelow(10**10):010d}-{secrets.randbelow(10**5):05d}"
        r = self.admin.post(
            "/accounts",
            json={"accountName": name, "licenseCount": license_count, "purchaseType": purchase_type},
        )
        assert r.status_code == 201, r.text
        r = self.admin.post(f"/accounts/{name}/clients", json={})
        assert r.status_code == 201, r.text
        creds = r.json()
        username, password = f"user-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(12)
        r = self.admin.post(f"/accounts/{name}/users", json={"username": username, "password": password})
        assert r.status_code == 201, r.text
        return Account(name, creds["clientId"], creds["clientSecret"], username, password, self)

    def new_firmware(
        self,
        make: str = "SEQUANS Communications",
        model: str = "GM01Q",
        firmware_from: str = "SR1.2.0.0-10512",
        firmware_to: str = "SR1.2.0.0-10657",
        protocol: str = "LWM2M",
    ) -> dict[str, str]:
        name = f"{make.replace(' ', '')}_{model}_{firmware_from}_{firmware_to}_{uuid.uuid4().hex[:6]}"
        body = {
            "firmwareName": name,
            "make": make,
            "model": model,
            "firmwareFrom": firmware_from,
            "firmwareTo": firmware_to,
            "protocol": protocol,
            "releaseNote": "test release",
        }
        r = self.admin.post("/firmware", json=body)
        assert r.status_code == 201, r.text
        return body

    def close_clients(self) -> None:
        self.http.close()
        self.admin.close()
