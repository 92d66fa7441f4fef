"""Where fota may send a request a tenant chose (a callback URL): the address ranges and schemes it refuses, and the
operator's allow list. Pure rules over `ipaddress`; resolving names is the caller's business.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_CHARS = 2048
# IPv6 prefixes that carry an IPv4 address a gateway will reach on our behalf (NAT64, RFC 6052 and RFC 8215).
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class OutboundRefused(Exception):
    """The URL or one of its addresses is not a place fota sends requests to; the message says why."""


@dataclass(frozen=True)
class AllowList:
    """What the operator opened up (`FOTA_CALLBACK_ALLOW`): address ranges, host names, and whether plain http may
    be used towards them (`FOTA_CALLBACK_ALLOW_HTTP`). A name starting with a dot matches every name under it."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = field(default_factory=frozenset)
    http: bool = False

    @classmethod
    def parse(cls, text: str, *, http: bool = False) -> AllowList:
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for raw in text.split(","):
            entry = raw.strip().strip("[]").lower()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if not entry.strip(".") or any(c in entry for c in "/:@ "):
                    raise ValueError(f"{raw.strip()!r} is neither an address range nor a host name") from None
                hosts.add(entry.rstrip("."))
        return cls(tuple(networks), frozenset(hosts), http)

    def host_allowed(self, host: str) -> bool:
        name = host.lower().rstrip(".")
        return name in self.hosts or any(h.startswith(".") and name.endswith(h) for h in self.hosts)

    def address_allowed(self, address: IPAddress) -> bool:
        return any(address.version == n.version and address in n for n in self.networks)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address leads to through mapping, 6to4, Teredo or NAT64."""
    found = [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
    if address.teredo is not None:
        found.extend(address.teredo)
    if any(address in n for n in _NAT64):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def address_refusal(address: IPAddress) -> str | None:
    """Why the address is not a public unicast one (loopback, private, link-local ...), or None when it is."""
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_private:
        return "a private address"
    if isinstance(address, ipaddress.IPv6Address):
        for inner in _embedded_ipv4(address):
            reason = address_refusal(inner)
            if reason is not None:
                return f"{reason} ({inner}, embedded in an IPv6 address)"
    if not address.is_global:
        return "a reserved address"
    return None


@dataclass(frozen=True)
class Destination:
    """A URL split into what the policy judges: the scheme, the host (without brackets) and the port."""

    url: str
    scheme: str
    host: str
    port: int

    @property
    def literal(self) -> IPAddress | None:
        try:
            return ipaddress.ip_address(self.host.split("%", 1)[0])
        except ValueError:
            return None


def parse_destination(url: str | None, allow: AllowList) -> Destination:
    """The URL's parts, after the checks that need no name resolution (absolute, http(s), https unless allowed)."""
    if not url:
        raise OutboundRefused("url is required")
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError as error:
        raise OutboundRefused(f"url {url[:200]!r} is not a valid URL: {error}") from None
    if len(url) > MAX_URL_CHARS or parts.scheme not in ("http", "https") or not host:
        raise OutboundRefused(f"url {url[:200]!r} is not an absolute http(s) URL of at most {MAX_URL_CHARS} characters")
    destination = Destination(url, parts.scheme, host, port or (443 if parts.scheme == "https" else 80))
    if parts.scheme == "http" and not (allow.http and _allowed_by_entry(destination, allow)):
        raise OutboundRefused(
            f"url {url[:200]!r} uses plain http; callbacks are sent over https only, unless the operator allows "
            "plain http towards an allowed range or host (FOTA_CALLBACK_ALLOW with FOTA_CALLBACK_ALLOW_HTTP)"
        )
    return destination


def _allowed_by_entry(destination: Destination, allow: AllowList) -> bool:
    literal = destination.literal
    return allow.address_allowed(literal) if literal is not None else allow.host_allowed(destination.host)


def check_addresses(destination: Destination, addresses: list[IPAddress], allow: AllowList) -> None:
    """Refuses unless every address the host resolved to may be contacted: one bad answer refuses them all, so a
    name that mixes a public and an internal address cannot be used to reach the internal one."""
    if not addresses:
        raise OutboundRefused(f"host {destination.host!r} has no address")
    if allow.host_allowed(destination.host):
        return  # the operator vouches for this name, wherever it points
    for address in addresses:
        reason = address_refusal(address)
        if reason is not None and not allow.address_allowed(address):
            where = destination.host if destination.literal is not None else f"{destination.host} ({address})"
            raise OutboundRefused(
                f"{where} is {reason}: callbacks are not sent to internal addresses unless the operator allows the "
                "range or host (FOTA_CALLBACK_ALLOW)"
            )


@dataclass(frozen=True)
class Target:
    """A checked destination and the addresses it was checked at: the sender connects to these, never resolving
    the name again, so a name that changes its answer between check and connect (DNS rebinding) gains nothing."""

    destination: Destination
    addresses: tuple[str, ...]
