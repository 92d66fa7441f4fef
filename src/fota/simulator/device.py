"""One simulated LwM2M client: registration, periodic Update, queue mode, and the reboot that installs firmware.

Each boot binds a fresh UDP socket, as a rebooted cellular device comes back from a new address and port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import aiocoap

from fota.simulator.bootstrap import Accounts, BootstrapTarget, ServerAccount, bootstrap, factory_accounts
from fota.simulator.content import ContentFormat, Path, Value
from fota.simulator.faults import Fault
from fota.simulator.firmware import Delivery, FirmwareUpdate, Protocol, Refused, Result, State
from fota.simulator.resources import ObjectTree
from fota.simulator.transport import DeviceTransport, PskCredentials
from fota.simulator.waiting import wait_until

_log = logging.getLogger(__name__)

# The objects and instances the client announces at registration (object 1 Server, 3 Device, 5 Firmware Update).
REGISTER_PAYLOAD = b'</>;rt="oma.lwm2m",</1/0>,</3/0>,</5/0>'

# Operations of every resource the client implements, per object (R read, W write, E execute).
RESOURCES: Mapping[int, Mapping[int, str]] = {
    1: {0: "R", 1: "R", 6: "R", 7: "R", 8: "E", 9: "E"},
    3: {0: "R", 1: "R", 2: "R", 3: "R", 4: "E", 11: "R", 16: "R"},
    5: {0: "W", 1: "RW", 2: "E", 3: "R", 5: "R", 6: "R", 7: "R", 8: "R", 9: "R"},
}
MULTIPLE = frozenset({(3, 11), (5, 8)})  # (object, resource) pairs that are multiple-instance resources
TIMEZONE = 15  # Device object's Timezone (IANA), implemented only by a device configured with a `time_zone`


def implemented(config: DeviceConfig) -> Mapping[int, Mapping[int, str]]:
    """RESOURCES, with the Device object's Timezone when the device has a zone (it then answers it at every read)."""
    if config.time_zone is None:
        return RESOURCES
    return {**RESOURCES, 3: {**RESOURCES[3], TIMEZONE: "R"}}


def paths(resources: Mapping[int, Mapping[int, str]]) -> tuple[Path, ...]:
    return tuple(
        path for oid, rids in resources.items() for path in ((oid,), (oid, 0), *((oid, 0, rid) for rid in rids))
    )


# After Update is executed the client answers that request, lets the State notification go, then goes down.
_EXECUTE_GRACE = 0.1


