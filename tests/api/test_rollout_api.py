"""v3's `rollout` on campaign creation and the rollout operations (fota-extensions.md §1-§3): a bad field is a 400
naming it and stores nothing, a good one is echoed with its state, pause/resume/approve answer 404/409 as the state
says and land in the audit with the session's user, and a campaign without a rollout answers as it did before."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.api.test_retry_policy import CREATE_KEYS, READ_KEYS, queued
from tests.api.test_validation import assert_error, device, luhn_imei
from tests.conftest import Account
from tests.fota_server import FotaServer

ROLLOUT = {
    "waves": [{"name": "canary", "devices": 1}, {"percent": 50}, {"percent": 100}],
    "advance": {"successPercent": 80, "soakMinutes": 30},
    "abort": {"failurePercent": 20, "minFailures": 2},
}

BAD_ROLLOUTS = [
    pytest.param([], "rollout", id="not-an-object"),
    pytest.param({}, "rollout.waves is required", id="no-waves"),
    pytest.param({"waves": [{"percent": 50}]}, "rollout.waves[0]", id="last-not-100"),
    pytest.param({"waves": [{"percent": 100}], "speed": 1}, "rollout has unknown field 'speed'", id="unknown"),
    pytest.param({"waves": [{"percent": 100}], "canary": "random"}, "rollout.canary", id="bad-canary"),
    pytest.param(
        {"waves": [{"percent": 100}], "advance": {"soakMinutes": -1}}, "rollout.advance.soakMinutes", id="bad-soak"
    ),
    pytest.param(
        {"waves": [{"percent": 100}], "abort": {"minFailures": 0}}, "rollout.abort.minFailures", id="bad-abort"
    ),
]


@pytest.fixture
def server(in_process_server: FotaServer) -> FotaServer:
    return in_process_server


@pytest.fixture
def account(server: FotaServer) -> tuple[Account, dict[str, str]]:
    return server.new_account(license_count=50), server.new_firmware()


def body(server: FotaServer, firmware: dict[str, str], imeis: list[str], **extra: Any) -> dict[str, Any]:
    today = server.now().date()
    return {
        "firmwareName": firmware["firmwareName"],
        "firmwareFrom": firmware["firmwareFrom"],
        "firmwareTo": firmware["firmwareTo"],
        "protocol": "LWM2M",
        "startDate": (today + timedelta(days=3)).isoformat(),
        "endDate": (today + timedelta(days=6)).isoformat(),
        "deviceList": imeis,
        "autoAssignLicenseFlag": True,
        "autoAddDevicesFlag": False,
        "campaignName": "rollout",
        **extra,
    }


def devices(owner: Account, firmware: dict[str, str], count: int) -> list[str]:
    imeis = [luhn_imei() for _ in range(count)]
    owner.add_devices([device(firmware, i) for i in imeis])
    return imeis


def create(owner: Account, server: FotaServer, firmware: dict[str, str], count: int, **extra: Any) -> dict[str, Any]:
    with owner.client() as client:
        r = client.post(
            f"/campaigns/firmware/{owner.name}", json=body(server, firmware, devices(owner, firmware, count), **extra)
        )
    assert r.status_code == 200, r.text
    created: dict[str, Any] = r.json()
    return created


@pytest.mark.parametrize(("rollout", "message"), BAD_ROLLOUTS)
def test_a_bad_rollout_is_400_naming_the_field(
    server: FotaServer, account: tuple[Account, dict[str, str]], rollout: Any, message: str
) -> None:
    owner, firmware = account
    before = queued(owner)
    with owner.client() as client:
        r = client.post(
            f"/campaigns/firmware/{owner.name}",
            json=body(server, firmware, devices(owner, firmware, 1), rollout=rollout),
        )
    error = assert_error(r, 400, "InvalidRequest")
    assert message in error["errorMessage"], error
    assert queued(owner) == before


def test_a_rollout_is_echoed_with_its_state(server: FotaServer, account: tuple[Account, dict[str, str]]) -> None:
    owner, firmware = account
    created = create(owner, server, firmware, 4, rollout=ROLLOUT)
    assert set(created) == CREATE_KEYS | {"rollout"}
    expected = {
        "canary": "first",
        "advance": {"successPercent": 80, "soakMinutes": 30, "approval": False},
        "abort": {"failurePercent": 20, "minFailures": 2},
        "state": "running",
        "pausedReason": None,
        "currentWave": 0,
        "waves": [
            {"name": "canary", "devices": 1, "succeeded": 0, "failed": 0, "unhealthy": 0, "state": "open"},
            {"name": "wave-2", "percent": 50, "devices": 1, "succeeded": 0, "failed": 0, "unhealthy": 0},
            {"name": "wave-3", "percent": 100, "devices": 2, "succeeded": 0, "failed": 0, "unhealthy": 0},
        ],
    }
    expected["waves"][1]["state"] = expected["waves"][2]["state"] = "waiting"  # type: ignore[index]
    assert created["rollout"] == expected
    with owner.client() as client:
        read = client.get(f"/campaigns/{owner.name}/{created['id']}").json()
        assert set(read) == READ_KEYS | {"rollout"}
        assert read["rollout"] == expected
        # The held devices name the wave they wait for.
        report = client.get(f"/reports/{owner.name}/campaigns/{created['id']}/devices").json()["deviceList"]
    reasons = sorted(d["resultReason"] for d in report)
    assert reasons.count("Waiting for wave wave-2") == 1
    assert reasons.count("Waiting for wave wave-3") == 2


def test_a_campaign_without_a_rollout_answers_as_before(
    server: FotaServer, account: tuple[Account, dict[str, str]]
) -> None:
    owner, firmware = account
    for extra in ({}, {"rollout": None}):
        created = create(owner, server, firmware, 1, **extra)
        assert set(created) == CREATE_KEYS, extra
        with owner.client() as client:
            read = client.get(f"/campaigns/{owner.name}/{created['id']}").json()
            assert set(read) == READ_KEYS, extra
            assert client.get(f"/campaigns/{owner.name}/{created['id']}/audit").json() == []
            # No rollout: nothing to pause, resume or approve.
            for operation in ("pause", "resume", "approve"):
                r = client.post(f"/campaigns/{owner.name}/{created['id']}/rollout/{operation}", json={"reason": "x"})
                assert_error(r, 409, "Conflict")


def test_pause_resume_approve_and_the_audit(server: FotaServer, account: tuple[Account, dict[str, str]]) -> None:
    owner, firmware = account
    created = create(owner, server, firmware, 2, rollout=ROLLOUT)
    base = f"/campaigns/{owner.name}/{created['id']}"
    with owner.client() as client:
        assert_error(client.post(f"/campaigns/{owner.name}/no-such-campaign/rollout/pause", json={}), 404, "NotFound")
        assert_error(client.get(f"/campaigns/{owner.name}/no-such-campaign/audit"), 404, "NotFound")
        assert_error(client.post(f"{base}/rollout/resume", json={"reason": "x"}), 409, "Conflict")  # running
        assert_error(client.post(f"{base}/rollout/approve", json={"reason": "x"}), 409, "Conflict")  # no gate met

        paused_at = server.now()
        r = client.post(f"{base}/rollout/pause", json={"reason": "  freeze for the release  "})
        assert r.status_code == 200, r.text
        assert r.json()["rollout"]["state"] == "paused"
        assert r.json()["rollout"]["pausedReason"] == "freeze for the release"
        assert_error(client.post(f"{base}/rollout/pause", json={"reason": "again"}), 409, "Conflict")
        report = client.get(f"/reports/{owner.name}/campaigns/{created['id']}/devices").json()["deviceList"]
        assert {d["resultReason"] for d in report} == {
            "Rollout paused: freeze for the release",
            "Waiting for wave wave-3",
        }

        server.advance(60)
        r = client.post(f"{base}/rollout/resume")  # a manual pause resumes without a reason
        assert r.status_code == 200, r.text
        assert r.json()["rollout"]["state"] == "running"
        assert r.json()["rollout"]["pausedReason"] is None

        audit = client.get(f"{base}/audit")
        assert audit.status_code == 200, audit.text
        entries = audit.json()
    assert [(e["action"], e["actor"], e["reason"]) for e in entries] == [
        ("pause", owner.username, "freeze for the release"),
        ("resume", owner.username, None),
    ]
    assert entries[0]["at"].startswith(paused_at.date().isoformat())
    assert entries[0]["detail"] == {"currentWave": 0, "wave": "canary", "state": "paused"}


def test_an_auto_add_campaign_plans_its_waves_after_the_layout(
    server: FotaServer, account: tuple[Account, dict[str, str]]
) -> None:
    owner, firmware = account
    imeis = sorted(devices(owner, firmware, 4))
    today = server.now().date()
    with owner.client() as client:
        r = client.post(
            f"/campaigns/firmware/{owner.name}",
            json={
                **body(server, firmware, [imeis[0]], rollout=ROLLOUT),
                "startDate": today.isoformat(),
                "autoAddDevicesFlag": True,
            },
        )
        assert r.status_code == 200, r.text
        campaign_id = r.json()["id"]
        # Queued: the explicit device waits for the plan with the others, in no wave yet.
        assert [w["devices"] for w in r.json()["rollout"]["waves"]] == [0, 0, 0]
        server.advance(0)  # the layout enrols the account's matching devices, then the plan forms the waves
        read = client.get(f"/campaigns/{owner.name}/{campaign_id}").json()
        assert read["status"] == "CampaignScheduled", read
        assert [w["devices"] for w in read["rollout"]["waves"]] == [1, 1, 2]
        late = luhn_imei()
        owner.add_devices([device(firmware, late)])  # a matching device provisioned later is enrolled by auto-add
        server.advance(0)
        read = client.get(f"/campaigns/{owner.name}/{campaign_id}").json()
        report = client.get(f"/reports/{owner.name}/campaigns/{campaign_id}/devices").json()["deviceList"]
    assert [w["devices"] for w in read["rollout"]["waves"]] == [1, 1, 3]
    assert {d["deviceId"]: d["resultReason"] for d in report}[late] == "Waiting for wave wave-3"
