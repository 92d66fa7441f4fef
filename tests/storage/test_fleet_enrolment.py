"""Enrolling a fleet at once, on both databases: a list of more than a thousand devices (so its rows and history go
set by set) mixed with every kind of rejection gives each device the row, license and history the rule says, in the
list's order for the license pool, as a device-by-device evaluation would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from fota.adapters.storage.bulk import GROUP_FROM
from fota.adapters.storage.tables import accounts, campaign_devices, campaigns, device_licenses, history
from fota.adapters.storage.unit_of_work import SqlUnitOfWorkFactory
from fota.clock import SimulatedClock
from fota.services import admin, device_logging, licenses
from fota.services import campaigns as campaign_service
from fota.services.campaigns import CampaignCreate
from fota.services.enrolment import ENROLLED_REASON
from tests.storage.provisioning import add_firmware

ACCOUNT, OTHER = "0000000001-00001", "0000000002-00001"
ELIGIBLE = [f"{350000000000000 + i}" for i in range(GROUP_FROM + 200)]
OLD_FIRMWARE = [f"{351000000000000 + i}" for i in range(30)]
FOREIGN = [f"{352000000000000 + i}" for i in range(5)]
UNKNOWN = [f"{353000000000000 + i}" for i in range(3)]
BUSY = "354000000000000"
PRELICENSED = ELIGIBLE[:20]
LICENSES = 1100
NO_LICENSE = "No FOTA license available in the account's pool"


def _provision(uow: SqlUnitOfWorkFactory, clock: SimulatedClock) -> None:
    for name in (ACCOUNT, OTHER):
        admin.create_account(uow=uow(), clock=clock, name=name, license_count=LICENSES, purchase_type=None)
    add_firmware(uow, clock)
    ours = [admin.DeviceSpec(d, "M", "X", "1", "LWM2M") for d in [*ELIGIBLE, BUSY]]
    ours += [admin.DeviceSpec(d, "M", "X", "0.9", "LWM2M") for d in OLD_FIRMWARE]
    admin.provision_devices(uow=uow(), clock=clock, account_name=ACCOUNT, specs=ours)
    theirs = [admin.DeviceSpec(d, "M", "X", "1", "LWM2M") for d in FOREIGN]
    admin.provision_devices(uow=uow(), clock=clock, account_name=OTHER, specs=theirs)
    licenses.assign(uow=uow(), clock=clock, account_name=ACCOUNT, device_ids=PRELICENSED)


def _request(device_ids: list[str], start: datetime) -> CampaignCreate:
    day = start.date() + timedelta(days=1)
    return CampaignCreate("fw", "1", "2", "LWM2M", day, day + timedelta(days=1), device_ids, True, False)


def _device_list() -> list[str]:
    """The eligible devices with the others interleaved, and some of them twice."""
    listed: list[str] = []
    others = iter([*OLD_FIRMWARE, *FOREIGN, *UNKNOWN, BUSY])
    for i, device_id in enumerate(ELIGIBLE):
        listed.append(device_id)
        if i % 30 == 0:
            listed.append(next(others, ELIGIBLE[i // 30]))
    listed.extend(others)
    return listed + ELIGIBLE[:10] + OLD_FIRMWARE[:2]


def _expected(listed: list[str]) -> dict[str, tuple[str, str]]:
    """Device by device, in list order: (status, reason) of each row."""
    free = LICENSES - len(PRELICENSED) - 1  # the busy device took one in its own campaign
    rows: dict[str, tuple[str, str]] = {}
    for device_id in dict.fromkeys(listed):
        if device_id in UNKNOWN or device_id in FOREIGN:
            rows[device_id] = ("DeviceRejected", "Device not found in this account")
        elif device_id in OLD_FIRMWARE:
            reason = "Device runs firmware '0.9', not the campaign's firmwareFrom '1'"
            rows[device_id] = ("DeviceRejected", reason)
        elif device_id == BUSY:
            rows[device_id] = ("DeviceRejected", "Device is already in another live campaign")
        elif device_id in PRELICENSED:
            rows[device_id] = ("UpgradePending", ENROLLED_REASON)
        elif free > 0:
            free -= 1
            rows[device_id] = ("UpgradePending", ENROLLED_REASON)
        else:
            rows[device_id] = ("DeviceRejected", NO_LICENSE)
    return rows


def test_a_mixed_fleet_gets_what_the_rule_gives_each_device(engine: Engine) -> None:
    uow = SqlUnitOfWorkFactory(engine)
    clock = SimulatedClock(datetime(2026, 12, 1, 10, tzinfo=UTC))
    _provision(uow, clock)
    campaign_service.create_campaign(
        uow=uow(), clock=clock, account_name=ACCOUNT, request=_request([BUSY], clock.now()), signing_required=False
    )
    logged = [ELIGIBLE[-1], OLD_FIRMWARE[0]]  # device logs are per device: they see each device's change
    device_logging.enable(uow=uow(), clock=clock, account_name=ACCOUNT, device_ids=logged)
    listed = _device_list()
    created = campaign_service.create_campaign(
        uow=uow(), clock=clock, account_name=ACCOUNT, request=_request(listed, clock.now()), signing_required=False
    )
    expected = _expected(listed)
    newly_licensed = {d for d, (status, _) in expected.items() if status == "UpgradePending"} - set(PRELICENSED)
    assert len(newly_licensed) == LICENSES - len(PRELICENSED) - 1  # the pool ran dry in the list
    assert sum(reason == NO_LICENSE for _, reason in expected.values()) > 0

    with engine.connect() as connection:
        rows = connection.execute(
            select(campaign_devices.c.device_id, campaign_devices.c.status, campaign_devices.c.reason).where(
                campaign_devices.c.campaign_id == created.id
            )
        ).all()
        assert {d: (s, r) for d, s, r in rows} == expected
        active = connection.execute(
            select(campaign_devices.c.device_id).where(
                campaign_devices.c.campaign_id == created.id, campaign_devices.c.active.is_(True)
            )
        ).scalars()
        assert set(active) == {d for d, (s, _) in expected.items() if s == "UpgradePending"}
        count = connection.execute(select(campaigns.c.device_count).where(campaigns.c.id == created.id)).scalar()
        assert count == len(expected)
        licensed = set(
            connection.execute(
                select(device_licenses.c.device_id).where(device_licenses.c.account_name == ACCOUNT)
            ).scalars()
        )
        assert licensed == {*PRELICENSED, BUSY, *newly_licensed}
        used = connection.execute(select(accounts.c.licenses_used).where(accounts.c.name == ACCOUNT)).scalar()
        assert used == LICENSES
        entries = connection.execute(
            select(history.c.device_id, history.c.campaign_id, history.c.status, history.c.reason, history.c.at)
            .where(history.c.account_name == ACCOUNT, history.c.device_id.is_not(None))
            .order_by(history.c.id)
        ).all()
    assert {e.at for e in entries} == {clock.now()}
    for device_id in logged:
        status, reason = expected[device_id]
        log = device_logging.logs(uow=uow(), account_name=ACCOUNT, device_id=device_id)
        assert [(e.log_type, e.event_log) for e in log] == [("SoftwareUpdate", f"{status}: {reason}")]
    auto = f"auto-assigned for campaign {created.id}"
    per_device: dict[str, list[tuple[str | None, str, str]]] = {}
    for device_id, campaign_id, status, reason, _ in entries:
        if campaign_id == created.id or reason == auto:
            per_device.setdefault(device_id, []).append((campaign_id, status, reason))
    for device_id, (status, reason) in expected.items():
        wanted = [(created.id, status, reason)]
        if device_id in newly_licensed:
            wanted.append((None, "LicenseAssigned", auto))  # after its enrolment, in id order
        assert per_device.get(device_id) == wanted, device_id


def test_adding_a_fleet_answers_each_device_as_it_is_stored(engine: Engine) -> None:
    uow = SqlUnitOfWorkFactory(engine)
    clock = SimulatedClock(datetime(2026, 12, 1, 10, tzinfo=UTC))
    _provision(uow, clock)
    half = ELIGIBLE[: len(ELIGIBLE) // 2]
    created = campaign_service.create_campaign(
        uow=uow(), clock=clock, account_name=ACCOUNT, request=_request(half, clock.now()), signing_required=False
    )
    listed = [*ELIGIBLE, *UNKNOWN, *ELIGIBLE[:5]]
    changes = campaign_service.add_devices(
        uow=uow(), clock=clock, account_name=ACCOUNT, campaign_id=created.id, device_ids=listed
    )
    answered = {c.device_id: (c.succeeded, c.status, c.reason) for c in changes}
    assert [c.device_id for c in changes] == list(dict.fromkeys(listed))
    free = LICENSES - len(ELIGIBLE) // 2
    for device_id in ELIGIBLE:
        if device_id in half:
            wanted = (True, "AddDeviceSucceed", "Device is already in this campaign (UpgradePending)")
        else:
            added = free > 0
            free -= 1
            wanted = (
                (True, "AddDeviceSucceed", "Device added Successfully")
                if added
                else (False, "AddDeviceFailed", NO_LICENSE)
            )
        assert answered[device_id] == wanted, device_id
    for device_id in UNKNOWN:
        assert answered[device_id] == (False, "AddDeviceFailed", "Device not found in this account")
