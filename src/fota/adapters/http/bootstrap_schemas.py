"""Bodies of a device's LwM2M bootstrap settings on the admin API (docs/adr/0013-lwm2m-bootstrap.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictInt, StrictStr

from fota.adapters.http.schemas import RequestBody, ResponseBody
from fota.domain import bootstrap as defaults


class DeviceBootstrapUpdate(RequestBody):
    """The device's factory bootstrap credentials and the management account its bootstraps hand out.

    The management key is generated at each bootstrap, written to the device and never shown.
    """

    bootstrap_mode: Literal["psk", "nosec"]
    bootstrap_psk_identity: StrictStr | None = Field(default=None, min_length=1, max_length=128)
    bootstrap_psk_key: StrictStr | None = Field(default=None, min_length=2, max_length=128)
    server_uri: StrictStr | None = Field(default=None, min_length=1, max_length=255)
    security_mode: Literal["psk", "nosec"] = "psk"
    short_server_id: StrictInt = Field(default=defaults.DEFAULT_SHORT_SERVER_ID, ge=1, le=65534)
    lifetime: StrictInt = Field(default=defaults.DEFAULT_LIFETIME, ge=60, le=defaults.MAX_LIFETIME)
    binding: Literal["U", "UQ"] = "U"
    disable_timeout: StrictInt = Field(default=defaults.DEFAULT_DISABLE_TIMEOUT, ge=0, le=defaults.MAX_SECONDS)
    communication_retry_count: StrictInt = Field(default=defaults.DEFAULT_RETRY_COUNT, ge=1, le=defaults.MAX_SECONDS)
    communication_retry_timer: StrictInt = Field(default=defaults.DEFAULT_RETRY_TIMER, ge=1, le=defaults.MAX_SECONDS)
    communication_sequence_delay_timer: StrictInt = Field(
        default=defaults.DEFAULT_SEQUENCE_DELAY, ge=0, le=defaults.MAX_SECONDS
    )
    communication_sequence_retry_count: StrictInt = Field(
        default=defaults.DEFAULT_SEQUENCE_RETRY_COUNT, ge=1, le=defaults.MAX_SECONDS
    )


class DeviceBootstrapRead(ResponseBody):
    """The settings without any key; `serverUri` absent means this deployment's public coap(s) URI."""

    device_id: str
    bootstrap_mode: str
    bootstrap_psk_identity: str | None = None
    server_uri: str | None = None
    security_mode: str
    short_server_id: int
    lifetime: int
    binding: str
    disable_timeout: int
    communication_retry_count: int
    communication_retry_timer: int
    communication_sequence_delay_timer: int
    communication_sequence_retry_count: int
    bootstrap_count: int
    last_bootstrap_time: str | None = None
