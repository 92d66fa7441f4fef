"""SQL repositories for accounts, API clients, users, tokens, callbacks and the license cancel list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select, update

from fota.adapters.storage.tables import (
    accounts,
    api_clients,
    callbacks,
    license_cancel_candidates,
    tokens,
    users,
)
from fota.domain.accounts import Account, Token, TokenKind
from fota.services.ports import CallbackRegistration


def _account(row: object) -> Account:
    r = row._mapping  # type: ignore[attr-defined]
    return Account(r["name"], r["license_count"], r["licenses_used"], r["purchase_type"], r["updated_at"])


class SqlAccountRepository:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def get(self, name: str) -> Account | None:
        row = self.c.execute(select(accounts).where(accounts.c.name == name)).first()
        return _account(row) if row else None

    def lock(self, name: str) -> Account | None:
        # FOR NO KEY UPDATE: foreign-key checks of concurrent inserts (KEY SHARE) do not conflict with it, so two
        # campaign creations cannot deadlock on the account row they both reference.
        row = self.c.execute(select(accounts).where(accounts.c.name == name).with_for_update(key_share=True)).first()
        return _account(row) if row else None

    def add(self, account: Account, *, created_at: datetime) -> None:
        self.c.execute(
            insert(accounts).values(
                name=account.name,
                license_count=account.license_count,
                licenses_used=account.licenses_used,
                purchase_type=account.purchase_type,
                created_at=created_at,
                updated_at=account.updated_at,
            )
        )

    def set_license_count(self, name: str, license_count: int, *, at: datetime) -> None:
        self.c.execute(
            update(accounts).where(accounts.c.name == name).values(license_count=license_count, updated_at=at)
        )

    def add_licenses_used(self, name: str, delta: int, *, at: datetime) -> None:
        if delta:
            self.c.execute(
                update(accounts)
                .where(accounts.c.name == name)
                .values(licenses_used=accounts.c.licenses_used + delta, updated_at=at)
            )


class SqlCredentialRepository:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def add_client(self, account_name: str, client_id: str, secret_hash: str, *, at: datetime) -> None:
        self.c.execute(
            insert(api_clients).values(
                client_id=client_id, account_name=account_name, secret_hash=secret_hash, created_at=at
            )
        )

    def client(self, client_id: str) -> tuple[str, str] | None:
        row = self.c.execute(
            select(api_clients.c.account_name, api_clients.c.secret_hash).where(api_clients.c.client_id == client_id)
        ).first()
        return (row[0], row[1]) if row else None

    def add_user(self, account_name: str, username: str, password_hash: str, *, at: datetime) -> None:
        self.c.execute(
            insert(users).values(
                account_name=account_name,
                username=username,
                password_hash=password_hash,
                created_at=at,
                updated_at=at,
            )
        )

    def user_password_hash(self, account_name: str, username: str) -> str | None:
        value = self.c.execute(
            select(users.c.password_hash).where(users.c.account_name == account_name, users.c.username == username)
        ).scalar()
        return str(value) if value is not None else None

    def set_user_password(self, account_name: str, username: str, password_hash: str, *, at: datetime) -> None:
        self.c.execute(
            update(users)
            .where(users.c.account_name == account_name, users.c.username == username)
            .values(password_hash=password_hash, updated_at=at)
        )


class SqlTokenRepository:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def add(self, token_hash: str, token: Token) -> None:
        self.c.execute(
            insert(tokens).values(
                token_hash=token_hash,
                kind=token.kind.value,
                account_name=token.account_name,
                subject=token.subject,
                issued_at=token.issued_at,
                expires_at=token.expires_at,
                revoked_at=token.revoked_at,
            )
        )

    def get(self, token_hash: str) -> Token | None:
        row = self.c.execute(select(tokens).where(tokens.c.token_hash == token_hash)).first()
        if row is None:
            return None
        r = row._mapping
        return Token(
            TokenKind(r["kind"]),
            r["account_name"],
            r["subject"],
            r["issued_at"],
            r["expires_at"],
            r["revoked_at"],
        )

    def revoke(self, token_hash: str, *, at: datetime) -> None:
        self.c.execute(update(tokens).where(tokens.c.token_hash == token_hash).values(revoked_at=at))

    def purge_expired(self, before: datetime) -> int:
        return self.c.execute(delete(tokens).where(tokens.c.expires_at < before)).rowcount


class SqlCallbackRepository:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def get(self, account_name: str) -> str | None:
        value = self.c.execute(select(callbacks.c.url).where(callbacks.c.account_name == account_name)).scalar()
        return str(value) if value is not None else None

    def registration(self, account_name: str) -> CallbackRegistration | None:
        return self.registrations([account_name]).get(account_name)

    def registrations(self, account_names: Iterable[str]) -> dict[str, CallbackRegistration]:
        names = sorted(set(account_names))
        if not names:
            return {}
        query = select(
            callbacks.c.account_name, callbacks.c.url, callbacks.c.signing_secret, callbacks.c.version
        ).where(callbacks.c.account_name.in_(names))
        return {r.account_name: CallbackRegistration(r.url, r.signing_secret, r.version) for r in self.c.execute(query)}

    def set_signing_secret(self, account_name: str, secret: str) -> None:
        self.c.execute(update(callbacks).where(callbacks.c.account_name == account_name).values(signing_secret=secret))

    def set(self, account_name: str, url: str, *, at: datetime, version: str = "v3") -> None:
        changed = self.c.execute(
            update(callbacks)
            .where(callbacks.c.account_name == account_name)
            .values(url=url, updated_at=at, version=version)
        ).rowcount
        if not changed:
            self.c.execute(insert(callbacks).values(account_name=account_name, url=url, updated_at=at, version=version))

    def delete(self, account_name: str) -> bool:
        return bool(self.c.execute(delete(callbacks).where(callbacks.c.account_name == account_name)).rowcount)


class SqlLicenseCancelListRepository:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def page(self, account_name: str, *, offset: int, limit: int) -> list[str]:
        return list(
            self.c.execute(
                select(license_cancel_candidates.c.device_id)
                .where(license_cancel_candidates.c.account_name == account_name)
                .order_by(license_cancel_candidates.c.device_id)
                .offset(offset)
                .limit(limit)
            ).scalars()
        )

    def count(self, account_name: str) -> int:
        return int(
            self.c.execute(
                select(func.count()).where(license_cancel_candidates.c.account_name == account_name)
            ).scalar_one()
        )

    def last_change(self, account_name: str) -> datetime | None:
        value = self.c.execute(
            select(func.max(license_cancel_candidates.c.added_at)).where(
                license_cancel_candidates.c.account_name == account_name
            )
        ).scalar()
        return value if isinstance(value, datetime) else None

    def add(self, account_name: str, device_ids: Sequence[str], *, at: datetime) -> None:
        present = set(self.page(account_name, offset=0, limit=10**9))
        rows = [{"account_name": account_name, "device_id": d, "added_at": at} for d in device_ids if d not in present]
        if rows:
            self.c.execute(insert(license_cancel_candidates), rows)

    def clear(self, account_name: str) -> int:
        return self.c.execute(
            delete(license_cancel_candidates).where(license_cancel_candidates.c.account_name == account_name)
        ).rowcount
