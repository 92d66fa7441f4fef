"""The outbound URL policy: which addresses and schemes are refused, what the allow list opens, and that the sender
connects to the checked address (DNS rebinding) while keeping the name in Host. A fake resolver stands in for DNS:
no address off this machine is ever contacted; only 127.0.0.1 is, by the pinning test.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fota.adapters.callbacks.http_sender import HttpCallbackSender
from fota.adapters.callbacks.resolver import system_resolver
from fota.domain.errors import InvalidRequest
from fota.domain.outbound import AllowList, OutboundRefused, address_refusal
from fota.services.outbound import OutboundPolicy

INTERNAL = [
    "127.0.0.1",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "255.255.255.255",
    "192.0.2.1",
    "::1",
    "::",
    "fc00::1",
    "fe80::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
]
PUBLIC = ["8.8.8.8", "93.184.216.34", "2001:4860:4860::8888", "2606:4700::1111"]


class Dns:
    """A resolver seam: the names tests use and what they resolve to, changeable between calls (rebinding)."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise OSError("Name or service not known")
        return self.answers[host]


def policy(dns: Dns | None = None, allow: str = "", http: bool = False) -> OutboundPolicy:
    return OutboundPolicy(allow=AllowList.parse(allow, http=http), resolver=dns or Dns({}))


@pytest.mark.parametrize("address", INTERNAL)
def test_internal_addresses_are_refused_as_literals_and_behind_names(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is not None
    literal = f"[{address}]" if ":" in address else address
    with pytest.raises(OutboundRefused, match="FOTA_CALLBACK_ALLOW"):
        policy().target(f"https://{literal}/hook")
    dns = Dns({"hooks.tenant.example": ["93.184.216.34", address]})  # one bad answer among good ones
    with pytest.raises(OutboundRefused, match=r"hooks\.tenant\.example"):
        policy(dns).target("https://hooks.tenant.example/hook")


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass_over_https_only(address: str) -> None:
    literal = f"[{address}]" if ":" in address else address
    assert policy().target(f"https://{literal}:8443/hook").addresses == (address,)
    with pytest.raises(OutboundRefused, match="plain http"):
        policy().target(f"http://{literal}/hook")


@given(st.ip_addresses())
def test_every_address_is_either_public_unicast_or_refused(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    reason = address_refusal(address)
    if reason is None:
        assert address.is_global and not address.is_multicast and not address.is_loopback
    else:
        assert not policy(allow="").allow.address_allowed(address)
        opened = policy(allow=str(ipaddress.ip_network(address)))
        literal = f"[{address}]" if address.version == 6 else str(address)
        assert opened.target(f"https://{literal}/").addresses == (str(address),), "an allowed range works"


def test_the_allow_list_opens_ranges_and_names_and_http_only_towards_them() -> None:
    dns = Dns({"receiver.internal": ["10.1.2.3"], "other.internal": ["10.1.2.3"], "a.corp.internal": ["10.9.9.9"]})
    allowed = policy(dns, "127.0.0.0/8, ::1, receiver.internal, .corp.internal", http=True)
    assert allowed.target("http://127.0.0.5:9000/").addresses == ("127.0.0.5",)
    assert allowed.target("https://[::1]/").addresses == ("::1",)
    assert allowed.target("http://receiver.internal/").addresses == ("10.1.2.3",)
    assert allowed.target("https://a.corp.internal/").addresses == ("10.9.9.9",)
    with pytest.raises(OutboundRefused, match="private"):
        allowed.target("https://other.internal/")
    with pytest.raises(OutboundRefused, match="plain http"):
        allowed.target("http://[2001:4860:4860::8888]/")  # public, but not an allowed entry: https only
    with pytest.raises(OutboundRefused, match="plain http"):
        policy(dns, "127.0.0.0/8").target("http://127.0.0.1/")  # allowed range, but http not enabled
    with pytest.raises(ValueError, match="neither"):
        AllowList.parse("10.0.0.0/8, http://bad/")


def test_registration_answers_400_and_resolution_failures_are_refusals() -> None:
    with pytest.raises(InvalidRequest, match="does not resolve"):
        policy().check_registration("https://nowhere.invalid/")
    for bad in ["", "ftp://example.org/", "https:///x", "https://[::1/", "//example.org/x"]:
        with pytest.raises(InvalidRequest):
            policy().check_registration(bad)
    dns = Dns({})
    assert policy(dns, "hooks.example.com").check_registration("https://hooks.example.com/x")
    assert dns.asked == [], "a name the operator allows is not resolved at registration"


def test_a_name_the_system_resolver_cannot_encode_is_a_refusal_not_a_crash() -> None:
    """IDNA refuses a label over 63 characters or a control character before any lookup: 400, never a 500."""
    system = OutboundPolicy(AllowList.parse(""), system_resolver)
    for host in ("a" * 64 + ".example.org", "a\x83b.example.org"):
        with pytest.raises(InvalidRequest, match="not a valid host name"):
            system.check_registration(f"https://{host}/")


def test_a_name_that_rebinds_after_registration_is_refused_at_delivery() -> None:
    dns = Dns({"rebind.tenant.example": ["93.184.216.34"]})
    checked = policy(dns)
    assert checked.check_registration("https://rebind.tenant.example/hook")
    dns.answers["rebind.tenant.example"] = ["169.254.169.254"]
    with pytest.raises(OutboundRefused, match="link-local"):
        checked.target("https://rebind.tenant.example/hook")


class _Recorder(BaseHTTPRequestHandler):
    hosts: list[str] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        _Recorder.hosts.append(self.headers.get("Host", ""))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_the_sender_connects_to_the_checked_address_and_keeps_the_name(recorder: int) -> None:
    dns = Dns({"receiver.internal": ["127.0.0.1"]})
    target = policy(dns, "127.0.0.0/8, receiver.internal", http=True).target(f"http://receiver.internal:{recorder}/h")
    # Whatever the name resolves to now, the sender uses the checked address: it never asks the resolver again.
    dns.answers["receiver.internal"] = ["10.0.0.1"]
    sender = HttpCallbackSender(total_timeout=5.0)
    try:
        assert sender.send(target, b"{}", {"Content-Type": "application/json"}) == (204, None)
    finally:
        sender.close()
    assert _Recorder.hosts == [f"receiver.internal:{recorder}"]
    assert dns.asked == ["receiver.internal"]
