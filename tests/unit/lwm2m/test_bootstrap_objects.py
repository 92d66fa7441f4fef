"""Bootstrap without sockets: the Security and Server instances byte for byte (TLV) and as SenML, Discover answers,
the admission rule, and the whole server sequence against the simulator's Bootstrap interface in process."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiocoap
import pytest

from fota.adapters.lwm2m.bootstrap_objects import (
    ClientObjects,
    encode_instance,
    parse_discover,
    security_instance,
    server_instance,
    write_formats,
)
from fota.adapters.lwm2m.bootstrap_session import BootstrapFailed, BootstrapOrder, run_bootstrap
from fota.adapters.lwm2m.codec import ContentFormat, decode_content
from fota.domain.bootstrap import BootstrapSettings, ManagementAccount
from fota.domain.errors import InvalidRequest
from fota.domain.security import LwM2MServer, SecurityMode
from fota.services.device_bootstrap import ManagementCredentials, new_management_credentials
from fota.services.device_security import admission_refusal_in
from fota.simulator.bootstrap import Accounts, BootstrapSite

KEY = bytes(range(16))
SECURITY = security_instance(
    1, server_uri="coaps://h:5684", mode=SecurityMode.PSK, identity=b"id", key=KEY, short_server_id=7
)


def test_security_instance_in_tlv_byte_for_byte() -> None:
    payload = encode_instance(SECURITY, (0, 1), ContentFormat.TLV)
    assert payload == bytes.fromhex(
        "c8 00 0e" + b"coaps://h:5684".hex()  # 0 URI, 14 bytes
        + "c1 01 00"  # 1 Bootstrap-Server false
        + "c1 02 00"  # 2 Security Mode 0 (PSK)
        + "c2 03" + b"id".hex()  # 3 identity
        + "c0 04"  # 4 Server Public Key, empty
        + "c8 05 10" + KEY.hex()  # 5 Secret Key, 16 bytes
        + "c1 0a 07"  # 10 Short Server ID
    )  # fmt: skip
    assert decode_content(payload, ContentFormat.TLV, (0, 1)) == SECURITY


@pytest.mark.parametrize("content_format", [ContentFormat.SENML_JSON, ContentFormat.SENML_CBOR])
def test_security_instance_in_senml_decodes_to_the_same_values(content_format: ContentFormat) -> None:
    payload = encode_instance(SECURITY, (0, 1), content_format)
    assert decode_content(payload, content_format, (0, 1)) == SECURITY
    if content_format is ContentFormat.SENML_JSON:
        records = json.loads(payload)
        assert any(r.get("vd", "").rstrip("=") == "AAECAwQFBgcICQoLDA0ODw" for r in records), records  # the key


def test_server_instance_per_version() -> None:
    account = ManagementAccount(lifetime=600, binding="UQ", disable_timeout=30, retry_count=2, sequence_delay=90)
    old = server_instance(0, account, lwm2m_version="1.0")
    assert old == {(1, 0, 0): 1, (1, 0, 1): 600, (1, 0, 5): 30, (1, 0, 6): False, (1, 0, 7): "UQ"}
    new = server_instance(0, account, lwm2m_version="1.1")
    assert new[(1, 0, 7)] == "U"  # 1.1 has no Q in the binding
    assert {p: v for p, v in new.items() if p[2] >= 17} == {
        (1, 0, 17): 2,
        (1, 0, 18): 10,
        (1, 0, 19): 90,
        (1, 0, 20): 10,
    }
    typed = decode_content(encode_instance(new, (1, 0), ContentFormat.TLV), ContentFormat.TLV, (1, 0))
    assert typed == new


def test_discover_answers_and_formats() -> None:
    old = parse_discover('lwm2m="1.0",</0/0>,</1>,</3/0>,</5/0>')
    assert old.lwm2m_version == "1.0" and old.free_instance(0) == 1 and old.free_instance(1) == 0
    new = parse_discover("</>;lwm2m=1.1,</0/0>,</0/2>;ssid=3,</1/0>;ssid=3,</3/0>")
    assert new.lwm2m_version == "1.1" and new.free_instance(0) == 1 and new.free_instance(1) == 1
    assert ClientObjects().free_instance(0) == 0
    assert write_formats(None)[0] is ContentFormat.TLV
    assert write_formats(112)[0] is ContentFormat.SENML_CBOR and len(write_formats(112)) == 3


class _Bootstraps:
    """The one read bootstrap admission makes, of a unit of work holding `settings` (or none)."""

    def __init__(self, settings: BootstrapSettings | None) -> None:
        self.bootstrap = self
        self.settings = settings

    def get(self, device_id: str) -> BootstrapSettings | None:
        return self.settings


@pytest.mark.parametrize(
    ("bootstrap_mode", "account_mode", "dtls_device", "over_dtls", "allow_nosec", "refused"),
    [
        (SecurityMode.PSK, SecurityMode.PSK, "1", True, False, False),
        (SecurityMode.PSK, SecurityMode.PSK, "2", True, True, True),  # another device's bootstrap key
        (SecurityMode.PSK, SecurityMode.PSK, None, False, True, True),  # psk bootstrap over plain CoAP
        (SecurityMode.NOSEC, SecurityMode.NOSEC, None, False, True, False),
        (SecurityMode.NOSEC, SecurityMode.NOSEC, None, False, False, True),  # NoSec needs the operator's consent
        (SecurityMode.NOSEC, SecurityMode.PSK, None, False, True, True),  # never a PSK in the clear
    ],
)
def test_bootstrap_admission(
    bootstrap_mode: SecurityMode,
    account_mode: SecurityMode,
    dtls_device: str | None,
    over_dtls: bool,
    allow_nosec: bool,
    refused: bool,
) -> None:
    settings = BootstrapSettings("1", bootstrap_mode, None, ManagementAccount(security_mode=account_mode))
    reason = admission_refusal_in(
        _Bootstraps(settings),  # type: ignore[arg-type]
        device_id="1",
        dtls_device_id=dtls_device,
        over_dtls=over_dtls,
        allow_nosec=allow_nosec,
        server=LwM2MServer.BOOTSTRAP,
    )
    assert (reason is not None) == refused, reason
    assert admission_refusal_in(
        _Bootstraps(None),  # type: ignore[arg-type]
        device_id="1",
        dtls_device_id=None,
        over_dtls=False,
        allow_nosec=True,
        server=LwM2MServer.BOOTSTRAP,
    )


def test_account_checks() -> None:
    ManagementAccount(server_uri="coaps://fota.example:5684").checked()
    for bad in (
        ManagementAccount(server_uri="coap://fota.example"),
        ManagementAccount(server_uri="coaps://fota.example/path"),
        ManagementAccount(server_uri="coaps://fota.example", security_mode=SecurityMode.NOSEC),
        ManagementAccount(lifetime=10),
        ManagementAccount(binding="S"),
        ManagementAccount(retry_timer=0),
    ):
        with pytest.raises(InvalidRequest):
            bad.checked()


class InProcess:
    """A BootstrapClient that renders each request on the simulator's Bootstrap interface directly."""

    def __init__(self, site: BootstrapSite) -> None:
        self.site = site
        self.sent: list[str] = []

    async def request(self, code: aiocoap.Code, path: tuple[int | str, ...], **kwargs: Any) -> aiocoap.Message:
        message = aiocoap.Message(code=code, **kwargs)
        message.opt.uri_path = tuple(str(p) for p in path)
        self.sent.append(f"{code} /{'/'.join(message.opt.uri_path)}")
        response: aiocoap.Message = await self.site.render(message)
        return response


