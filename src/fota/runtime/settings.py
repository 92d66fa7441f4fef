"""The settings of a `fota` process: its roles, its database, its ports and public URLs, and its policies; from
the environment, with the `fota serve` flags on top."""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_DATABASE_URL = "sqlite:///fota.db"


class Role(StrEnum):
    """What a `fota serve` process does (docs/adr/0009-multi-process-coordination.md)."""

    API = "api"  # the HTTP API, console, docs and HTTP firmware downloads
    ENGINE = "engine"  # the campaign engine's tick and the callback outbox
    LWM2M = "lwm2m"  # the CoAP server: registrations, device sessions, CoAP downloads


ALL_ROLES = frozenset(Role)


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    admin_token: str = ""
    simulated_clock: bool = False
    engine_interval_seconds: float = 1.0
    coap_host: str = "0.0.0.0"  # noqa: S104 - devices reach the LwM2M server from the network
    coap_port: int | None = 5683  # None: no LwM2M server in this process
    public_coap_url: str = ""  # how devices reach our CoAP endpoint; derived from host and port when empty
    public_http_url: str = ""  # how devices reach our HTTP endpoint
    max_downloads: int = 200
    # Threads for the API's blocking work (database reads and writes): beyond a few per core they only contend for
    # the interpreter lock, and a report page then costs twice its CPU (docs/adr/0030-api-hot-path.md).
    api_threads: int = 8
    callback_interval_seconds: float = 1.0
    callback_max_attempts: int = 12
    callback_retention_days: float = 7.0  # delivered and given-up callback events, with their delivery log
    roles: frozenset[Role] = ALL_ROLES
    # Keep a simulated clock in the database so that several processes share it (adapters/storage/db_clock.py).
    shared_clock: bool = False
    # Device-side security (docs/adr/0010-dtls-psk.md). coaps_port None: the CoAP port + 1 (5684 beside 5683); 0: off.
    coaps_port: int | None = None
    public_coaps_url: str = ""  # how DTLS devices reach our coaps endpoint; derived from the CoAP URL when empty
    allow_nosec: bool = False  # accept plain-CoAP (NoSec) devices; off unless the operator enables it
    secret_key: str = ""  # encrypts stored PSKs; without it the admin API refuses to store one
    # LwM2M bootstrap server (docs/adr/0013-lwm2m-bootstrap.md): its CoAP port, 0 for none (`fota serve` defaults to
    # 5693); its coaps port, None for the bootstrap port + 1, 0 for none.
    bootstrap_port: int = 0
    bootstrap_coaps_port: int | None = None
    # Outbound URL policy (docs/callbacks.md): ranges and hosts callbacks may reach although internal, and whether
    # plain http is accepted towards those (never towards anything else).
    callback_allow: str = ""
    callback_allow_http: bool = False
    # Every firmware image must carry a verified publisher signature (ADR 16); accounts can require it one by one.
    require_signed_firmware: bool = False

    @property
    def serves_coap(self) -> bool:
        """Whether the process runs the LwM2M server (and with it any bootstrap server) on aiocoap."""
        return self.coap_port is not None and Role.LWM2M in self.roles

    @classmethod
    def from_environment(cls, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": os.environ.get("FOTA_DATABASE_URL", DEFAULT_DATABASE_URL),
            "admin_token": os.environ.get("FOTA_ADMIN_TOKEN", ""),
            "public_coap_url": os.environ.get("FOTA_PUBLIC_COAP_URL", ""),
            "public_http_url": os.environ.get("FOTA_PUBLIC_HTTP_URL", ""),
            "public_coaps_url": os.environ.get("FOTA_PUBLIC_COAPS_URL", ""),
            "allow_nosec": _flag("FOTA_ALLOW_NOSEC"),
            "secret_key": os.environ.get("FOTA_SECRET_KEY", ""),
            "callback_allow": os.environ.get("FOTA_CALLBACK_ALLOW", ""),
            "callback_allow_http": _flag("FOTA_CALLBACK_ALLOW_HTTP"),
            "require_signed_firmware": _flag("FOTA_REQUIRE_SIGNED_FIRMWARE"),
        }
        if os.environ.get("FOTA_CALLBACK_MAX_ATTEMPTS"):
            values["callback_max_attempts"] = int(os.environ["FOTA_CALLBACK_MAX_ATTEMPTS"])
        # Poll intervals of the engine and callback loops; on PostgreSQL notifications wake them sooner.
        if os.environ.get("FOTA_CALLBACK_RETENTION_DAYS"):
            values["callback_retention_days"] = float(os.environ["FOTA_CALLBACK_RETENTION_DAYS"])
        if os.environ.get("FOTA_API_THREADS"):
            values["api_threads"] = int(os.environ["FOTA_API_THREADS"])
        if os.environ.get("FOTA_ENGINE_INTERVAL"):
            values["engine_interval_seconds"] = float(os.environ["FOTA_ENGINE_INTERVAL"])
        if os.environ.get("FOTA_CALLBACK_INTERVAL"):
            values["callback_interval_seconds"] = float(os.environ["FOTA_CALLBACK_INTERVAL"])
        values.update({k: v for k, v in overrides.items() if v is not None or k == "coap_port"})
        return cls(**values)  # type: ignore[arg-type]


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
