"""SQL repository of device security records (adapters/storage/tables.py `device_security`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, insert, select

from fota.adapters.storage.tables import device_security
from fota.domain.security import DeviceSecurity, SecurityMode


class SqlDeviceSecurityRepository:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def get(self, device_id: str) -> DeviceSecurity | None:
        t = device_security.c
        row = self.c.execute(select(t.mode, t.psk_identity).where(t.device_id == device_id)).first()
        if row is None:
            return None
        return DeviceSecurity(device_id, SecurityMode(row.mode), row.psk_identity)

    def owner_of_identity(self, identity: str) -> str | None:
        t = device_security.c
        value = self.c.execute(select(t.device_id).where(t.psk_identity == identity)).scalar()
        return str(value) if value is not None else None

    def encrypted_key(self, identity: str) -> tuple[str, bytes] | None:
        t = device_security.c
        row = self.c.execute(
            select(t.device_id, t.psk_key_encrypted).where(
                t.psk_identity == identity, t.mode == SecurityMode.PSK.value, t.psk_key_encrypted.is_not(None)
            )
        ).first()
        return (str(row.device_id), bytes(row.psk_key_encrypted)) if row is not None else None

    def put(self, security: DeviceSecurity, encrypted_key: bytes | None, *, at: datetime) -> None:
        # Delete and insert rather than an upsert: portable across SQLite and PostgreSQL, and the caller's
        # transaction makes the pair atomic.
        self.c.execute(delete(device_security).where(device_security.c.device_id == security.device_id))
        self.c.execute(
            insert(device_security).values(
                device_id=security.device_id,
                mode=security.mode.value,
                psk_identity=security.psk_identity,
                psk_key_encrypted=encrypted_key,
                updated_at=at,
            )
        )