def _client(version: str, accounts: Accounts) -> InProcess:
    return InProcess(BootstrapSite(accounts, lwm2m_version=version, object_ids=(0, 1, 3, 5), record=lambda *_: None))


def _factory_accounts() -> Accounts:
    accounts = Accounts()
    accounts.security[0] = {0: "coaps://bs:5694", 1: True, 2: 0, 3: b"bs", 5: b"k"}
    accounts.security[1] = {0: "coaps://old:5684", 1: False, 2: 0, 3: b"old", 5: b"old-key", 10: 1}
    accounts.server[0] = {0: 1, 1: 60, 7: "U"}
    return accounts


@pytest.mark.parametrize(("version", "preferred"), [("1.0", None), ("1.1", 112), ("1.1", None)])
def test_sequence_replaces_the_management_account_and_keeps_the_bootstrap_account(
    version: str, preferred: int | None
) -> None:
    accounts = _factory_accounts()
    client = _client(version, accounts)
    credentials = new_management_credentials(device_id="350000000000001", mode=SecurityMode.PSK)
    settings = BootstrapSettings("350000000000001", SecurityMode.PSK, "bs", ManagementAccount(lifetime=900))
    kept: list[bool] = []

    async def keep() -> None:
        kept.append(True)

    order = BootstrapOrder(settings, "coaps://fota:5684", credentials, preferred)
    told = asyncio.run(run_bootstrap(client, order, keep_credentials=keep))  # type: ignore[arg-type]
    assert told == version and kept == [True]
    assert client.sent[:3] == ["DELETE /0", "DELETE /1", "GET /"]
    assert client.sent[-1] == "POST /bs"
    assert accounts.security[0][1] is True  # the bootstrap account survived
    account = accounts.management()
    assert account is not None
    assert (account.uri, account.identity, account.key, account.lifetime) == (
        "coaps://fota:5684",
        b"imei:350000000000001",
        credentials.key,
        900,
    )
    assert (17 in accounts.server[0]) == (version == "1.1")


def test_a_refused_step_fails_the_bootstrap() -> None:
    accounts = _factory_accounts()
    client = _client("1.1", accounts)
    # NoSec credentials with a coaps:// URI: the client's Bootstrap-Finish finds no usable account and says 4.06.
    order = BootstrapOrder(
        BootstrapSettings("1", SecurityMode.PSK, "bs", ManagementAccount()),
        "coaps://fota:5684",
        ManagementCredentials(SecurityMode.PSK),
    )

    async def keep() -> None:
        return None

    with pytest.raises(BootstrapFailed, match=r"bootstrap-finish answered 4\.06"):
        asyncio.run(run_bootstrap(client, order, keep_credentials=keep))  # type: ignore[arg-type]
