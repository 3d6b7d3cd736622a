"""Number sequences for value-generating fields (autonumbers).

PostgreSQL: one real ``SEQUENCE`` per field, so concurrent inserts never queue on a
counter row (numbers may have gaps after a rollback, as in Salesforce). SQLite has a single
writer anyway, so a row per sequence in ``_sequences`` is as fast and keeps numbers in
the same transaction.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rapport.platform.tables import sequences


def sequence_key(object_name: str, field_name: str) -> str:
    return f"{object_name}.{field_name}"


def _pg_name(key: str) -> str:
    plain = "_seq_" + key.replace(".", "__")
    if len(plain) <= 63:
        return plain
    return "_seq_" + hashlib.sha1(key.encode()).hexdigest()[:40]


def _qualified(sequence: sa.Sequence, conn: Connection) -> str:
    return conn.dialect.identifier_preparer.format_sequence(sequence)


class Sequences:
    def __init__(self, conn: Connection, schema: str | None) -> None:
        self.conn = conn
        self.schema = schema
        self.native = conn.dialect.name == "postgresql"

    def _sequence(self, key: str) -> sa.Sequence:
        return sa.Sequence(_pg_name(key), schema=self.schema)

    def ensure(self, key: str, start: int) -> None:
        if self.native:
            self.conn.execute(sa.schema.CreateSequence(
                sa.Sequence(_pg_name(key), start=start, minvalue=0, schema=self.schema), if_not_exists=True))
            return
        exists = self.conn.execute(sa.select(sequences.c.name).where(sequences.c.name == key)).first()
        if not exists:
            self.conn.execute(sequences.insert().values(name=key, value=start - 1))

    def rename(self, old_key: str, new_key: str) -> None:
        if self.native:
            # SQLAlchemy has no construct for renaming a sequence; both names are quoted by
            # the dialect's identifier preparer, never pasted in raw.
            preparer = self.conn.dialect.identifier_preparer
            old = preparer.format_sequence(self._sequence(old_key))
            new = preparer.quote(_pg_name(new_key))
            self.conn.exec_driver_sql(f"ALTER SEQUENCE IF EXISTS {old} RENAME TO {new}")
            return
        self.conn.execute(sequences.update().where(sequences.c.name == old_key).values(name=new_key))

    def drop(self, key: str) -> None:
        if self.native:
            self.conn.execute(sa.schema.DropSequence(self._sequence(key), if_exists=True))
            return
        self.conn.execute(sequences.delete().where(sequences.c.name == key))

    def advance_to(self, key: str, value: int) -> None:
        """Make the next number at least ``value + 1`` (numbers restored from elsewhere)."""
        if self.native:
            sequence = self._sequence(key)
            current = sa.select(sa.literal_column("last_value")).select_from(
                sa.table(_pg_name(key), schema=self.schema)).scalar_subquery()
            self.conn.execute(sa.select(sa.func.setval(sa.literal(_qualified(sequence, self.conn)),
                                                       sa.func.greatest(current, value))))
            return
        self.conn.execute(sequences.update().where(sequences.c.name == key, sequences.c.value < value)
                          .values(value=value))

    def next_values(self, key: str, count: int) -> list[int]:
        if count <= 0:
            return []
        if self.native:
            nextval = self._sequence(key).next_value()
            series = sa.func.generate_series(1, count).table_valued("n")
            return list(self.conn.execute(sa.select(nextval).select_from(series)).scalars())
        last = self.conn.execute(
            sequences.update().where(sequences.c.name == key)
            .values(value=sequences.c.value + count).returning(sequences.c.value)
        ).scalar_one()
        return list(range(last - count + 1, last + 1))
