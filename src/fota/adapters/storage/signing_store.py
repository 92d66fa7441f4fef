"""SQL repository of publishers' signing keys (adapters/storage/tables.py `signing_keys`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from fota.adapters.storage.tables import signing_keys
from fota.domain.signing import SignatureAlgorithm, SigningKey


def _key(row: Any) -> SigningKey:
    return SigningKey(row.key_id, SignatureAlgorithm(row.algorithm), row.public_key_pem, row.created_at, row.revoked_at)


class SqlSigningKeyRepository:
    def __init__(self, connection: Connection) -> None:
        self.c = connection

    def add(self, key: SigningKey) -> None:
        self.c.execute(
            insert(signing_keys).values(
                key_id=key.key_id,
                algorithm=key.algorithm.value,
                public_key_pem=key.public_key_pem,
                created_at=key.created_at,
                revoked_at=key.revoked_at,
            )
        )

    def get(self, key_id: str) -> SigningKey | None:
        row = self.c.execute(select(signing_keys).where(signing_keys.c.key_id == key_id)).first()
        return _key(row) if row else None

    def list(self) -> list[SigningKey]:
        return [_key(r) for r in self.c.execute(select(signing_keys).order_by(signing_keys.c.key_id))]

    def revoke(self, key_id: str, *, at: datetime) -> None:
        self.c.execute(
            update(signing_keys)
            .where(signing_keys.c.key_id == key_id, signing_keys.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
