"""`fota campaigns list` and `show` list campaigns created through ThingSpace v2 like v3 ones: one campaign table."""

from __future__ import annotations

from datetime import timedelta

import httpx

from tests.cli.test_admin_cli import ok_json
from tests.cli.test_campaign_cli import Fleet


def test_v2_campaigns_are_listed_and_shown_like_v3_ones(fleet: Fleet) -> None:
    v3 = fleet.create(fleet.devices[:2])
    start = fleet.today + timedelta(days=3)
    body = {
        "softwareName": fleet.firmware["firmwareName"],
        "softwareFrom": fleet.firmware["firmwareFrom"],
        "softwareTo": fleet.firmware["firmwareTo"],
        "distributionType": "LWM2M",
        "startDate": start.isoformat(),
        "endDate": (start + timedelta(days=2)).isoformat(),
        "deviceList": fleet.devices[2:],
        "campaignName": "made in v2",
    }
    headers = fleet.account.headers()
    r = httpx.post(f"{fleet.server.base_url}/api/fota/v2/campaigns/{fleet.acc}", json=body, headers=headers)
    assert r.status_code == 200, r.text
    v2 = r.json()

    listed = ok_json(fleet.cli("campaigns", "list", "--json"))
    assert {c["id"]: c["status"] for c in listed} == {v3["id"]: "CampaignQueued", v2["id"]: "CampaignQueued"}
    shown = ok_json(fleet.cli("campaigns", "show", v2["id"], "--json"))
    assert (shown["campaign"]["campaignName"], shown["totalDevice"]) == ("made in v2", 2)
    assert shown["deviceCounts"] == {"UpgradePending": 2}
