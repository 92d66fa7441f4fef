"""Check-ins and upgrade steps are written in batches: a burst costs a few transactions, every caller still gets its
own answer after its batch committed, and a fleet behind one address is not refused for checking in at once."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, time, timedelta

import aiocoap
import pytest

from fota.adapters.batching import Batcher
from fota.adapters.lwm2m.refusals import REFUSAL_BURST
from fota.simulator.device import DeviceConfig
from fota.simulator.fleet import Fleet
from tests.conftest import RunningServer
from tests.lwm2m.harness import FROM, MAKE, MODEL, TO, create_campaign_with_sdk, device_report, provision

# Which check-ins share a batch, and when the refusal burst is reached, depend on wall-clock timing: alone on the
# machine.
pytestmark = pytest.mark.serial


def test_a_batch_takes_whatever_arrived_while_the_previous_one_was_written() -> None:
    batches: list[list[str]] = []
    writing = threading.Event()

    def write(items: Sequence[str]) -> list[str]:
        batches.append(list(items))
        if len(batches) == 1:
            assert writing.wait(5)
        if "bad" in items:
            raise ValueError("bad item")
        return [item.upper() for item in items]

    async def scenario() -> None:
        batcher: Batcher[str, str] = Batcher(write)
        first = asyncio.create_task(batcher.submit("a"))
        await asyncio.sleep(0.05)  # "a" is being written alone: nothing waited for company
        rest = [asyncio.create_task(batcher.submit(item)) for item in "bcd"]
        await asyncio.sleep(0.05)
        writing.set()
        assert await first == "A"
        assert [await task for task in rest] == ["B", "C", "D"]

        # A batch that fails as a whole is written again item by item: only the bad item fails.
        results = await asyncio.gather(
            batcher.submit("e"), batcher.submit("bad"), batcher.submit("f"), return_exceptions=True
        )
        assert results[0] == "E" and results[2] == "F"
        assert isinstance(results[1], ValueError)
        await batcher.close()

    asyncio.run(asyncio.wait_for(scenario(), 10))
    assert batches == [["a"], ["b", "c", "d"], ["e", "bad", "f"], ["e"], ["bad"], ["f"]]


async def _post(
    context: aiocoap.Context, uri: str, *, query: tuple[str, ...] = (), payload: bytes = b""
) -> aiocoap.Message:
    # Non-confirmable, so that one client context has them all in flight at once (NSTART limits confirmable ones).
    message = aiocoap.Message(code=aiocoap.POST, transport_tuning=aiocoap.Unreliable, uri=uri, payload=payload)
    message.opt.uri_query = query
    response: aiocoap.Message = await asyncio.wait_for(context.request(message).response, 20)
    return response


def test_many_updates_from_one_address_are_answered_and_a_flood_of_bad_ones_is_still_limited(
    private_server: RunningServer,
) -> None:
    server = private_server
    account = server.new_account()
    _, imeis, _ = provision(server, account, 1)
    base = server.coap_url.rstrip("/")

    async def scenario() -> None:
        context = await aiocoap.Context.create_client_context()
        try:
            registered = await _post(
                context,
                f"{base}/rd",
                query=(f"ep=urn:imei:{imeis[0]}", "lt=300", "lwm2m=1.1", "b=U"),
                payload=b"</1/0>,</3/0>,</5/0>",
            )
            assert registered.code == aiocoap.CREATED
            location = "/".join(registered.opt.location_path)

            # More check-ins in flight from one address than the refusal burst: all of them are answered 2.04.
            answers = await asyncio.gather(*(_post(context, f"{base}/{location}") for _ in range(REFUSAL_BURST + 50)))
            assert Counter(str(a.code) for a in answers) == {str(aiocoap.CHANGED): REFUSAL_BURST + 50}

            # Updates of an unknown registration are refused (4.04) and charged: past the burst the address is
            # told to come back later (5.03 with Max-Age) before its requests reach the database.
            refused = await asyncio.gather(*(_post(context, f"{base}/rd/unknown0") for _ in range(REFUSAL_BURST + 10)))
            assert {str(a.code) for a in refused} <= {str(aiocoap.NOT_FOUND), str(aiocoap.SERVICE_UNAVAILABLE)}
            limited = await _post(context, f"{base}/rd/unknown0")
            assert limited.code == aiocoap.SERVICE_UNAVAILABLE
            assert limited.opt.max_age is not None and limited.opt.max_age > 0
        finally:
            await context.shutdown()

    asyncio.run(asyncio.wait_for(scenario(), 60))


@pytest.mark.parametrize("count", [40])
def test_a_wave_of_check_ins_starts_every_upgrade_once_with_its_history(
    private_server: RunningServer, count: int
) -> None:
    server = private_server
    account = server.new_account()
    firmware, imeis, start = provision(server, account, count)
    now = server.now()
    tomorrow = now.date() + timedelta(days=1)
    opening = datetime.combine(tomorrow, time(2), tzinfo=now.tzinfo)
    campaign_id = create_campaign_with_sdk(account, firmware, imeis, tomorrow, tomorrow + timedelta(days=1), ((2, 6),))
    server.set_clock(opening - timedelta(seconds=30))  # Scheduled, window still closed
    template = DeviceConfig(
        server=server.coap_url,
        make=MAKE,
        model=MODEL,
        firmware=FROM,
        checkin_interval=1.0,
        awake_seconds=8.0,
        reboot_seconds=0.5,
        lifetime=120,
    )

    async def scenario() -> None:
        fleet = Fleet(count, dataclasses.replace(template), imei_start=start, stagger=0.002)
        await fleet.start()
        try:
            await fleet.wait_all(lambda d: d.updates >= 2, 60, "two check-ins each")
            assert all(d.update_executions == 0 for d in fleet.devices)
            await asyncio.to_thread(server.set_clock, opening)
            await fleet.wait_all(lambda d: d.firmware_version == TO and d.registered, 120, "every device on 2.0.0")
            assert [d.update_executions for d in fleet.devices] == [1] * count

            def all_succeeded() -> bool:
                return {r["status"] for r in device_report(account, campaign_id).values()} == {"UpgradeSuccess"}

            deadline = asyncio.get_running_loop().time() + 60
            while not await asyncio.to_thread(all_succeeded):
                assert asyncio.get_running_loop().time() < deadline, "not every device reported UpgradeSuccess"
                await asyncio.sleep(0.5)
        finally:
            await fleet.stop()

    asyncio.run(scenario())
    with account.client() as client:
        for imei in imeis:
            history = client.get(f"/reports/{account.name}/devices/{imei}").json()
            steps = [(h["status"], h["reason"]) for h in history if h["campaignId"] == campaign_id]
            # One claim per device, whatever batch it was written in; the package offer adds no entry of its own.
            assert steps.count(("UpgradeInProgress", "Downloading")) == 1, steps
            assert [s for s, _ in steps][-1] == "UpgradeSuccess", steps
