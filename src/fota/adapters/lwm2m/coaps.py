"""The management server's coaps (DTLS-PSK) listener: started beside plain CoAP when it can be, with the reason
logged when it cannot (docs/adr/0010-dtls-psk.md)."""

from __future__ import annotations

import logging

from aiocoap import Context

from fota.adapters.lwm2m.credentials import PskCredentials
from fota.adapters.lwm2m.dtls import add_dtls_server, dtls_available
from fota.services.ports import KeyCipher, UnitOfWorkFactory

log = logging.getLogger(__name__)


async def start_coaps(
    context: Context, *, host: str, port: int, cipher: KeyCipher | None, reader: UnitOfWorkFactory
) -> PskCredentials | None:
    """Adds the coaps listener to the server's context; its PSK lookup, or None when coaps is off."""
    if not port:
        log.info("coaps (DTLS) is off: --coaps-port 0")
        return None
    if not dtls_available():
        log.warning("coaps (DTLS) is off: DTLSSocket is not installed (pip install 'fota[dtls]')")
        return None
    if cipher is None:
        log.warning("coaps (DTLS) is off: FOTA_SECRET_KEY is not set (16+ characters), so no stored PSK is readable")
        return None
    credentials = PskCredentials(reader, cipher)
    await add_dtls_server(context, host=host, port=port, credentials=credentials)
    log.info("coaps (DTLS-PSK) listening on %s:%d", host, port)
    return credentials
