"""The download places (adapters/delivery/gate.py) on their own: a download under way keeps its place, a start
waits in line for one and gets it as soon as one frees, gives up after its wait, and a reservation becomes the
download's place once it has a token."""

from __future__ import annotations

import asyncio

import pytest

from fota.adapters.delivery import gate as gate_module
from fota.adapters.delivery.gate import DownloadGate
from fota.domain.admission import DownloadLimit


def gate(limit: int) -> DownloadGate:
    return DownloadGate(limit, limit=DownloadLimit(limit, initial=limit, floor=1))


def test_a_download_under_way_keeps_its_place_when_the_limit_is_full() -> None:
    places = gate(2)
    assert places.admit("a") and places.admit("b")
    assert not places.admit("c")
    assert places.admit("a")  # its next block
    places.finished("a")
    assert places.admit("c")
    assert places.refused == 1


def test_a_start_waits_in_line_and_takes_the_place_that_frees() -> None:
    asyncio.run(_test_a_start_waits_in_line_and_takes_the_place_that_frees())


async def _test_a_start_waits_in_line_and_takes_the_place_that_frees() -> None:
    places = gate(1)
    assert await places.reserve("start:1", timeout=1.0)
    waiting = asyncio.create_task(places.reserve("start:2", timeout=60.0))
    await asyncio.sleep(0)  # let it queue
    assert places.waiting == 1
    assert not places.admit("someone-else")  # a free place goes to the line first, and there is none
    places.bind("start:1", "token-1")
    assert places.admit("token-1")
    places.finished("token-1")
    assert await waiting
    assert places.waiting == 0 and places.active == 1


def test_a_start_gives_up_after_its_wait_and_leaves_the_line() -> None:
    asyncio.run(_test_a_start_gives_up_after_its_wait_and_leaves_the_line())


async def _test_a_start_gives_up_after_its_wait_and_leaves_the_line() -> None:
    places = gate(1)
    assert places.admit("token-1")
    assert not await places.reserve("start:2", timeout=0.01)
    assert places.waiting == 0
    places.finished("token-1")
    assert places.admit("token-3")


def test_a_released_reservation_frees_its_place() -> None:
    asyncio.run(_test_a_released_reservation_frees_its_place())


async def _test_a_released_reservation_frees_its_place() -> None:
    places = gate(1)
    assert await places.reserve("start:1", timeout=1.0)
    places.release("start:1")
    assert places.active == 0
    assert places.admit("token-2")


def test_a_repeat_of_a_finished_downloads_last_block_takes_no_place_for_a_minute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(gate_module.time, "monotonic", lambda: now[0])
    places = gate(1)
    assert places.admit("a")
    places.completed("a")
    assert places.admit("b")  # the place went to the next download
    assert places.admit("a")  # its last block asked again: served, beside the limit
    assert places.active == 1 and places.refused == 0
    now[0] += gate_module.IDLE_SECONDS - 1
    assert places.admit("b") and places.admit("a")
    now[0] += 2
    assert places.admit("b")
    assert not places.admit("a")  # a minute on, it is a new download at a full limit
