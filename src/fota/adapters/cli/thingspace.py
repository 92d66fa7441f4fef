"""A small ThingSpace API client for the CLI (OAuth token, M2M session login, FOTA v3 calls with both headers),
plus the connection options and output helpers that `fota campaigns` and `fota devices` share.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Annotated, Any, NoReturn
from urllib.parse import quote

import httpx
import typer
from rich.console import Console
from rich.table import Table

DEFAULT_SERVER = "http://127.0.0.1:8000"
TIMEOUT = 60.0

ServerOption = Annotated[str, typer.Option("--server", envvar="FOTA_SERVER", help="Base URL of the fota server.")]
AccountOption = Annotated[
    str, typer.Option("--account", envvar="FOTA_ACCOUNT", help="Billing account name, e.g. 0000123456-00001.")
]
ClientIdOption = Annotated[
    str, typer.Option("--client-id", envvar="FOTA_CLIENT_ID", help="OAuth client id.", show_default=False)
]
ClientSecretOption = Annotated[
    str, typer.Option("--client-secret", envvar="FOTA_CLIENT_SECRET", help="OAuth client secret.", show_default=False)
]
UsernameOption = Annotated[
    str,
    typer.Option("--username", envvar="FOTA_USERNAME", help="Account user for the M2M session.", show_default=False),
]
PasswordOption = Annotated[
    str, typer.Option("--password", envvar="FOTA_PASSWORD", help="That user's password.", show_default=False)
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the server's JSON data instead of a table.")]

console = Console()
# Errors go to stderr so that `--json` output on stdout stays parseable.
err_console = Console(stderr=True)


class ApiError(Exception):
    """A failure to report as one line and an exit code: 1 for the server's refusals, 2 for setup and transport."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


@dataclass(frozen=True)
class Credentials:
    server: str
    account: str
    client_id: str
    client_secret: str
    username: str
    password: str

    @classmethod
    def of(
        cls, server: str, account: str, client_id: str, client_secret: str, username: str, password: str
    ) -> Credentials:
        given = {
            "--account (FOTA_ACCOUNT)": account,
            "--client-id (FOTA_CLIENT_ID)": client_id,
            "--client-secret (FOTA_CLIENT_SECRET)": client_secret,
            "--username (FOTA_USERNAME)": username,
            "--password (FOTA_PASSWORD)": password,
        }
        missing = [name for name, value in given.items() if not value]
        if missing:
            raise ApiError("missing " + ", ".join(missing), exit_code=2)
        return cls(server.rstrip("/"), account, client_id, client_secret, username, password)


def segment(value: str) -> str:
    """A path parameter, percent-encoded as the SDK does, so an odd id cannot change the route."""
    return quote(value, safe="")


