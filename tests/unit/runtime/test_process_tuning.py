"""What `fota serve` sets up for serving: the event loop it picks, the thread pool's size and the collector."""

from __future__ import annotations

import gc
import inspect
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from fastapi import APIRouter, FastAPI
from starlette.testclient import TestClient

from fota.adapters.http.api_route import ApiRoute
from fota.adapters.storage.types import _sqlite_utc
from fota.runtime import collector
from fota.runtime.settings import Role, Settings


def test_a_process_with_a_coap_server_is_the_one_that_keeps_asyncio() -> None:
    assert Settings().serves_coap
    assert not Settings(coap_port=None).serves_coap
    assert not Settings(roles=frozenset({Role.API, Role.ENGINE})).serves_coap


def test_a_plain_endpoint_is_one_coroutine_that_runs_it_on_the_thread_pool() -> None:
    seen: list[str] = []
    router = APIRouter(route_class=ApiRoute)

    @router.get("/where", response_model=dict[str, str])
    def where() -> dict[str, str]:
        """Says which thread ran it."""
        seen.append(threading.current_thread().name)
        return {"thread": threading.current_thread().name}

    app = FastAPI()
    app.include_router(router)
    with TestClient(app) as client:
        loop_thread = client.portal.call(lambda: threading.current_thread().name)  # type: ignore[arg-type]
        answer = client.get("/where")
    assert answer.status_code == 200
    assert seen == [answer.json()["thread"]] and seen[0] != loop_thread
    assert app.openapi()["paths"]["/where"]["get"]["summary"] == "Says which thread ran it."
    # A coroutine to FastAPI, so it checks the answer on the loop instead of going back to the pool for it.
    (route,) = [r for r in router.routes if isinstance(r, ApiRoute)]
    assert inspect.iscoroutinefunction(route.endpoint)
    assert route.endpoint.__wrapped__ is where  # type: ignore[attr-defined]


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_the_collector_leaves_start_up_alone_and_collects_the_young_less_often(restored_collector: None) -> None:
    collector.tune()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (collector.YOUNG_THRESHOLD, *collector.OLDER_THRESHOLDS)


@pytest.mark.parametrize(
    ("stored", "read"),
    [
        ("2026-12-01 18:00:00.000000", datetime(2026, 12, 1, 18, tzinfo=UTC)),
        ("2026-12-01 18:00:00", datetime(2026, 12, 1, 18, tzinfo=UTC)),
        ("2026-12-01T18:00:00.250000", datetime(2026, 12, 1, 18, 0, 0, 250000, tzinfo=UTC)),
        ("2026-12-01T19:00:00+01:00", datetime(2026, 12, 1, 18, tzinfo=UTC)),
        (datetime(2026, 12, 1, 18), datetime(2026, 12, 1, 18, tzinfo=UTC)),
        (datetime(2026, 12, 1, 19, tzinfo=timezone(timedelta(hours=1))), datetime(2026, 12, 1, 18, tzinfo=UTC)),
        (None, None),
    ],
)
def test_sqlite_timestamps_come_back_as_aware_utc(stored: object, read: datetime | None) -> None:
    got = _sqlite_utc(stored)
    assert got == read
    assert got is None or got.tzinfo is UTC
