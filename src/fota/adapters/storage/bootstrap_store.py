"""SQL repository of devices' LwM2M bootstrap settings (adapters/storage/tables.py `device_bootstrap`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from fota.adapters.storage.tables import device_bootstrap
from fota.domain.bootstrap import BootstrapSettings, ManagementAccount
from fota.domain.security import SecurityMode


def _settings(row: Any) -> BootstrapSettings:
    account = ManagementAccount(
        server_uri=row.server_uri,
        security_mode=SecurityMode(row.security_mode),
        short_server_id=row.short_server_id,
        lifetime=row.lifetime,
        binding=row.binding,
        disable_timeout=row.disable_timeout,
        retry_count=row.retry_count,
        retry_timer=row.retry_timer,
        sequence_delay=row.sequence_delay,
        sequence_retry_count=row.sequence_retry_count,
    )
    return BootstrapSettings(
        device_id=row.device_id,
        bootstrap_mode=SecurityMode(row.bootstrap_mode),
        bootstrap_identity=row.bootstrap_psk_identity,
        account=account,
        bootstraps=row.bootstraps,
        last_bootstrap_at=row.last_bootstrap_at,
    )


class SqlBootstrapRepository:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def get(self, device_id: str) -> BootstrapSettings | None:
        row = self.c.execute(select(device_bootstrap).where(device_bootstrap.c.device_id == device_id)).first()
        return _settings(row) if row is not None else None

    def owner_of_identity(self, identity: str) -> str | None:
        t = device_bootstrap.c
        value = self.c.execute(select(t.device_id).where(t.bootstrap_psk_identity == identity)).scalar()
        return str(value) if value is not None else None

    def encrypted_key(self, identity: str) -> tuple[str, bytes] | None:
        t = device_bootstrap.c
        row = self.c.execute(
            select(t.device_id, t.bootstrap_psk_key_encrypted).where(
                t.bootstrap_psk_identity == identity,
                t.bootstrap_mode == SecurityMode.PSK.value,
                t.bootstrap_psk_key_encrypted.is_not(None),
            )
        ).first()
        return (str(row.device_id), bytes(row.bootstrap_psk_key_encrypted)) if row is not None else None

    def put(self, settings: BootstrapSettings, encrypted_key: bytes | None, *, at: datetime) -> None:
        # Delete and insert (portable across SQLite and PostgreSQL; the caller's transaction makes it atomic), keeping
        # the bootstrap count of the row it replaces.
        account = settings.account
        self.c.execute(delete(device_bootstrap).where(device_bootstrap.c.device_id == settings.device_id))
        self.c.execute(
            insert(device_bootstrap).values(
                device_id=settings.device_id,
                bootstrap_mode=settings.bootstrap_mode.value,
                bootstrap_psk_identity=settings.bootstrap_identity,
                bootstrap_psk_key_encrypted=encrypted_key,
                server_uri=account.server_uri,
                security_mode=account.security_mode.value,
                short_server_id=account.short_server_id,
                lifetime=account.lifetime,
                binding=account.binding,
                disable_timeout=account.disable_timeout,
                retry_count=account.retry_count,
                retry_timer=account.retry_timer,
                sequence_delay=account.sequence_delay,
                sequence_retry_count=account.sequence_retry_count,
                bootstraps=settings.bootstraps,
                last_bootstrap_at=settings.last_bootstrap_at,
                updated_at=at,
            )
        )

    def delete(self, device_id: str) -> bool:
        return bool(self.c.execute(delete(device_bootstrap).where(device_bootstrap.c.device_id == device_id)).rowcount)

    def bootstrapped(self, device_id: str, *, at: datetime) -> None:
        t = device_bootstrap.c
        self.c.execute(
            update(device_bootstrap)
            .where(t.device_id == device_id)
            .values(bootstraps=t.bootstraps + 1, last_bootstrap_at=at)
        )
