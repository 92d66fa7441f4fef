"""The outbound URL policy as a use-case object: resolve a tenant's URL through the injected resolver and check it
(domain/outbound.py), at registration and again before every delivery."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from fota.domain.errors import InvalidRequest
from fota.domain.outbound import (
    AllowList,
    IPAddress,
    OutboundRefused,
    Target,
    check_addresses,
    parse_destination,
)

# (host, port) -> the host's addresses as text; raises OSError when the name does not resolve.
Resolver = Callable[[str, int], list[str]]


@dataclass(frozen=True)
class OutboundPolicy:
    allow: AllowList
    resolver: Resolver

    def target(self, url: str | None) -> Target:
        """The URL's checked target; OutboundRefused says why it is not one."""
        destination = parse_destination(url, self.allow)
        literal = destination.literal
        if literal is not None:
            addresses: list[IPAddress] = [literal]
        else:
            try:
                found = self.resolver(destination.host, destination.port)
            except OSError as error:
                raise OutboundRefused(f"host {destination.host!r} does not resolve: {error}") from None
            # Scope ids (fe80::1%eth0) are dropped: the address alone decides, and link-local is refused anyway.
            addresses = list(dict.fromkeys(ipaddress.ip_address(a.split("%", 1)[0]) for a in found))
        check_addresses(destination, addresses, self.allow)
        return Target(destination, tuple(str(a) for a in addresses))

    def check_registration(self, url: str | None) -> str:
        """The URL, when it may be registered; InvalidRequest (400) with the policy's reason otherwise.

        A host the operator allows by name is not resolved here: it may not resolve yet (a receiver still being set
        up), and every delivery resolves it anyway.
        """
        try:
            destination = parse_destination(url, self.allow)
            if destination.literal is None and self.allow.host_allowed(destination.host):
                return destination.url
            return self.target(url).destination.url
        except OutboundRefused as refused:
            raise InvalidRequest(str(refused)) from None
