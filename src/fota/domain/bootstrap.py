"""LwM2M bootstrap settings of a device: what the bootstrap server hands out (who may ask: domain.security).

The operator sets, per device, the bootstrap credentials the device left the factory with and the management account
it is given (server URI, security mode, lifetime, binding, Disable Timeout, communication retry resources).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from fota.domain.errors import InvalidRequest
from fota.domain.security import SecurityMode

# Defaults chosen so that a device that meets a restarting server comes back within minutes: the Server object's
# own defaults (Disable Timeout a day, Sequence Delay Timer a day) leave it silent for that long.
DEFAULT_LIFETIME = 3600
DEFAULT_BINDING = "U"
DEFAULT_SHORT_SERVER_ID = 1
DEFAULT_DISABLE_TIMEOUT = 60
DEFAULT_RETRY_COUNT = 3  # /1/x/17: attempts in one sequence
DEFAULT_RETRY_TIMER = 10  # /1/x/18: seconds before the first retry, doubled for each further one
DEFAULT_SEQUENCE_DELAY = 60  # /1/x/19: seconds between two sequences
DEFAULT_SEQUENCE_RETRY_COUNT = 10  # /1/x/20: sequences before the client gives up on the server

BINDINGS = frozenset({"U", "UQ"})
MAX_LIFETIME = 31_536_000  # a year
MAX_SECONDS = 86_400 * 30


@dataclass(frozen=True)
class ManagementAccount:
    """The LwM2M Server account the bootstrap server writes into the device (objects /0 and /1)."""

    server_uri: str | None = None  # None: this deployment's public coap(s) URI for the security mode
    security_mode: SecurityMode = SecurityMode.PSK
    short_server_id: int = DEFAULT_SHORT_SERVER_ID
    lifetime: int = DEFAULT_LIFETIME
    binding: str = DEFAULT_BINDING
    disable_timeout: int = DEFAULT_DISABLE_TIMEOUT
    retry_count: int = DEFAULT_RETRY_COUNT
    retry_timer: int = DEFAULT_RETRY_TIMER
    sequence_delay: int = DEFAULT_SEQUENCE_DELAY
    sequence_retry_count: int = DEFAULT_SEQUENCE_RETRY_COUNT

    def checked(self) -> ManagementAccount:
        """Itself when every value is usable on a device; InvalidRequest naming the first that is not."""
        if self.server_uri is not None:
            parts = urlsplit(self.server_uri)
            wanted = "coaps" if self.security_mode is SecurityMode.PSK else "coap"
            if parts.scheme != wanted or not parts.hostname or parts.path not in ("", "/"):
                raise InvalidRequest(f"serverUri must be {wanted}://host[:port] for securityMode {self.security_mode}")
        if not 1 <= self.short_server_id <= 65534:
            raise InvalidRequest("shortServerId must be 1-65534")
        if not 60 <= self.lifetime <= MAX_LIFETIME:
            raise InvalidRequest(f"lifetime must be 60-{MAX_LIFETIME} seconds")
        if self.binding not in BINDINGS:
            raise InvalidRequest(f"binding must be one of {', '.join(sorted(BINDINGS))}")
        for name, value, low in (
            ("disableTimeout", self.disable_timeout, 0),
            ("communicationRetryCount", self.retry_count, 1),
            ("communicationRetryTimer", self.retry_timer, 1),
            ("communicationSequenceDelayTimer", self.sequence_delay, 0),
            ("communicationSequenceRetryCount", self.sequence_retry_count, 1),
        ):
            if not low <= value <= MAX_SECONDS:
                raise InvalidRequest(f"{name} must be {low}-{MAX_SECONDS}")
        return self


@dataclass(frozen=True)
class BootstrapSettings:
    """A device's bootstrap record: its bootstrap credentials (the key stays encrypted in storage) and account."""

    device_id: str
    bootstrap_mode: SecurityMode
    bootstrap_identity: str | None
    account: ManagementAccount
    bootstraps: int = 0
    last_bootstrap_at: datetime | None = None


def management_identity(device_id: str) -> str:
    """The PSK identity a bootstrapped device gets for the management server: stable across key rotations."""
    return f"imei:{device_id}"
