"""One bootstrap, server side, after the client's Bootstrap-Request was answered 2.04 (LwM2M 1.0/1.1 §5.2.7):
Delete /0 and /1 (the client keeps its Bootstrap-Server account), Bootstrap-Discover to learn the instance ids left
and the client's version, Write the management account's Security and Server instances, Bootstrap-Finish.

The new management key becomes the device's own once the client has taken the Security instance and before
Bootstrap-Finish, so the client's first handshake with the management server already finds it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiocoap import DELETE, GET, POST, PUT, Context, Message
from aiocoap.numbers.codes import Code
from aiocoap.numbers.contentformat import ContentFormat as AiocoapContentFormat

from fota.adapters.lwm2m.bootstrap_objects import (
    SECURITY,
    SERVER,
    ClientObjects,
    encode_instance,
    parse_discover,
    security_instance,
    server_instance,
    write_formats,
)
from fota.adapters.lwm2m.codec import ContentFormat, Path, Value
from fota.domain.bootstrap import BootstrapSettings
from fota.services.device_bootstrap import ManagementCredentials

log = logging.getLogger(__name__)


class BootstrapFailed(Exception):
    """The client did not answer, or refused a step; the message says which."""


@dataclass(frozen=True)
class BootstrapOrder:
    """Everything one bootstrap writes: the settings, the URI the mode resolves to and the fresh credentials."""

    settings: BootstrapSettings
    server_uri: str
    credentials: ManagementCredentials
    preferred_format: int | None = None  # the `pct` of a 1.1 Bootstrap-Request


class BootstrapClient:
    """Requests to the client over the channel its Bootstrap-Request came on (its DTLS session, if any)."""

    def __init__(self, context: Context, remote: Any, *, timeout: float) -> None:
        self.context = context
        self.remote = remote
        self.timeout = timeout

    async def request(self, code: Code, path: tuple[int | str, ...], **kwargs: Any) -> Message:
        scheme = "coaps" if self.remote.scheme == "coaps" else "coap"
        uri = f"{scheme}://{self.remote.hostinfo}/" + "/".join(str(p) for p in path)
        message = Message(code=code, uri=uri, **kwargs)
        message.remote = self.remote
        what = f"{code} /{'/'.join(map(str, path))}"
        try:
            response: Message = await asyncio.wait_for(self.context.request(message).response, self.timeout)
        except (TimeoutError, OSError) as error:
            raise BootstrapFailed(f"{what}: no answer ({error.__class__.__name__})") from None
        except Exception as error:  # aiocoap's own network and protocol errors
            raise BootstrapFailed(f"{what}: {error.__class__.__name__} {error}") from None
        return response


def _expect(response: Message, what: str, *codes: Code) -> None:
    if response.code not in codes:
        raise BootstrapFailed(f"{what} answered {response.code}")


async def _write(client: BootstrapClient, base: Path, values: dict[Path, Value], preferred: int | None) -> None:
    """Bootstrap-Write of one instance in the first format the client accepts."""
    answer: Message | None = None
    for content_format in write_formats(preferred):
        payload = encode_instance(values, base, content_format)
        answer = await client.request(
            PUT, base, payload=payload, content_format=AiocoapContentFormat(int(content_format))
        )
        if answer.code != Code.UNSUPPORTED_CONTENT_FORMAT:
            break
    assert answer is not None
    _expect(answer, f"write /{base[0]}/{base[1]}", Code.CHANGED)


async def run_bootstrap(
    client: BootstrapClient, order: BootstrapOrder, *, keep_credentials: Callable[[], Awaitable[None]]
) -> str:
    """Drives the client through the sequence; returns the client's LwM2M version as far as it told."""
    for object_id in (SECURITY, SERVER):
        # 2.02 Deleted; some clients answer 4.04 when the object had no instance to delete, which is no failure.
        response = await client.request(DELETE, (object_id,))
        _expect(response, f"delete /{object_id}", Code.DELETED, Code.NOT_FOUND)
    objects = await _discover(client)
    if not objects.instances.get(SECURITY):
        objects.instances[SECURITY] = {0}  # never write over an account the answer did not show
    version = objects.lwm2m_version or "1.0"
    if objects.lwm2m_version is None and order.preferred_format is not None:
        version = "1.1"  # only a 1.1 client names a preferred content format in its Bootstrap-Request
    account = order.settings.account
    credentials = order.credentials
    security = objects.free_instance(SECURITY)
    await _write(
        client,
        (SECURITY, security),
        security_instance(
            security,
            server_uri=order.server_uri,
            mode=account.security_mode,
            identity=(credentials.identity or "").encode("utf-8"),
            key=credentials.key or b"",
            short_server_id=account.short_server_id,
        ),
        order.preferred_format,
    )
    await keep_credentials()
    server = objects.free_instance(SERVER)
    await _write(
        client, (SERVER, server), server_instance(server, account, lwm2m_version=version), order.preferred_format
    )
    _expect(await client.request(POST, ("bs",)), "bootstrap-finish", Code.CHANGED)
    return version


async def _discover(client: BootstrapClient) -> ClientObjects:
    """Bootstrap-Discover on /; a client without it (some 1.0 clients) is assumed to hold its account at /0/0."""
    response = await client.request(GET, (), accept=AiocoapContentFormat(int(ContentFormat.LINK_FORMAT)))
    if not response.code.is_successful():
        log.info("Bootstrap-Discover answered %s; assuming the bootstrap account is /0/0", response.code)
        return ClientObjects(None, {SECURITY: {0}})
    return parse_discover(response.payload.decode("utf-8", "replace"))
