"""Accounts and their license pool; credentials and tokens that act for an account."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from fota.domain.errors import InvalidRequest

ACCOUNT_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_account_name(name: str) -> str:
    if not ACCOUNT_NAME_PATTERN.fullmatch(name):
        raise InvalidRequest(
            f"accountName {name!r} must be 1-64 letters, digits, '.', '_' or '-', such as 0000123456-00001"
        )
    return name


@dataclass(frozen=True)
class Account:
    name: str
    license_count: int
    licenses_used: int
    purchase_type: str | None
    updated_at: datetime
    require_signed_firmware: bool = False  # campaigns accept only images with a verified publisher signature

    @property
    def licenses_free(self) -> int:
        return max(0, self.license_count - self.licenses_used)


class TokenKind(StrEnum):
    ACCESS = "access"
    SESSION = "session"
    CONSOLE = "console"  # a signed-in web console user (cookie)


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    account_name: str
    subject: str
    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    def valid_at(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at