def _describe(response: httpx.Response) -> str:
    """`status code: message` from either error shape the server uses (FOTA/session or OAuth)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and ("errorCode" in body or "errorMessage" in body):
        return f"{response.status_code} {body.get('errorCode')}: {body.get('errorMessage')}"
    if isinstance(body, dict) and "error" in body:
        return f"{response.status_code} {body.get('error')}: {body.get('error_description', '')}"
    return f"{response.status_code} {response.reason_phrase}: {response.text[:200]}"


class ThingSpace:
    """One authenticated conversation with the server; logs in again once if a token expires mid-way."""

    def __init__(self, credentials: Credentials, *, transport: httpx.BaseTransport | None = None) -> None:
        self.credentials = credentials
        self._http = httpx.Client(base_url=credentials.server, timeout=TIMEOUT, transport=transport)
        self._headers: dict[str, str] = {}

    def __enter__(self) -> ThingSpace:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._http.close()

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, url, **kwargs)
        except httpx.TransportError as error:
            raise ApiError(f"cannot reach {self.credentials.server}: {error}", exit_code=2) from None

    def login(self) -> None:
        c = self.credentials
        r = self._send(
            "POST",
            "/api/ts/v1/oauth2/token",
            auth=(c.client_id, c.client_secret),
            data={"grant_type": "client_credentials"},
            headers={"Accept": "application/json"},
        )
        if r.status_code != 200:
            raise ApiError(f"OAuth token request failed: {_describe(r)}")
        bearer = str(r.json()["access_token"])
        r = self._send(
            "POST",
            "/api/m2m/v1/session/login",
            json={"username": c.username, "password": c.password},
            headers={"Authorization": f"Bearer {bearer}", "Accept": "application/json"},
        )
        if r.status_code != 200:
            raise ApiError(f"session login failed: {_describe(r)}")
        self._headers = {
            "Authorization": f"Bearer {bearer}",
            "VZ-M2M-Token": str(r.json()["sessionToken"]),
            "Accept": "application/json",
        }

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """A FOTA v3 call (`path` below /api/fota/v3); the parsed JSON answer, or ApiError."""
        if not self._headers:
            self.login()
        url = f"/api/fota/v3{path}"
        r = self._send(method, url, headers=self._headers, **kwargs)
        if r.status_code == 401:
            # Tokens live an hour (on the server's clock, which may be simulated): a long `watch` outlives them.
            self.login()
            r = self._send(method, url, headers=self._headers, **kwargs)
        if r.status_code >= 400:
            raise ApiError(_describe(r))
        try:
            return r.json()
        except ValueError:
            raise ApiError(f"{method} {url}: the server answered {r.status_code} without JSON") from None

    def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        return self.call("GET", path, params=params)

    def post(self, path: str, body: Any) -> Any:
        return self.call("POST", path, json=body)

    def delete(self, path: str) -> Any:
        return self.call("DELETE", path)

    def pages(self, path: str, cursor: str, params: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """Every page of a paged report: `cursor` (lastSeenDeviceId, lastSeenCampaignId) is echoed back."""
        query = dict(params or {})
        while True:
            page: dict[str, Any] = self.get(path, query)
            yield page
            last = page.get(cursor)
            # A server that repeats its cursor would otherwise keep us here forever.
            if not page.get("hasMoreData") or not last or last == query.get(cursor):
                return
            query[cursor] = str(last)


@contextmanager
def session(credentials: Credentials) -> Iterator[ThingSpace]:
    """A logged-in client; an ApiError anywhere inside becomes a red line and the exit code, never a traceback."""
    try:
        with ThingSpace(credentials) as client:
            client.login()
            yield client
    except ApiError as error:
        fail(error)


def fail(error: ApiError) -> NoReturn:
    err_console.print(error.message, style="red", markup=False, emoji=False, highlight=False, soft_wrap=True)
    raise typer.Exit(error.exit_code)


def connect(server: str, account: str, client_id: str, client_secret: str, username: str, password: str) -> Credentials:
    try:
        return Credentials.of(server, account, client_id, client_secret, username, password)
    except ApiError as error:
        fail(error)


def text(value: Any) -> str:
    """One cell or value for people: time windows as `18-22`, lists joined, absent values empty."""
    if value is None:
        return ""
    if isinstance(value, dict):
        if set(value) == {"startTime", "endTime"}:
            return f"{value['startTime']}-{value['endTime']}"
        return ", ".join(f"{k}={text(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(text(v) for v in value)
    return str(value)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2))


def print_fields(body: dict[str, Any]) -> None:
    """`key  value` lines for one object, keys padded to one width (never cut, as `fota admin` prints them)."""
    width = max((len(str(k)) for k in body), default=0)
    for key, value in body.items():
        typer.echo(f"{key:<{width}}  {text(value)}")


def print_table(headers: list[str], rows: list[list[Any]], title: str | None = None) -> None:
    table = Table(*headers, title=title)
    for column in table.columns:
        column.overflow = "fold"
    for row in rows:
        table.add_row(*[text(v) for v in row])
    console.print(table)
