"""The system's name resolution for the outbound URL policy (services/outbound.py): every address of a host."""

from __future__ import annotations

import socket


def system_resolver(host: str, port: int) -> list[str]:
    """The host's IPv4 and IPv6 addresses, as the operating system resolves them; OSError when it does not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except UnicodeError as error:
        # Raised before any lookup for a name IDNA cannot encode (a label over 63 characters, a control character).
        raise OSError(f"not a valid host name ({error})") from None
    return [str(info[4][0]) for info in infos]
