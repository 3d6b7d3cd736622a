"""Operations run against exactly one revision of an org's metadata.

On PostgreSQL a metadata apply holds an org-wide advisory lock exclusively for its whole
transaction, and every record read or write takes the same lock shared when it looks up
the current revision (one statement). So no write runs half on the old tables and half on
the new ones: it waits for the apply, then reads the new revision. SQLite gets the same
from its single writer lock.
"""

from __future__ import annotations

import zlib

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rapport.metadata.revisions import current_number, latest_number_query


def _key(schema: str | None) -> int:
    return zlib.crc32(f"rapport.metadata.{schema}".encode())


def lock_for_change(conn: Connection, schema: str | None) -> None:
    """Serialise metadata changes of one org, and keep its records' operations out meanwhile."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.literal(_key(schema)))))


_SHARED_LOCK_AND_NUMBER = sa.select(sa.func.pg_advisory_xact_lock_shared(sa.bindparam("lock_key", type_=sa.BigInteger)),
                                    latest_number_query().scalar_subquery())


def revision_in_use(conn: Connection, schema: str | None) -> int:
    """The current revision number, held (shared) until this transaction ends."""
    if conn.dialect.name != "postgresql":
        return current_number(conn)
    row = conn.execute(_SHARED_LOCK_AND_NUMBER, {"lock_key": _key(schema)}).one()
    return int(row[1] or 0)
