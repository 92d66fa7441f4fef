"""The client side of LwM2M bootstrap: the device's Security (/0) and Server (/1) instances, kept across reboots as
a device keeps them in flash, and the Bootstrap interface a bootstrap server drives (LwM2M 1.0/1.1 §5.2.7).

Served on the device's bootstrap socket: Bootstrap-Delete of /, an object or an instance (never the Bootstrap-Server
account), Bootstrap-Write of instances (TLV or SenML), Bootstrap-Discover (link format) and Bootstrap-Finish, which
checks that the account written is usable before answering 2.04 (4.06 Not Acceptable otherwise).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import aiocoap
from aiocoap import resource

from fota.simulator.content import CodecError, ContentFormat, UnsupportedFormat, Value, decode_write
from fota.simulator.transport import DeviceTransport, PskCredentials

SECURITY, SERVER = 0, 1
MODE_PSK, MODE_NOSEC = 0, 3


@dataclass(frozen=True)
class ServerAccount:
    """The management server the device registers with, as its Security and Server instances describe it."""

    uri: str
    identity: bytes | None  # with `key`: DTLS-PSK; both None: NoSec
    key: bytes | None
    short_server_id: int
    lifetime: int
    binding: str


@dataclass
class Accounts:
    """Object instances by id: resource id -> value. The Bootstrap-Server account is the Security instance whose
    resource 1 is true."""

    security: dict[int, dict[int, Value]] = field(default_factory=dict)
    server: dict[int, dict[int, Value]] = field(default_factory=dict)

    def bootstrap_instance(self) -> int | None:
        return next((i for i, r in self.security.items() if r.get(1) is True), None)

    def management(self) -> ServerAccount | None:
        """The first usable management account (a Security instance and the Server instance of its ssid)."""
        for resources in self.security.values():
            if resources.get(1) is True:
                continue
            ssid = resources.get(10)
            server = next((s for s in self.server.values() if s.get(0) == ssid), None)
            uri, mode = resources.get(0), resources.get(2)
            if server is None or not isinstance(uri, str) or not isinstance(ssid, int):
                continue
            identity, key = resources.get(3), resources.get(5)
            if mode == MODE_PSK and uri.startswith("coaps://") and isinstance(identity, bytes) and identity:
                if not isinstance(key, bytes) or not key:
                    continue
            elif mode == MODE_NOSEC and uri.startswith("coap://"):
                identity = key = None
            else:
                continue
            lifetime, binding = server.get(1), server.get(7)
            return ServerAccount(
                uri.rstrip("/"),
                identity if isinstance(identity, bytes) else None,
                key if isinstance(key, bytes) else None,
                ssid,
                lifetime if isinstance(lifetime, int) else 86400,
                binding if isinstance(binding, str) else "U",
            )
        return None

    def delete(self, path: tuple[int, ...]) -> None:
        """Bootstrap-Delete; the Bootstrap-Server account survives a delete of / or /0 and refuses its own."""
        keep = self.bootstrap_instance()
        if len(path) == 2 and path[0] == SECURITY and path[1] == keep:
            raise ValueError("the Bootstrap-Server account cannot be deleted")
        for object_id, instances in ((SECURITY, self.security), (SERVER, self.server)):
            if path and path[0] != object_id:
                continue
            for instance in list(instances):
                if len(path) == 2 and instance != path[1]:
                    continue
                if object_id == SECURITY and instance == keep:
                    continue
                del instances[instance]

    def write(self, base: tuple[int, int], values: dict[tuple[int, ...], Value]) -> None:
        instances = self.security if base[0] == SECURITY else self.server
        resources = instances.setdefault(base[1], {})
        for path, value in values.items():
            if len(path) == 3:
                resources[path[2]] = value

    def links(self, lwm2m_version: str, object_ids: tuple[int, ...]) -> str:
        """Bootstrap-Discover of /: the version, then the instances (with the ssid of management accounts)."""
        parts = ['lwm2m="1.0"'] if lwm2m_version == "1.0" else ["</>;lwm2m=1.1"]
        for object_id in object_ids:
            instances = {SECURITY: self.security, SERVER: self.server}.get(object_id)
            if not instances:
                parts.append(f"</{object_id}>" if instances is not None else f"</{object_id}/0>")
                continue
            for instance, resources in sorted(instances.items()):
                ssid = resources.get(0 if object_id == SERVER else 10)
                management = object_id == SERVER or resources.get(1) is not True
                parts.append(
                    f"</{object_id}/{instance}>" + (f";ssid={ssid}" if management and isinstance(ssid, int) else "")
                )
        return ",".join(parts)


class BootstrapSite(resource.Resource):  # type: ignore[misc, unused-ignore]
    """The aiocoap site of the bootstrap socket: every request a bootstrap server may send, on `accounts`."""

    def __init__(
        self,
        accounts: Accounts,
        *,
        lwm2m_version: str,
        object_ids: tuple[int, ...],
        record: Callable[[str, str], None],
    ) -> None:
        super().__init__()
        self.accounts = accounts
        self.lwm2m_version = lwm2m_version
        self.object_ids = object_ids
        self.record = record
        self.finished = asyncio.Event()

    async def render(self, request: aiocoap.Message) -> aiocoap.Message:
        text = tuple(request.opt.uri_path)
        if text == ("bs",) and request.code == aiocoap.POST:
            return self._finish()
        if not all(part.isdigit() for part in text) or len(text) > 2:
            return aiocoap.Message(code=aiocoap.BAD_REQUEST, payload=b"bootstrap takes /, objects and instances")
        path = tuple(int(part) for part in text)
        if request.code == aiocoap.GET and request.opt.accept == ContentFormat.LINK_FORMAT and len(path) <= 1:
            self.record("bootstrap-discover", "/" + "/".join(text))
            links = self.accounts.links(self.lwm2m_version, path or self.object_ids)
            return aiocoap.Message(code=aiocoap.CONTENT, payload=links.encode(), content_format=40)
        if request.code == aiocoap.DELETE:
            try:
                self.accounts.delete(path)
            except ValueError as error:
                return aiocoap.Message(code=aiocoap.BAD_REQUEST, payload=str(error).encode())
            self.record("bootstrap-delete", "/" + "/".join(text))
            return aiocoap.Message(code=aiocoap.DELETED)
        if request.code == aiocoap.PUT and len(path) == 2 and path[0] in (SECURITY, SERVER):
            return self._write((path[0], path[1]), request)
        return aiocoap.Message(code=aiocoap.METHOD_NOT_ALLOWED, payload=b"not a bootstrap operation")

    def _write(self, base: tuple[int, int], request: aiocoap.Message) -> aiocoap.Message:
        try:
            values = decode_write(bytes(request.payload), request.opt.content_format, base, self.lwm2m_version)
        except UnsupportedFormat as error:
            return aiocoap.Message(code=aiocoap.UNSUPPORTED_CONTENT_FORMAT, payload=str(error).encode())
        except CodecError as error:
            return aiocoap.Message(code=aiocoap.BAD_REQUEST, payload=str(error).encode())
        if any(p[:2] != base for p in values):
            return aiocoap.Message(code=aiocoap.BAD_REQUEST, payload=b"payload outside the instance written")
        self.accounts.write(base, values)
        fmt = request.opt.content_format
        self.record(
            "bootstrap-write",
            f"/{base[0]}/{base[1]} ct={int(fmt) if fmt is not None else '-'} resources {sorted(p[2] for p in values)}",
        )
        return aiocoap.Message(code=aiocoap.CHANGED)

    def _finish(self) -> aiocoap.Message:
        if self.accounts.management() is None:
            self.record("bootstrap-finish", "refused: no usable management account")
            return aiocoap.Message(code=aiocoap.NOT_ACCEPTABLE, payload=b"no usable LwM2M server account")
        self.record("bootstrap-finish", "")
        self.finished.set()
        return aiocoap.Message(code=aiocoap.CHANGED)


@dataclass(frozen=True)
class BootstrapTarget:
    """The factory's bootstrap account: where and with what the device asks to be bootstrapped."""

    uri: str  # coap://host:port, or coaps://host:port with the PSK
    identity: bytes | None = None
    key: bytes | None = None


