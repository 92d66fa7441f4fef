"""Verizon SDK clients pointed at a fota server (contract §1.3, method A: a Configuration subclass).

`clone_with` and `from_environment` build a plain Configuration and lose the override, so neither is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from verizon.configuration import Configuration, Environment, Server
from verizon.http.auth.thingspace_oauth import ThingspaceOauthCredentials
from verizon.http.auth.vz_m2m_token import VZM2mTokenCredentials
from verizon.models.log_in_request import LogInRequest
from verizon.models.oauth_token import OauthToken
from verizon.verizon_client import VerizonClient

if TYPE_CHECKING:
    from tests.conftest import Account


class LocalConfiguration(Configuration):
    """A Configuration whose base URIs come from its own table instead of the fixed environments."""

    def __init__(self, base_uris: dict[Server, str], **kwargs: object) -> None:
        self._base_uris = base_uris  # get_base_uri may be used while the parent initialises
        super().__init__(**kwargs)

    def get_base_uri(self, server: Server = Server.THINGSPACE) -> str:
        return self._base_uris[server]


def local_base_uris(base_url: str) -> dict[Server, str]:
    """Every server group on `base_url`, keeping the production path (e.g. `/api/fota/v3`)."""
    base = base_url.rstrip("/")
    production = Configuration.environments[Environment.PRODUCTION]
    return {server: base + urlsplit(url).path.rstrip("/") for server, url in production.items()}


def sdk_client(
    base_url: str,
    client_id: str,
    client_secret: str,
    vz_m2m_token: str | None = None,
    oauth_token: OauthToken | None = None,
) -> VerizonClient:
    """A VerizonClient on `base_url`; pass `oauth_token` to reuse a token instead of fetching a new one."""
    config = LocalConfiguration(
        local_base_uris(base_url),
        thingspace_oauth_credentials=ThingspaceOauthCredentials(
            oauth_client_id=client_id, oauth_client_secret=client_secret, oauth_token=oauth_token
        ),
        vz_m2m_token_credentials=VZM2mTokenCredentials(vz_m2m_token=vz_m2m_token) if vz_m2m_token else None,
    )
    return VerizonClient(config=config)


def sdk_session(account: Account) -> VerizonClient:
    """Token and session login through the SDK; returns a new client that carries the VZ-M2M token."""
    base_url = account.server.base_url
    client = sdk_client(base_url, account.client_id, account.client_secret)
    token = client.thingspace_oauth.fetch_token()
    client = sdk_client(base_url, account.client_id, account.client_secret, oauth_token=token)
    login = client.session_management.start_connectivity_management_session(
        LogInRequest(username=account.username, password=account.password)
    )
    session_token = login.body.session_token
    assert session_token, f"login returned no sessionToken: {login.text}"
    return sdk_client(base_url, account.client_id, account.client_secret, vz_m2m_token=session_token, oauth_token=token)


def session_token_of(client: VerizonClient) -> str:
    """The VZ-M2M token a client was built with."""
    return str(client.config.vz_m2m_token_credentials.vz_m2m_token)
