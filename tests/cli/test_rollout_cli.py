"""`fota campaigns pause|resume|approve|audit` and the wave table of `show` and `watch`, through typer's CliRunner
against a live server, checked against the API."""

from __future__ import annotations

from tests.cli.test_admin_cli import failed, ok_fields, ok_json, ok_table, row
from tests.cli.test_campaign_cli import Fleet

ROLLOUT = {"waves": [{"name": "canary", "devices": 1}, {"percent": 100}], "advance": {"soakMinutes": 30}}


def test_pause_resume_and_the_audit(fleet: Fleet) -> None:
    campaign_id = str(fleet.create(fleet.devices, rollout=ROLLOUT)["id"])

    shown = ok_table(fleet.cli("campaigns", "show", campaign_id))
    assert "rollout running" in shown
    assert row(shown, "> canary")[1:] == ["1", "0", "0", "0", "open"]
    assert row(shown, "wave-2")[1:] == ["3", "0", "0", "0", "waiting"]

    paused = ok_fields(fleet.cli("campaigns", "pause", campaign_id, "--reason", "bad batch reported"))
    assert paused == {"id": campaign_id, "rollout": "paused", "pausedReason": "bad batch reported"}
    read = fleet.get(f"/campaigns/{fleet.acc}/{campaign_id}")
    assert (read["rollout"]["state"], read["rollout"]["pausedReason"]) == ("paused", "bad batch reported")
    failed(fleet.cli("campaigns", "pause", campaign_id), 1, "409", "already paused")
    frame = ok_table(fleet.cli("campaigns", "watch", campaign_id, "--once"))
    assert "rollout paused  bad batch reported" in frame
    assert row(frame, "> canary")[-1] == "open"

    resumed = ok_json(fleet.cli("campaigns", "resume", campaign_id, "--reason", "batch is fine", "--json"))
    assert resumed["rollout"]["state"] == "running"
    failed(fleet.cli("campaigns", "approve", campaign_id), 1, "409", "no wave waits for approval")

    audit = ok_json(fleet.cli("campaigns", "audit", campaign_id, "--json"))
    assert audit == fleet.get(f"/campaigns/{fleet.acc}/{campaign_id}/audit")
    assert [(e["action"], e["actor"], e["reason"]) for e in audit] == [
        ("pause", fleet.account.username, "bad batch reported"),
        ("resume", fleet.account.username, "batch is fine"),
    ]
    table = ok_table(fleet.cli("campaigns", "audit", campaign_id))
    pause = next(line for line in table.splitlines() if "│ pause" in line)
    assert fleet.account.username in pause and "bad batch reported" in pause


def test_a_campaign_without_a_rollout_has_no_waves_to_pause(fleet: Fleet) -> None:
    campaign_id = str(fleet.create(fleet.devices)["id"])
    assert "rollout" not in ok_table(fleet.cli("campaigns", "show", campaign_id))
    failed(fleet.cli("campaigns", "pause", campaign_id, "--reason", "x"), 1, "409", "no rollout")
    failed(fleet.cli("campaigns", "audit", "no-such-campaign"), 1, "404")
    assert ok_json(fleet.cli("campaigns", "audit", campaign_id, "--json")) == []
