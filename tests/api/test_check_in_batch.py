"""Check-ins recorded set-wise (services/check_in_batch.py), HTTP polls and LwM2M registration Updates: each
check-in of a batch leaves what it would leave recorded alone (its history row, its log entry, its device's last
contact, its registration, the assignment it reads), and a batch of the common check-in costs the same statements
for 24 devices as for 3."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event

from fota.domain.security import DeviceSecurity, SecurityMode
from fota.services import registrations, upgrades
from fota.services.context import ServiceContext
from fota.services.device_poll import Poll, Recorded, record_polls
from fota.services.ports import LoggingStatus, Registration
from fota.services.registrations import CheckIn, CheckInResult
from tests.in_process import InProcessServer

FIRMWARE_FROM, FIRMWARE_TO = "1.0", "2.0"


def _fleet(server: InProcessServer, count: int, *, enrolled: int) -> tuple[list[str], dict[str, str]]:
    """`count` HTTP devices with keys, the first `enrolled` of them in a campaign whose window is open."""
    account = server.new_account(license_count=count)
    firmware = server.new_firmware(
        make="Acme", model="Batch", firmware_from=FIRMWARE_FROM, firmware_to=FIRMWARE_TO, protocol="HTTP"
    )
    ids = [str(random.randint(10**14, 10**15 - 1)) for _ in range(count)]
    kind = {"make": "Acme", "model": "Batch", "firmware": FIRMWARE_FROM, "protocol": "HTTP"}
    specs = [{"deviceId": d, **kind} for d in ids]
    assert account.add_devices(specs).status_code == 201
    keys = {}
    for device_id in ids:
        r = server.admin.post(f"/accounts/{account.name}/devices/{device_id}/key")
        assert r.status_code == 201, r.text
        keys[device_id] = r.json()["deviceKey"]
    tomorrow = server.now().date() + timedelta(days=1)
    with account.client() as client:
        r = client.post(
            f"/campaigns/firmware/{account.name}",
            json={
                "firmwareName": firmware["firmwareName"],
                "firmwareFrom": FIRMWARE_FROM,
                "firmwareTo": FIRMWARE_TO,
                "protocol": "HTTP",
                "startDate": tomorrow.isoformat(),
                "endDate": (tomorrow + timedelta(days=1)).isoformat(),
                "deviceList": ids[:enrolled],
                "autoAssignLicenseFlag": True,
                "autoAddDevicesFlag": False,
                "campaignTimeWindowList": [{"startTime": 8, "endTime": 12}],
            },
        )
        assert r.status_code == 200, r.text
    server.set_clock(datetime(tomorrow.year, tomorrow.month, tomorrow.day, 9, tzinfo=UTC))
    return ids, keys


def _services(server: InProcessServer) -> ServiceContext:
    services: ServiceContext = server.test_client.app.state.parts.services
    return services


def _record(server: InProcessServer, polls: list[Poll]) -> list[Recorded]:
    services = _services(server)
    return record_polls(uow=services.uow(), clock=services.clock, polls=polls)


@contextmanager
def _statements() -> Iterator[list[str]]:
    """The SQL statements this thread runs meanwhile (the server's own loops run theirs on other threads)."""
    seen: list[str] = []
    me = threading.get_ident()

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if threading.get_ident() == me:
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", note)


def test_each_poll_of_a_batch_leaves_what_it_would_alone(private_in_process_server: InProcessServer) -> None:
    server = private_in_process_server
    ids, keys = _fleet(server, 7, enrolled=5)
    common, logged, updated, twice, silent, outside, refused = ids
    services = _services(server)
    with services.uow() as uow:
        uow.activity.enable_logging(
            [LoggingStatus(logged, _account_of(server, logged), server.now() + timedelta(days=1))], at=server.now()
        )
        uow.commit()
    before = {d: _check_ins(server, d) for d in ids}
    polls = [
        Poll(common, keys[common], FIRMWARE_FROM),
        Poll(twice, keys[twice], FIRMWARE_FROM),
        Poll(logged, keys[logged], FIRMWARE_FROM),
        Poll(updated, keys[updated], FIRMWARE_TO, 0, 1),  # already runs the new firmware
        Poll(refused, "not its key", FIRMWARE_FROM),
        Poll(twice, keys[twice], None),
        Poll(outside, keys[outside], FIRMWARE_FROM),
    ]
    now = server.now()

    recorded = _record(server, polls)

    assert [r.refused for r in recorded] == [False, False, False, False, True, False, False]
    for poll, result in zip(polls, recorded, strict=True):
        if not result.refused:  # what a later read of the assignment gives: the batch read it as one poll would
            alone = upgrades.current_assignment(uow=services.reader(), clock=services.clock, device_id=poll.device_id)
            assert result.assignment == alone, poll.device_id
    assert recorded[0].assignment is not None and recorded[0].assignment.may_download
    assert recorded[-1].assignment is None  # in no campaign
    after = {d: _check_ins(server, d) for d in ids}
    assert {d: after[d] - before[d] for d in ids} == {
        common: 1,
        logged: 1,
        updated: 1,
        twice: 2,
        silent: 0,
        outside: 1,
        refused: 0,
    }
    with services.reader() as uow:
        known = uow.devices.get_many(ids)
        logs = uow.activity.logs(_account_of(server, logged), logged, limit=10)
        others_logs = uow.activity.logs(_account_of(server, common), common, limit=10)
    assert {d for d in ids if known[d].last_seen_at == now} == {common, logged, updated, twice, outside}
    assert known[updated].firmware == FIRMWARE_TO and known[common].firmware == FIRMWARE_FROM
    assert [(e.log_type, e.event_log) for e in logs] == [("AgentService", f"HTTP check-in, firmware {FIRMWARE_FROM}")]
    assert others_logs == []


def test_a_batch_of_common_check_ins_costs_the_same_statements_at_any_size(
    private_in_process_server: InProcessServer,
) -> None:
    server = private_in_process_server
    ids, keys = _fleet(server, 30, enrolled=20)  # enrolled and not, in one batch
    counts = []
    for batch in (ids[:3], ids[3:27]):
        polls = [Poll(d, keys[d], FIRMWARE_FROM) for d in batch]
        with _statements() as seen:
            recorded = _record(server, polls)
        assert not any(r.refused for r in recorded)
        counts.append(len(seen))
    assert counts[0] == counts[1], counts


def _check_ins(server: InProcessServer, device_id: str) -> int:
    with _services(server).reader() as uow:
        return len(uow.activity.check_ins(device_id, limit=1000))


def _account_of(server: InProcessServer, device_id: str) -> str:
    with _services(server).reader() as uow:
        device = uow.devices.get(device_id)
    assert device is not None
    return device.account_name


def _registered(server: InProcessServer, device_id: str, *, lifetime: int = 300) -> Registration:
    services = _services(server)
    registration = registrations.register(
        uow=services.uow(),
        clock=services.clock,
        endpoint=f"urn:imei:{device_id}",
        device_id=device_id,
        lifetime=lifetime,
        lwm2m_version="1.1",
        binding="U",
        address="127.0.0.1:5683",
        objects="</5/0>",
        node="test",
    )
    assert registration is not None
    return registration


def _updates(server: InProcessServer, updates: list[CheckIn]) -> list[CheckInResult]:
    services = _services(server)
    return registrations.check_in_many(uow=services.uow(), clock=services.clock, check_ins=updates, allow_nosec=True)


def _update(location: str, *, objects: str | None = None) -> CheckIn:
    return CheckIn(location=location, lifetime=None, binding=None, address="127.0.0.9:5683", objects=objects)


def test_each_update_of_a_batch_leaves_what_it_would_alone(private_in_process_server: InProcessServer) -> None:
    server = private_in_process_server
    ids, _ = _fleet(server, 6, enrolled=5)
    common, logged, changed, twice, psk, expired = ids
    services = _services(server)
    with services.uow() as uow:
        uow.activity.enable_logging(
            [LoggingStatus(logged, _account_of(server, logged), server.now() + timedelta(days=1))], at=server.now()
        )
        uow.device_security.put(DeviceSecurity(psk, SecurityMode.PSK, f"id-{psk}"), b"not a real key", at=server.now())
        uow.commit()
    locations = {d: _registered(server, d, lifetime=1 if d == expired else 300).location for d in ids}
    server.advance(2)  # the short one lapses
    now = server.now()
    before = {d: _check_ins(server, d) for d in ids}
    updates = [
        _update(locations[common]),
        _update(locations[twice]),
        _update(locations[logged]),
        _update(locations[changed], objects="</5/0>,</3/0>"),
        _update(locations[psk]),  # a psk-mode device over plain CoAP
        _update("no-such-location"),
        _update(locations[twice]),
        _update(locations[expired]),
    ]

    results = _updates(server, updates)

    assert [r.refused is not None for r in results] == [False, False, False, False, True, False, False, False]
    assert [r.registration is not None for r in results] == [True, True, True, True, False, False, True, False]
    for update, result in zip(updates, results, strict=True):
        if result.registration is not None:
            device_id = result.registration.device_id
            alone = upgrades.current_assignment(uow=services.reader(), clock=services.clock, device_id=device_id)
            assert result.assignment == alone is not None, device_id
            assert (result.registration.updated_at, result.registration.address) == (now, update.address)
    after = {d: _check_ins(server, d) for d in ids}
    assert {d: after[d] - before[d] for d in ids} == {
        common: 1,
        logged: 1,
        changed: 1,
        twice: 2,
        psk: 0,
        expired: 0,
    }
    with services.reader() as uow:
        stored = {d: uow.registrations.get(locations[d]) for d in ids}
        known = uow.devices.get_many(ids)
        logs = uow.activity.logs(_account_of(server, logged), logged, limit=10)
    assert {d for d in ids if (r := stored[d]) is not None and r.updated_at == now} == {common, logged, changed, twice}
    changed_registration = stored[changed]
    assert changed_registration is not None and changed_registration.objects == "</5/0>,</3/0>"
    assert {d for d in ids if known[d].last_seen_at == now} == {common, logged, changed, twice}
    assert [e.event_log for e in logs][-1] == "LwM2M registration Update from 127.0.0.9:5683"


def test_a_batch_of_common_updates_costs_the_same_statements_at_any_size(
    private_in_process_server: InProcessServer,
) -> None:
    server = private_in_process_server
    ids, _ = _fleet(server, 30, enrolled=20)
    locations = [_registered(server, d).location for d in ids]
    counts = []
    for batch in (locations[:3], locations[3:27]):
        with _statements() as seen:
            results = _updates(server, [_update(location) for location in batch])
        assert all(r.registration is not None for r in results)
        counts.append(len(seen))
    assert counts[0] == counts[1], counts
