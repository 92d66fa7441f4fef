"""The outbox against the outbound URL policy: an event whose registered URL now resolves inside (DNS rebinding) is
never handed to the sender, for every kind of internal address, and is recorded as a refused, retried attempt.
A fake resolver and a recording sender: nothing is contacted at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path

import pytest

from fota.domain.outbound import AllowList, Target
from fota.runtime import Settings, build
from fota.services import admin, callbacks
from fota.services.outbound import OutboundPolicy
from fota.services.outbox import REFUSED, deliver_due
from fota.services.ports import OutboxEvent

HOST = "hooks.tenant.example"


class Recorder:
    def __init__(self) -> None:
        self.targets: list[Target] = []

    def send(self, target: Target, body: bytes, headers: Mapping[str, str]) -> tuple[int | None, str | None]:
        self.targets.append(target)
        return 204, None


@pytest.mark.parametrize("inside", ["127.0.0.1", "10.0.0.1", "169.254.169.254", "::1", "fc00::1", "fe80::1"])
def test_an_event_to_a_name_now_resolving_inside_is_never_sent(tmp_path: Path, inside: str) -> None:
    services = build(
        Settings(database_url=f"sqlite:///{tmp_path / 'fota.db'}", coap_port=None, simulated_clock=True)
    ).services
    answers = {HOST: ["93.184.216.34"]}
    outbound = OutboundPolicy(allow=AllowList(), resolver=lambda host, port: answers[host])
    account = "0000000001-00001"
    admin.create_account(uow=services.uow(), clock=services.clock, name=account, license_count=1, purchase_type=None)
    url = f"https://{HOST}/hook"
    callbacks.register_callback(
        uow=services.uow(), clock=services.clock, outbound=outbound, account_name=account, url=url
    )
    with services.uow() as uow:
        uow.outbox.add(
            [OutboxEvent(str(uuid.uuid4()), account, "CampaignStatusChanged", {"x": 1}, services.clock.now())]
        )
        uow.commit()

    answers[HOST] = [inside]
    sender = Recorder()
    report = deliver_due(uow_factory=services.uow, clock=services.clock, sender=sender, outbound=outbound)
    assert sender.targets == [], "the sender is never reached"
    assert (report.attempted, report.refused, report.retrying, report.delivered) == (1, 1, 1, 0)
    (attempt,) = callbacks.delivery_log(uow=services.reader(), account_name=account, before_id=None, limit=10)
    assert attempt.status_code is None and attempt.error is not None and attempt.error.startswith(REFUSED)
    assert inside in attempt.error

    answers[HOST] = ["93.184.216.34"]  # pointed back outside: the retry goes out, to the address just checked
    assert services.simulated_clock is not None
    services.simulated_clock.advance(3600)
    report = deliver_due(uow_factory=services.uow, clock=services.clock, sender=sender, outbound=outbound)
    assert report.delivered == 1 and [t.addresses for t in sender.targets] == [("93.184.216.34",)]
