"""SQL repositories for accounts, API clients, users, tokens, callbacks and the license cancel list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select, update

from fota.adapters.storage.notifications import TOKENS_CHANNEL, notify
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
    return Account(
        r["name"],
        r["license_count"],
        r["licenses_used"],
        r["purchase_type"],
        r["updated_at"],
        bool(r["require_signed_firmware"]),
    )


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
                require_signed_firmware=account.require_signed_firmware,
                created_at=created_at,
                updated_at=account.updated_at,
            )
        )

    def set_license_count(self, name: str, license_count: int, *, at: datetime) -> None:
        self.c.execute(
            update(accounts).where(accounts.c.name == name).values(license_count=license_count, updated_at=at)
        )

    def set_require_signed_firmware(self, name: str, required: bool, *, at: datetime) -> None:
        self.c.execute(
            update(accounts).where(accounts.c.name == name).values(require_signed_firmware=required, updated_at=at)
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

    def remove_client(self, client_id: str) -> None:
        self.c.execute(delete(api_clients).where(api_clients.c.client_id == client_id))

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
        # Every process's token cache drops it when this commits (services/token_cache.py).
        notify(self.c, TOKENS_CHANNEL, token_hash)

    def revoke_subject(self, kind: TokenKind, account_name: str, subject: str, *, at: datetime) -> int:
        revoked = self.c.execute(
            update(tokens)
            .where(
                tokens.c.kind == kind.value,
                tokens.c.account_name == account_name,
                tokens.c.subject == subject,
                tokens.c.revoked_at.is_(None),
            )
            .values(revoked_at=at)
        ).rowcount
        # An empty payload: every process's token cache starts afresh when this commits.
        notify(self.c, TOKENS_CHANNEL)
        return revoked


class SqlCallbackRepository:
    """Registrations read in a transaction are remembered until it ends: `events.record` runs several times in one
    transaction (a campaign's status, then its devices) and needs the row each time."""

    def __init__(self, connection: Connection) -> None:
        self.c = connection
        self._read: dict[str, CallbackRegistration | None] = {}
        self._read_in: object = None

    def _remembered(self) -> dict[str, CallbackRegistration | None]:
        transaction = self.c.get_transaction()  # held in `_read_in`, so a later transaction is never taken for it
        if transaction is not self._read_in:
            self._read, self._read_in = {}, transaction
        return self._read

    def get(self, account_name: str) -> str | None:
        registration = self.registration(account_name)
        return registration.url if registration is not None else None

    def registration(self, account_name: str) -> CallbackRegistration | None:
        return self.registrations([account_name]).get(account_name)

    def registrations(self, account_names: Iterable[str]) -> dict[str, CallbackRegistration]:
        names = sorted(set(account_names))
        remembered = self._remembered()
        unread = [name for name in names if name not in remembered]
        if unread:
            query = select(
                callbacks.c.account_name,
                callbacks.c.url,
                callbacks.c.signing_secret,
                callbacks.c.api_version,
                callbacks.c.username,
                callbacks.c.password,
            ).where(callbacks.c.account_name.in_(unread))
            found = {
                r.account_name: CallbackRegistration(r.url, r.signing_secret, r.api_version, r.username, r.password)
                for r in self.c.execute(query)
            }
            remembered.update((name, found.get(name)) for name in unread)
        return {name: registration for name in names if (registration := remembered[name]) is not None}

    def set_signing_secret(self, account_name: str, secret: str) -> None:
        self._remembered().pop(account_name, None)
        self.c.execute(update(callbacks).where(callbacks.c.account_name == account_name).values(signing_secret=secret))

    def set(
        self,
        account_name: str,
        url: str,
        *,
        at: datetime,
        api_version: str = "v3",
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self._remembered().pop(account_name, None)
        values = {"url": url, "updated_at": at, "api_version": api_version, "username": username, "password": password}
        changed = self.c.execute(
            update(callbacks).where(callbacks.c.account_name == account_name).values(**values)
        ).rowcount
        if not changed:
            self.c.execute(insert(callbacks).values(account_name=account_name, **values))

    def delete(self, account_name: str) -> bool:
        self._remembered().pop(account_name, None)
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
