"""Schemathesis against the running server's `/openapi.json`, authenticated, with every operation generated.

Each generated request carries real credentials most of the time (an account's Bearer + VZ-M2M-Token on ThingSpace
routes, the admin token on `/admin`) and names that account and its real campaign and device often enough to get
past the authorisation gate into the handlers. Checks: no 5xx, the status code is documented, the content type and
the body conform to the schema.

CI runs it bounded on SQLite (`FOTA_SCHEMATHESIS_EXAMPLES`, default 8 per operation and mode); `make soak` runs it
with thousands of requests on both backends (`FOTA_SCHEMATHESIS_BACKENDS=sqlite,postgresql`). The server's clock is
simulated and kept still (`POST /admin/v1/clock` is sent with `advanceSeconds: 0`): tokens live 3600 s on it.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import Account, RunningServer, _stop_and_cleanup, start_server
from tests.faults.figures import record
from tests.lwm2m.harness import create_campaign_with_sdk, provision

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("FOTA_SCHEMATHESIS_EXAMPLES", "8"))
SCHEMATHESIS_BACKENDS = [b for b in os.environ.get("FOTA_SCHEMATHESIS_BACKENDS", "sqlite").split(",") if b]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Valid sessions kept aside for generated logouts: a logout of the suite's own session would turn everything after
# it into 401s.
SPARE_SESSIONS = 5


@dataclass
class Fixture:
    server: RunningServer
    account: Account
    headers: dict[str, str]
    campaign_id: str
    imei: str
    firmware_name: str
    spare_sessions: list[tuple[str, str]]
    key_id: str
    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    unsatisfiable: list[str] = field(default_factory=list)


@pytest.fixture(scope="module", params=SCHEMATHESIS_BACKENDS)
def fuzz(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    running = start_server(request.param, tmp_path_factory.mktemp(f"schemathesis-{request.param}"))
    try:
        account = running.new_account(license_count=50)
        firmware, imeis, _ = provision(running, account, 3, image_size=1024)
        today = running.now().date()
        campaign_id = create_campaign_with_sdk(
            account, firmware, imeis[:1], today + timedelta(days=2), today + timedelta(days=5)
        )
        bearer = account.token()
        spare = [(bearer, account.session(bearer)) for _ in range(SPARE_SESSIONS)]
        # A registered publisher key, so generated signing-key reads and revocations reach a real one.
        public = ed25519.Ed25519PrivateKey.generate().public_key()
        pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        key = running.admin.post("/signing-keys", json={"keyId": "fuzz-publisher", "publicKey": pem.decode()})
        assert key.status_code == 201, key.text
        fixture = Fixture(
            running,
            account,
            {"Authorization": f"Bearer {bearer}", "VZ-M2M-Token": account.session(bearer)},
            campaign_id,
            imeis[1],
            firmware["firmwareName"],
            spare,
            "fuzz-publisher",
        )
        yield fixture
        record(
            f"schemathesis {request.param}",
            examples_per_operation_and_mode=EXAMPLES,
            requests=sum(fixture.requests.values()),
            operations=len({label.rsplit(" [", 1)[0] for label in fixture.requests}),
            statuses={str(k): v for k, v in sorted(fixture.statuses.items())},
            not_generated=fixture.unsatisfiable,
        )
    finally:
        _stop_and_cleanup(running)


def _often(value: Any) -> bool:
    """Deterministic coin from a generated value: about three in four cases use the real resource instead."""
    return hashlib.sha256(repr(value).encode()).digest()[0] % 4 != 0


def prepare(case: Any, fuzz: Fixture) -> None:
    """Real credentials and, often, real resource names in place of generated ones."""
    path = case.operation.path
    params = case.path_parameters if case.path_parameters is not None else {}
    headers = dict(case.headers or {})
    for name in list(headers):
        if name.lower() in ("authorization", "vz-m2m-token"):
            del headers[name]
    if path.startswith("/admin/"):
        headers["Authorization"] = f"Bearer {fuzz.server.admin_token}"
        if "account" in params and _often(params["account"]):
            params["account"] = fuzz.account.name
        if "firmware_name" in params and _often(params["firmware_name"]):
            params["firmware_name"] = fuzz.firmware_name
        if "device_id" in params and _often(params["device_id"]):
            params["device_id"] = fuzz.imei
        if "key_id" in params and _often(params["key_id"]):
            params["key_id"] = fuzz.key_id
        if path == "/admin/v1/clock" and case.method.upper() == "POST":
            case.body = {"advanceSeconds": 0}  # keep the clock still: tokens age on it
    elif path == "/api/ts/v1/oauth2/token":
        if _often(case.body):
            secret = f"{fuzz.account.client_id}:{fuzz.account.client_secret}"
            headers["Authorization"] = "Basic " + base64.b64encode(secret.encode()).decode()
    elif path == "/api/m2m/v1/session/logout":
        if fuzz.spare_sessions:
            bearer, session = fuzz.spare_sessions.pop()
            headers.update({"Authorization": f"Bearer {bearer}", "VZ-M2M-Token": session})
    elif path == "/api/m2m/v1/session/login":
        headers["Authorization"] = fuzz.headers["Authorization"]
    elif path.startswith("/api/"):
        headers.update(fuzz.headers)
        if "account" in params and _often(params["account"]):
            params["account"] = fuzz.account.name
        for name in ("campaign_id", "upgrade_id"):  # a v1 upgrade is a campaign
            if name in params and _often(params[name]):
                params[name] = fuzz.campaign_id
        if path == "/api/fota/v1/upgrades" and isinstance(case.body, dict) and _often(case.body):
            case.body["accountName"] = fuzz.account.name  # v1 names the account in the body
        if "device_id" in params and _often(params["device_id"]):
            params["device_id"] = fuzz.imei
    case.headers = headers
    if case.path_parameters is not None:
        case.path_parameters = params


def _runner(fuzz: Fixture, operation: Any, mode: GenerationMode, label: str) -> Any:
    # Pytest's integration cannot be used here (schemathesis 4.32's lazy loader reads a node attribute pytest 9
    # no longer has), so each operation is driven by Hypothesis directly.
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: one failing example is enough to report
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        prepare(case, fuzz)
        response = case.call(base_url=fuzz.server.base_url, timeout=30)
        fuzz.requests[label] += 1
        fuzz.statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)

    return run


def test_generated_requests_get_documented_answers(fuzz: Fixture) -> None:
    """Every operation, positive and negative data; all failures are collected and reported together."""
    api = schemathesis.openapi.from_url(f"{fuzz.server.base_url}/openapi.json")
    failures: dict[str, str] = {}
    operations = []
    for result in api.get_all_operations():
        assert isinstance(result, Ok), f"the schema is invalid: {result}"
        operations.append(result.ok())
    assert len(operations) >= 40 + 18, "the whole API is generated, v1 included"
    assert sum(o.path.startswith("/api/fota/v2/") for o in operations) >= 32, "every v2 operation is generated"
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            label = f"{operation.label} [{mode.value}]"

            run = _runner(fuzz, operation, mode, label)
            try:
                run()
            except Unsatisfiable:
                # Negative data for an operation whose only inputs are headers we replace: nothing to generate.
                fuzz.unsatisfiable.append(label)
            except (Exception, BaseExceptionGroup) as error:  # a FailureGroup, or Hypothesis wrapping several
                failures[label] = str(error)[:3000]
    assert not failures, "\n\n".join(f"== {label}\n{text}" for label, text in failures.items())


def test_server_survived(fuzz: Fixture) -> None:
    """After the generated traffic the server is alive and the account's own tokens still work."""
    assert fuzz.server.process.poll() is None, Path(fuzz.server.log_path).read_text()[-4000:]
    r = httpx.get(f"{fuzz.server.base_url}/api/fota/v3/subscriptions/{fuzz.account.name}", headers=fuzz.headers)
    assert r.status_code == 200, r.text