@dataclass(frozen=True)
class DeviceConfig:
    """Everything that makes one simulated device; `server` or `bootstrap_server` is required."""

    server: str = ""  # coap://host:port of the LwM2M server, or coaps://host:port with a PSK
    imei: str = "350000000000001"
    endpoint: str | None = None  # default urn:imei:<imei>
    make: str = "SimCo"
    model: str = "SIM-1"
    firmware: str = "1.0.0"
    serial: str | None = None  # default the IMEI
    lwm2m_version: str = "1.1"
    delivery: Delivery = Delivery.BOTH
    protocols: tuple[Protocol, ...] = (Protocol.COAP, Protocol.HTTP, Protocol.HTTPS)
    lifetime: int = 300
    checkin_interval: float = 30.0
    queue_mode: bool = True
    awake_seconds: float = 93.0  # CoAP MAX_TRANSMIT_WAIT, what LwM2M 1.1 suggests a queue-mode client stays awake
    reboot_seconds: float = 2.0
    block_size: int = 512  # Block2 size asked for in CoAP downloads
    # coap:// downloads written as datagrams by hand (datagram_blocks.py), not by the device's aiocoap context: what
    # a fleet of hundreds in one process needs so that the server, not its clients, is what a benchmark measures.
    datagram_downloads: bool = False
    max_block_size: int = 1024  # largest Block1 accepted on a Package push
    request_timeout: float = 10.0
    transfer_timeout: float = 30.0
    busy_budget: float = 300.0  # a download waits out 5.03 (server busy, come back after Max-Age) this long in all
    push_timeout: float = 60.0  # a push with no block for this long fails with Update Result 4
    register_retry: float = 5.0
    deregister_on_reboot: bool = True
    http_verify: bool = True
    bind_host: str = "127.0.0.1"
    faults: frozenset[Fault] = frozenset()
    psk_identity: str | None = None  # DTLS-PSK identity and key (both or neither); with them `server` is coaps://
    psk_key: bytes | None = None
    # A factory bootstrap account (simulator/bootstrap.py): coap://, or coaps:// with the bootstrap PSK. A device
    # without a `server` bootstraps at its first boot and registers where the bootstrap server sends it.
    bootstrap_server: str | None = None
    bootstrap_psk_identity: str | None = None
    bootstrap_psk_key: bytes | None = None
    bootstrap_timeout: float = 30.0
    time_zone: str | None = None  # the Device object's Timezone (/3/0/15), e.g. Europe/Berlin; None: no such resource

    def __post_init__(self) -> None:
        if self.lwm2m_version not in ("1.0", "1.1"):
            raise ValueError(f"lwm2m_version must be 1.0 or 1.1, got {self.lwm2m_version!r}")
        if self.bootstrap_server is not None:
            secure = self.bootstrap_psk_identity is not None or self.bootstrap_psk_key is not None
            if secure and (self.bootstrap_psk_identity is None or self.bootstrap_psk_key is None):
                raise ValueError("bootstrap_psk_identity and bootstrap_psk_key go together")
            if not self.bootstrap_server.startswith("coaps://" if secure else "coap://"):
                raise ValueError(f"bootstrap_server {self.bootstrap_server!r} does not fit its security")
            if not self.server and self.psk_identity is None and self.psk_key is None:
                return
        secure = self.psk_identity is not None or self.psk_key is not None
        if secure and (self.psk_identity is None or self.psk_key is None):
            raise ValueError("psk_identity and psk_key go together")
        scheme = "coaps://" if secure else "coap://"
        if not self.server.startswith(scheme):
            raise ValueError(f"server must be a {scheme} URI{' with a PSK' if secure else ''}, got {self.server!r}")

    @property
    def psk(self) -> PskCredentials | None:
        if self.psk_identity is None or self.psk_key is None:
            return None
        return PskCredentials(self.server, self.psk_identity.encode("utf-8"), self.psk_key)

    @property
    def bootstrap_target(self) -> BootstrapTarget | None:
        if self.bootstrap_server is None:
            return None
        identity = self.bootstrap_psk_identity.encode("utf-8") if self.bootstrap_psk_identity is not None else None
        return BootstrapTarget(self.bootstrap_server, identity, self.bootstrap_psk_key)

    def factory_accounts(self) -> Accounts:
        """The Security and Server instances the device leaves the factory with (simulator/bootstrap.py)."""
        identity = self.psk_identity.encode("utf-8") if self.psk_identity is not None else None
        return factory_accounts(
            self.bootstrap_target,
            server=self.server,
            identity=identity,
            key=self.psk_key,
            lifetime=self.lifetime,
            binding=self.binding,
        )

    @property
    def endpoint_name(self) -> str:
        return self.endpoint or f"urn:imei:{self.imei}"

    @property
    def binding(self) -> str:
        """The `b` parameter: in 1.0 queue mode is the Q of the binding, in 1.1 it is a parameter of its own."""
        return "UQ" if self.queue_mode and self.lwm2m_version == "1.0" else "U"


@dataclass(frozen=True)
class DeviceEvent:
    """One thing the device did or had done to it; `at` is event-loop time."""

    at: float
    kind: str
    detail: str = ""


@dataclass
class _Registration:
    location: tuple[str, ...] = ()
    registered: bool = False
    count: int = 0
    updates: int = 0


