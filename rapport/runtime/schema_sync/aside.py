"""Data-losing steps move data aside instead of dropping it.

A deleted object's table is renamed to ``_aside_<n>``; a deleted field's values (and the
old values a narrowing would cut) are copied into ``_aside_<n>`` as ``(id, value)`` rows
before the column changes. Each move writes a ``_trash`` entry with the definition, kept
for the retention period and restorable with one command until it is purged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rapport.metadata.model import FieldDef, ObjectDef
from rapport.platform.sqltypes import utcnow
from rapport.platform.tables import trash
from rapport.runtime.fields import FIELD_TYPES
from rapport.runtime.schema_sync.steps import Inspection, Safety, Step, StepContext
from rapport.runtime.sequences import sequence_key


def _next_trash_id(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(trash.c.id), 0))).scalar_one()) + 1


def aside_values_table(name: str, schema: str | None) -> sa.Table:
    return sa.Table(name, sa.MetaData(schema=schema),
                    sa.Column("id", sa.String(36), primary_key=True),
                    sa.Column("value", sa.JSON, nullable=True))


def move_values_aside(ctx: StepContext, object_name: str, field: FieldDef,
                      rows: Iterable[tuple[str, Any]], row_count: int, *, kind: str = "field",
                      definition: dict[str, Any] | None = None) -> int:
    """Copy ``(id, value)`` rows into a new aside table and record it in ``_trash``.

    ``kind`` is "field" for a deleted field (``definition``: the field), "values" for the
    values a narrowing cuts (``definition``: the field before and after).
    """
    trash_id = _next_trash_id(ctx.conn)
    table = aside_values_table(f"_aside_{trash_id}", ctx.schema)
    table.create(ctx.conn)
    field_type = FIELD_TYPES[field.type]
    batch: list[dict[str, Any]] = []
    for record_id, value in rows:
        batch.append({"id": record_id, "value": field_type.to_json(value, field)})
        if len(batch) >= 1000:
            ctx.conn.execute(table.insert(), batch)
            batch = []
    if batch:
        ctx.conn.execute(table.insert(), batch)
    _record(ctx, trash_id, kind, object_name, field.name, definition or field.to_dict(), table.name, row_count)
    return trash_id


def _record(ctx: StepContext, trash_id: int, kind: str, object_name: str, field_name: str | None,
            definition: dict[str, Any], aside_table: str, row_count: int) -> None:
    now = utcnow()
    ctx.conn.execute(trash.insert().values(
        id=trash_id, kind=kind, object=object_name, field=field_name, definition=definition,
        aside_table=aside_table, row_count=row_count, revision=ctx.revision, created_at=now,
        expires_at=now + timedelta(days=ctx.settings.retention_days)))


@dataclass
class DropColumn(Step):
    object: str
    field: FieldDef
    safety: Safety = Safety.DATA_LOSING

    def describe(self) -> str:
        return (f"delete field '{self.object}.{self.field.name}': its values are moved aside, "
                "restorable until purged")

    def _stored(self) -> bool:
        return FIELD_TYPES[self.field.type].stored

    def effective_safety(self, inspection: Inspection) -> Safety:
        return self.safety if self._stored() else Safety.SAFE

    def inspect(self, ctx: StepContext) -> Inspection:
        if not self._stored():
            return Inspection()
        return Inspection(affected_rows=ctx.count(self.object, self.field.name, lambda c: c.is_not(None)))

    def apply(self, ctx: StepContext) -> None:
        if not self._stored():
            return
        live = ctx.table(self.object)
        column = live.c[self.field.name]
        rows = ctx.conn.execute(sa.select(live.c.id, column).where(column.is_not(None))).all()
        move_values_aside(ctx, self.object, self.field, ((r[0], r[1]) for r in rows), len(rows))
        for name in ctx.live_indexes(self.object, self.field.name):
            ctx.op.drop_index(name, table_name=self.object, schema=ctx.schema)
        with ctx.batch(self.object) as batch:
            batch.drop_column(self.field.name)
        _drop_sequences(ctx, self.object, (self.field,))


@dataclass
class DropTable(Step):
    obj: ObjectDef
    safety: Safety = Safety.DATA_LOSING

    def describe(self) -> str:
        return f"delete object '{self.obj.name}': its table is moved aside, restorable until purged"

    def inspect(self, ctx: StepContext) -> Inspection:
        return Inspection(affected_rows=ctx.count(self.obj.name))

    def apply(self, ctx: StepContext) -> None:
        trash_id = _next_trash_id(ctx.conn)
        live = ctx.table(self.obj.name)
        aside = copy_table(ctx.conn, live, f"_aside_{trash_id}", ctx.schema)
        rows = ctx.count(self.obj.name)
        ctx.op.drop_table(self.obj.name, schema=ctx.schema)
        _drop_sequences(ctx, self.obj.name, self.obj.fields)
        _record(ctx, trash_id, "object", self.obj.name, None, self.obj.to_dict(), aside.name, rows)


def _drop_sequences(ctx: StepContext, object_name: str, fields: Iterable[FieldDef]) -> None:
    """The numbers live on in the moved-aside copy; a restore continues after the highest."""
    for f in fields:
        if FIELD_TYPES[f.type].generates_value:
            ctx.sequences.drop(sequence_key(object_name, f.name))


def copy_table(conn: Connection, source: sa.Table, name: str, schema: str | None,
               target: sa.Table | None = None) -> sa.Table:
    """Copy every row of ``source`` into a new table (same columns, no indexes) or ``target``."""
    if target is None:
        target = sa.Table(name, sa.MetaData(schema=schema),
                          *(sa.Column(c.name, c.type, primary_key=c.primary_key) for c in source.columns))
    target.create(conn)
    shared = [c.name for c in target.columns if c.name in source.c]
    conn.execute(target.insert().from_select(shared, sa.select(*(source.c[n] for n in shared))))
    return target