def factory_accounts(
    target: BootstrapTarget | None,
    *,
    server: str,
    identity: bytes | None,
    key: bytes | None,
    lifetime: int,
    binding: str,
) -> Accounts:
    """/0/0 the bootstrap account when there is one; /0/1 and /1/0 a management account when `server` is given."""
    accounts = Accounts()
    if target is not None:
        accounts.security[0] = {
            0: target.uri,
            1: True,
            2: MODE_PSK if target.key is not None else MODE_NOSEC,
            3: target.identity or b"",
            5: target.key or b"",
        }
    if server:
        accounts.security[1] = {
            0: server,
            1: False,
            2: MODE_PSK if key is not None else MODE_NOSEC,
            3: identity or b"",
            5: key or b"",
            10: 1,
        }
        accounts.server[0] = {0: 1, 1: lifetime, 6: False, 7: binding}
    return accounts


# After Bootstrap-Finish the client answers it, then leaves the bootstrap socket.
_FINISH_GRACE = 0.1


async def bootstrap(
    target: BootstrapTarget,
    accounts: Accounts,
    *,
    endpoint: str,
    lwm2m_version: str,
    object_ids: tuple[int, ...],
    bind_host: str,
    timeout: float,
    record: Callable[[str, str], None],
) -> bool:
    """Client-initiated bootstrap on a socket of its own: Bootstrap-Request, then whatever the server sends until
    Bootstrap-Finish. True once the server finished with a usable management account in `accounts`."""
    site = BootstrapSite(accounts, lwm2m_version=lwm2m_version, object_ids=object_ids, record=record)
    psk = None
    if target.identity is not None and target.key is not None:
        psk = PskCredentials(target.uri, target.identity, target.key)
    transport = DeviceTransport(site, bind_host=bind_host, psk=psk)
    await transport.open()
    try:
        query = [f"ep={endpoint}"]
        if lwm2m_version != "1.0":
            query.append(f"pct={int(ContentFormat.SENML_CBOR)}")  # 1.1: the format it prefers for the writes
        message = aiocoap.Message(code=aiocoap.POST, uri=target.uri.rstrip("/") + "/bs")
        message.opt.uri_query = tuple(query)
        try:
            response = await asyncio.wait_for(transport.context.request(message).response, timeout)
        except (TimeoutError, aiocoap.error.Error, OSError) as error:
            record("bootstrap-failed", f"Bootstrap-Request: {error!r}")
            return False
        transport.hold_session(response.remote)
        if response.code != aiocoap.CHANGED:
            record("bootstrap-failed", f"Bootstrap-Request answered {response.code}")
            return False
        record("bootstrap-request", f"{'&'.join(query)} -> {target.uri}")
        try:
            await asyncio.wait_for(site.finished.wait(), timeout)
        except TimeoutError:
            record("bootstrap-failed", f"no Bootstrap-Finish within {timeout} s")
            return False
        await asyncio.sleep(_FINISH_GRACE)
        return True
    finally:
        await transport.close()