class SimulatedDevice:
    """A device that talks to the LwM2M server only over CoAP/UDP, as a real client would."""

    def __init__(self, config: DeviceConfig) -> None:
        self.config = config
        self._resources = implemented(config)
        self.firmware_version = config.firmware
        self.events: list[DeviceEvent] = []
        self.boots = 0
        self.online = False
        self.gone = False  # the never-returns fault took it away for good
        self.last_error: str | None = None
        self._registration = _Registration()
        self._transport: DeviceTransport | None = None
        # Security and Server instances survive reboots (flash); the account in use is read from them at each boot.
        self.accounts = config.factory_accounts()
        self.account: ServerAccount | None = None
        self.bootstraps = 0
        self._bootstrap_wanted = False
        self._tree: ObjectTree | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._reboot_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.firmware = FirmwareUpdate(
            # A DTLS device fetches over coaps too (its download link names the server's coaps endpoint).
            protocols=config.protocols
            + ((Protocol.COAPS,) if _may_use_dtls(config) and Protocol.COAPS not in config.protocols else ()),
            delivery=config.delivery,
            block_size=config.block_size,
            faults=config.faults,
            coap_context=lambda: self._open_transport().context,
            on_change=self._changed,
            on_execute=lambda: self._schedule_reboot(update=True),
            record=self.record,
            transfer_timeout=config.transfer_timeout,
            busy_budget=config.busy_budget,
            http_verify=config.http_verify,
            datagram_downloads=config.datagram_downloads,
        )

    # --- what tests inspect -----------------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return self.config.endpoint_name

    @property
    def imei(self) -> str:
        return self.config.imei

    @property
    def registered(self) -> bool:
        return self._registration.registered

    @property
    def location(self) -> str | None:
        """The registration's location, e.g. "/rd/5a3f", while registered."""
        reg = self._registration
        return "/" + "/".join(reg.location) if reg.registered else None

    @property
    def registrations(self) -> int:
        return self._registration.count

    @property
    def updates(self) -> int:
        return self._registration.updates

    @property
    def state(self) -> State:
        return self.firmware.state

    @property
    def update_result(self) -> Result:
        return self.firmware.result

    @property
    def update_executions(self) -> int:
        return self.firmware.executions

    @property
    def package_bytes_received(self) -> int:
        """Package bytes this device received: pulled CoAP blocks and HTTP chunks (resent ones again), pushed images."""
        return self.firmware.received

    @property
    def address(self) -> tuple[str, int] | None:
        """The (host, port) of the current boot's socket, or None while down."""
        return self._transport.address if self._transport is not None and self._transport.is_open else None

    @property
    def awake(self) -> bool:
        return self._transport is not None and self._transport.awake

    @property
    def lwm2m_version(self) -> str:
        return self.config.lwm2m_version

    def events_of(self, kind: str) -> list[DeviceEvent]:
        return [event for event in self.events if event.kind == kind]

    async def wait_for(self, predicate: Callable[[SimulatedDevice], bool], timeout: float, what: str = "") -> None:
        await wait_until(lambda: predicate(self), timeout, what=what or f"condition on {self.endpoint}")

    def record(self, kind: str, detail: str = "") -> None:
        self.events.append(DeviceEvent(asyncio.get_running_loop().time(), kind, detail))
        _log.debug("%s %s %s", self.endpoint, kind, detail)

    # --- life cycle -------------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the socket and start registering (in the background: start() does not wait for the server)."""
        if self.online or self.gone:
            return
        await self._boot()

    async def stop(self, *, deregister: bool = True) -> None:
        """De-register (unless told not to, or gone) and release the socket."""
        task, self._reboot_task = self._reboot_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._shutdown(deregister=deregister and not self.gone)
        await self.firmware.close()

    async def _boot(self) -> None:
        self._tree = ObjectTree(
            self,
            paths(self._resources),
            max_block_size=self.config.max_block_size,
            push_timeout=self.config.push_timeout,
        )
        self.boots += 1
        self.online = True
        self.account = self.accounts.management()
        if self.account is not None:
            await self._open_management(self.account)
        where = self._transport.address if self._transport is not None else "no server account yet"
        self.record("boot", f"firmware {self.firmware_version} on {where}")
        self._loop_task = asyncio.create_task(self._run(), name=f"lwm2m client {self.endpoint}")

    async def _open_management(self, account: ServerAccount) -> None:
        assert self._tree is not None
        psk = None
        if account.identity is not None and account.key is not None:
            psk = PskCredentials(account.uri, account.identity, account.key)
        self._transport = DeviceTransport(
            self._tree.site,
            bind_host=self.config.bind_host,
            queue_mode=self.config.queue_mode,
            awake_seconds=self.config.awake_seconds,
            on_drop=self._dropped,
            psk=psk,
        )
        await self._transport.open()

    async def _bootstrap(self) -> bool:
        """Client-initiated bootstrap (simulator/bootstrap.py); then the management account it was given."""
        target = self.config.bootstrap_target
        if target is None:
            return False
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.close()  # the old account's socket and DTLS session go with the old account
        self._registration.registered = False
        done = await bootstrap(
            target,
            self.accounts,
            endpoint=self.endpoint,
            lwm2m_version=self.config.lwm2m_version,
            object_ids=(0, *RESOURCES),  # Security, then the objects it implements
            bind_host=self.config.bind_host,
            timeout=self.config.bootstrap_timeout,
            record=self.record,
        )
        self.account = self.accounts.management() if done else None
        if self.account is None:
            return False
        self.bootstraps += 1
        await self._open_management(self.account)
        return True

    def trigger_bootstrap(self) -> None:
        """Bootstrap again now (Bootstrap-Request Trigger, /1/0/9, or a factory reset of the server accounts)."""
        self._bootstrap_wanted = True
        self._wake.set()

    async def _shutdown(self, *, deregister: bool) -> None:
        task, self._loop_task = self._loop_task, None
        if task is not None:
            # Python 3.11's wait_for can swallow a cancellation that races with its inner future finishing, so
            # cancel until the task has really ended instead of trusting a single cancel().
            while not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=0.1)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                task.result()
        if deregister and self._registration.registered and self._transport is not None:
            await self._deregister()
        self._registration.registered = False
        if self._tree is not None:
            self._tree.close()
            self._tree = None
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.close()
        self.online = False

    def _open_transport(self) -> DeviceTransport:
        if self._transport is None or not self._transport.is_open:
            raise RuntimeError(f"{self.endpoint} is down")
        return self._transport

    def _dropped(self, message: aiocoap.Message) -> None:
        self.record("dropped", f"{message.code} /{'/'.join(message.opt.uri_path)} while asleep")

    def _changed(self, paths: set[Path]) -> None:
        if self._tree is not None and self.online:
            self._tree.changed(paths)

    # --- the registration interface ---------------------------------------------------------------------------------

    async def _run(self) -> None:
        config = self.config
        while True:
            if self._bootstrap_wanted or self._transport is None:
                self._bootstrap_wanted = False
                if not await self._bootstrap():
                    await asyncio.sleep(config.register_retry)
                    continue
            # Update before the lifetime runs out even if the check-in interval is longer.
            interval = min(config.checkin_interval, self._lifetime * 0.9)
            if not self._registration.registered:
                if not await self._register():
                    await asyncio.sleep(config.register_retry)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()
            if self._bootstrap_wanted:
                continue
            if not await self._update():
                # 4.04 means the server forgot us; any other failure is treated alike, as Wakaama does: register.
                self._registration.registered = False

    def _message(self, code: aiocoap.Code, path: tuple[str, ...], **kwargs: object) -> aiocoap.Message:
        uri = self.account.uri if self.account is not None else self.config.server
        message = aiocoap.Message(code=code, uri=uri.rstrip("/"), **kwargs)
        message.opt.uri_path = path
        return message

    async def _request(self, message: aiocoap.Message, what: str) -> aiocoap.Message | None:
        try:
            transport = self._open_transport()
            if transport.server_remote is not None:
                message.remote = transport.server_remote
            response: aiocoap.Message = await asyncio.wait_for(
                transport.context.request(message).response, self.config.request_timeout
            )
            transport.hold_session(response.remote)
            return response
        except (TimeoutError, aiocoap.error.Error, OSError) as exc:
            self.last_error = f"{what}: {exc!r}"
            self.record(f"{what}-failed", repr(exc))
            return None

    async def _register(self) -> bool:
        config = self.config
        binding = self.account.binding if self.account is not None else config.binding
        query = [f"ep={self.endpoint}", f"lt={self._lifetime}", f"lwm2m={config.lwm2m_version}", f"b={binding}"]
        if config.queue_mode and config.lwm2m_version != "1.0":
            query.append("Q")
        message = self._message(
            aiocoap.POST, ("rd",), payload=REGISTER_PAYLOAD, content_format=ContentFormat.LINK_FORMAT
        )
        message.opt.uri_query = tuple(query)
        response = await self._request(message, "register")
        if response is None:
            return False
        if response.code != aiocoap.CREATED or not response.opt.location_path:
            self.last_error = f"register answered {response.code}"
            self.record("register-rejected", str(response.code))
            return False
        reg = self._registration
        reg.location, reg.registered = tuple(response.opt.location_path), True
        reg.count += 1
        self.last_error = None
        self.record("register", f"{'&'.join(query)} -> {self.location}")
        return True

    async def _update(self) -> bool:
        response = await self._request(self._message(aiocoap.POST, self._registration.location), "update")
        if response is None:
            return False
        if response.code != aiocoap.CHANGED:
            self.record("update-rejected", str(response.code))
            return False
        self._registration.updates += 1
        self.record("update", self.location or "")
        return True

    async def _deregister(self) -> None:
        response = await self._request(self._message(aiocoap.DELETE, self._registration.location), "deregister")
        self._registration.registered = False
        self.record("deregister", "" if response is None else str(response.code))

    @property
    def _lifetime(self) -> int:
        return self.account.lifetime if self.account is not None else self.config.lifetime

    def trigger_update(self) -> None:
        """Send a registration Update now (Registration Update Trigger, /1/0/8)."""
        self._wake.set()

    # --- reboot -----------------------------------------------------------------------------------------------------

    def _schedule_reboot(self, *, update: bool) -> None:
        self._reboot_task = asyncio.create_task(self._reboot(update=update), name=f"reboot {self.endpoint}")

    async def _reboot(self, *, update: bool) -> None:
        await asyncio.sleep(_EXECUTE_GRACE)
        self.record("reboot", "installing firmware" if update else "plain reboot")
        await self._shutdown(deregister=self.config.deregister_on_reboot)
        if update and Fault.NEVER_RETURNS in self.config.faults:
            self.gone = True
            self.record("gone", "injected fault: never returns after Update")
            return
        await asyncio.sleep(self.config.reboot_seconds)
        if update:
            self.firmware_version = self.firmware.complete_update(self.firmware_version)
        else:
            self.firmware.after_plain_reboot()
        await self._boot()

    # --- the data model (ClientModel for the resources) -------------------------------------------------------------

    def _values(self) -> dict[Path, Value]:
        config = self.config
        values: dict[Path, Value] = {
            (1, 0, 0): 1,  # Short Server ID
            (1, 0, 1): self._lifetime,
            (1, 0, 6): False,  # Notification Storing When Disabled or Offline
            (1, 0, 7): self.account.binding if self.account is not None else config.binding,
            (3, 0, 0): config.make,
            (3, 0, 1): config.model,
            (3, 0, 2): config.serial or config.imei,
            (3, 0, 3): self.firmware_version,
            (3, 0, 11, 0): 0,  # Error Code: no error
            (3, 0, 16): "UQ" if config.lwm2m_version == "1.0" else "U",
        }
        if config.time_zone is not None:
            values[(3, 0, TIMEZONE)] = config.time_zone
        values.update(self.firmware.values())
        return values

    def _operations(self, path: Path) -> str:
        """The operations of the resource at `path` (its first three ids); Refused 4.04 if there is none."""
        operations = self._resources.get(path[0], {}).get(path[2]) if len(path) >= 3 and path[1] == 0 else None
        if operations is None:
            raise Refused(aiocoap.NOT_FOUND, f"no resource {path}")
        return operations

    def read(self, path: Path) -> dict[Path, Value]:
        if len(path) >= 3 and "R" not in self._operations(path):
            raise Refused(aiocoap.METHOD_NOT_ALLOWED, f"resource {path} is not readable")
        return {p: v for p, v in self._values().items() if p[: len(path)] == path}

    def write(self, path: Path, values: Mapping[Path, Value], *, replace: bool) -> None:
        if len(path) == 1:
            raise Refused(aiocoap.METHOD_NOT_ALLOWED, "write on an object")
        if len(path) == 3 and set(values) != {path}:
            raise Refused(aiocoap.BAD_REQUEST, f"a write on {path} carries that resource only")
        for target in values:
            if "W" not in self._operations(target):
                raise Refused(aiocoap.METHOD_NOT_ALLOWED, f"resource {target} is not writable")
        self.record("write", ", ".join(f"{p}={v!r:.80}" for p, v in values.items()))
        for target, value in values.items():
            if target == (5, 0, 1):
                if not isinstance(value, str):
                    raise Refused(aiocoap.BAD_REQUEST, "Package URI is a string")
                self.firmware.write_package_uri(value)
            elif target == (5, 0, 0):
                if not isinstance(value, bytes):
                    raise Refused(aiocoap.BAD_REQUEST, "Package is opaque")
                self._write_package_whole(value)

    def _write_package_whole(self, data: bytes) -> None:
        """A Package inside an instance write (TLV or SenML), already assembled by aiocoap."""
        if data == b"\0":
            self.firmware.reset_by_package()
            return
        self.firmware.begin_push()
        if self.firmware.push_progress():
            self.firmware.finish_push(data)

    def execute(self, path: Path, arguments: bytes) -> None:
        if "E" not in self._operations(path):
            raise Refused(aiocoap.METHOD_NOT_ALLOWED, f"resource {path} is not executable")
        self.record("execute", f"{path} {arguments!r}" if arguments else str(path))
        if path == (5, 0, 2):
            self.firmware.execute_update()
        elif path == (3, 0, 4):
            self._schedule_reboot(update=False)
        elif path == (1, 0, 8):
            self.trigger_update()
        elif path == (1, 0, 9):
            self.trigger_bootstrap()

    def discover(self, path: Path) -> str:
        """Link-format of the object or instance and its resources (with dim= for multiple resources)."""
        oid = path[0]
        links = ["<" + "/".join(("", *map(str, path))) + ">"]
        if len(path) <= 2:
            for rid in self._resources.get(oid, {}):
                link = f"</{oid}/0/{rid}>"
                if (oid, rid) in MULTIPLE:
                    count = sum(1 for p in self._values() if p[:3] == (oid, 0, rid))
                    link += f";dim={count}"
                links.append(link)
            if len(path) == 1:
                links.insert(1, f"</{oid}/0>")
        return ",".join(links)


def _may_use_dtls(config: DeviceConfig) -> bool:
    """A device with a PSK, or one that may be handed one by its bootstrap server, fetches over coaps too."""
    return config.psk is not None or config.bootstrap_server is not None
