"""Plan steps: one small object per DDL operation, each able to describe itself.

A step knows whether it is safe, converts data, or loses data; it can inspect the live
database before anything runs (how many rows it touches, which records would not
convert) and apply itself through Alembic's operations. Steps never format SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from collections.abc import Callable

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.engine import Connection

from rapport.metadata.model import Bundle, FieldDef, ObjectDef
from rapport.platform.errors import Problem
from rapport.platform.settings import Settings
from rapport.runtime.compiled import (
    DEFAULT_SORT, CompiledOrg, build_table, compile_org, field_column, field_index, index_name,
)
from rapport.runtime.fields import FIELD_TYPES
from rapport.runtime.sequences import Sequences, sequence_key

Progress = Callable[[str, int, "int | None"], None]


class Safety(StrEnum):
    SAFE = "safe"
    CONVERTING = "converting"
    DATA_LOSING = "data_losing"


@dataclass
class Inspection:
    """What a step would do to the live data."""

    affected_rows: int | None = None
    refusals: list[Problem] = field(default_factory=list)
    lossy_rows: int = 0


@dataclass
class StepContext:
    conn: Connection
    schema: str | None
    old_bundle: Bundle
    new_bundle: Bundle
    settings: Settings
    revision: int
    progress: Progress = lambda message, done, total: None
    _op: Operations | None = None
    _model: CompiledOrg | None = None

    @property
    def op(self) -> Operations:
        if self._op is None:
            self._op = Operations(MigrationContext.configure(self.conn))
        return self._op

    @property
    def model(self) -> CompiledOrg:
        """The new bundle compiled: its tables as they are once the DDL steps have run."""
        if self._model is None:
            self._model = compile_org("apply", self.revision, self.new_bundle)
        return self._model

    @property
    def sequences(self) -> Sequences:
        return Sequences(self.conn, self.schema)

    def table(self, name: str) -> sa.Table:
        """The live table, reflected inside the apply transaction."""
        return sa.Table(name, sa.MetaData(), schema=self.schema, autoload_with=self.conn)

    def count(self, table: str, column: str | None = None, where: Callable[[Any], Any] | None = None) -> int:
        """Rows of ``table`` (those where ``where(column)`` holds, when given)."""
        t = sa.table(table, *([sa.column(column)] if column else []), schema=self.schema)
        query = sa.select(sa.func.count()).select_from(t)
        if column and where is not None:
            query = query.where(where(t.c[column]))
        return int(self.conn.execute(query).scalar_one())

    def lock_table(self, table: str) -> None:
        """Block other writers of ``table`` until commit (SQLite's write lock already does)."""
        if self.conn.dialect.name == "postgresql":
            # no SQLAlchemy construct for LOCK TABLE; the name is quoted by the dialect
            name = self.conn.dialect.identifier_preparer.format_table(sa.table(table, schema=self.schema))
            self.conn.exec_driver_sql(f"LOCK TABLE {name} IN SHARE ROW EXCLUSIVE MODE")

    def live_indexes(self, table: str, column: str) -> list[str]:
        inspector = sa.inspect(self.conn)
        return [ix["name"] for ix in inspector.get_indexes(table, schema=self.schema)
                if ix["column_names"] == [column] and ix["name"]]

    def rename_indexes(self, table: str) -> None:
        """Give a renamed table's (or column's) indexes the names derived from the new names,
        so the old names are free for a new object or field."""
        for index in sa.inspect(self.conn).get_indexes(table, schema=self.schema):
            columns, unique = [str(c) for c in index["column_names"]], bool(index["unique"])
            label = "default_sort" if tuple(columns) == DEFAULT_SORT else columns[0] if len(columns) == 1 else None
            wanted = index_name(table, label, unique) if label else None
            if wanted is None or index["name"] is None or wanted == index["name"]:
                continue
            if self.conn.dialect.name == "postgresql":
                # no Alembic operation renames an index; both names are quoted by the dialect
                quote = self.conn.dialect.identifier_preparer.quote
                old = f"{quote(self.schema)}.{quote(index['name'])}" if self.schema else quote(index["name"])
                self.conn.exec_driver_sql(f"ALTER INDEX {old} RENAME TO {quote(wanted)}")
            else:
                self.op.drop_index(index["name"], table_name=table, schema=self.schema)
                self.op.create_index(wanted, table, list(columns), unique=unique, schema=self.schema)

    def batch(self, table: str) -> Any:
        """Alembic batch mode: plain ALTERs on PostgreSQL, a table rebuild on SQLite."""
        return self.op.batch_alter_table(table, schema=self.schema)


class Step:
    safety: Safety = Safety.SAFE
    ddl: bool = True

    def describe(self) -> str:
        raise NotImplementedError

    def inspect(self, ctx: StepContext) -> Inspection:
        return Inspection()

    def apply(self, ctx: StepContext) -> None:
        raise NotImplementedError

    def effective_safety(self, inspection: Inspection) -> Safety:
        return self.safety

    def to_dict(self, inspection: Inspection) -> dict[str, Any]:
        data: dict[str, Any] = {
            "step": type(self).__name__,
            "description": self.describe(),
            "safety": self.effective_safety(inspection).value,
            "ddl": self.ddl,
        }
        if inspection.affected_rows is not None:
            data["affected_rows"] = inspection.affected_rows
        if inspection.refusals:
            data["refused"] = [p.to_dict() for p in inspection.refusals]
        data.update(self.record())
        return data

    def record(self) -> dict[str, Any]:
        """Facts kept in the revision's plan for later use (renames, for revert)."""
        return {}


@dataclass
class MetadataOnly(Step):
    """A change that touches no table: labels, help text, layouts, rules, scripts."""

    text: str
    ddl: bool = False

    def describe(self) -> str:
        return f"{self.text} (metadata only)"

    def apply(self, ctx: StepContext) -> None:
        return None


def _ensure_sequences(ctx: StepContext, object_name: str, fields: tuple[FieldDef, ...]) -> None:
    for f in fields:
        if FIELD_TYPES[f.type].generates_value:
            ctx.sequences.ensure(sequence_key(object_name, f.name), f.start or 1)


@dataclass
class CreateTable(Step):
    obj: ObjectDef

    def describe(self) -> str:
        return f"create table '{self.obj.name}' for object '{self.obj.label}' ({len(self.obj.fields)} fields)"

    def apply(self, ctx: StepContext) -> None:
        table = build_table(self.obj, sa.MetaData(schema=ctx.schema))
        table.create(ctx.conn)
        _ensure_sequences(ctx, self.obj.name, self.obj.fields)


@dataclass
class RenameTable(Step):
    old: ObjectDef
    new: ObjectDef

    def describe(self) -> str:
        return f"rename table '{self.old.name}' to '{self.new.name}' (data kept)"

    def record(self) -> dict[str, Any]:
        return {"rename": {"object": self.old.name, "field": None, "from": self.old.name, "to": self.new.name}}

    def inspect(self, ctx: StepContext) -> Inspection:
        return Inspection(affected_rows=ctx.count(self.old.name))

    def apply(self, ctx: StepContext) -> None:
        ctx.op.rename_table(self.old.name, self.new.name, schema=ctx.schema)
        ctx.rename_indexes(self.new.name)
        for f in self.old.fields:
            if FIELD_TYPES[f.type].generates_value:
                ctx.sequences.rename(sequence_key(self.old.name, f.name), sequence_key(self.new.name, f.name))


@dataclass
class AddColumn(Step):
    object: str
    field: FieldDef

    def describe(self) -> str:
        if not FIELD_TYPES[self.field.type].stored:
            return f"add computed field '{self.object}.{self.field.name}' ({self.field.type}, no column)"
        return f"add column '{self.object}.{self.field.name}' ({self.field.type})"

    def inspect(self, ctx: StepContext) -> Inspection:
        field_type = FIELD_TYPES[self.field.type]
        if not field_type.stored:
            return Inspection()
        rows = ctx.count(self.object)
        refusals = []
        if rows and field_type.is_required(self.field) and field_type.default_value(self.field) is None \
                and field_type.writable:
            refusals.append(Problem(
                f"/objects/{self.object}/fields/{self.field.name}/required", "schema.required_without_default",
                f"field '{self.object}.{self.field.name}' is required, but the {rows} existing records would have "
                "no value", hint="give the field a default (it fills the existing records), or add it as "
                "optional, fill it in, then make it required"))
        if rows > 1 and self.field.unique and field_type.writable \
                and field_type.default_value(self.field) is not None:
            refusals.append(Problem(
                f"/objects/{self.object}/fields/{self.field.name}/unique", "schema.duplicates_exist",
                f"field '{self.object}.{self.field.name}' is unique, but its default would give the {rows} "
                "existing records the same value", hint="add it without 'unique' or without a default"))
        return Inspection(affected_rows=rows, refusals=refusals)

    def apply(self, ctx: StepContext) -> None:
        field_type = FIELD_TYPES[self.field.type]
        if not field_type.stored:
            return
        ctx.op.add_column(self.object, field_column(self.field, field_type), schema=ctx.schema)
        default = field_type.default_value(self.field) if field_type.writable else None
        if default is not None and field_type.server_default(self.field) is None:
            table = sa.table(self.object, sa.column(self.field.name, field_type.column_type(self.field)),
                             schema=ctx.schema)
            ctx.conn.execute(table.update().values({self.field.name: default}))
        index = field_index(self.object, self.field, field_type)
        if index is not None:
            ctx.op.create_index(index.name, self.object, [self.field.name], unique=bool(index.unique),
                                schema=ctx.schema)
        _ensure_sequences(ctx, self.object, (self.field,))
        if field_type.generates_value:
            number_blank_rows(ctx.conn, ctx.schema, self.object, self.field)  # existing records, oldest first


def write_column(conn: Connection, schema: str | None, object_name: str, f: FieldDef,
                 values: list[tuple[str, Any]], progress: Progress | None = None) -> None:
    """Set field ``f`` of many records, ``(record id, value)`` each, a thousand per statement."""
    column_type = FIELD_TYPES[f.type].column_type(f)
    table = sa.table(object_name, sa.column("id"), sa.column(f.name, column_type), schema=schema)
    statement = table.update().where(table.c.id == sa.bindparam("_id")).values(
        {f.name: sa.bindparam("_value", type_=column_type)})
    for start in range(0, len(values), 1000):
        conn.execute(statement, [{"_id": i, "_value": v} for i, v in values[start:start + 1000]])
        if progress is not None:
            progress(f"writing {object_name}.{f.name}", min(start + 1000, len(values)), len(values))


def number_blank_rows(conn: Connection, schema: str | None, object_name: str, f: FieldDef) -> None:
    """Give records without a number the next numbers of ``f``'s sequence, oldest first."""
    t = sa.table(object_name, sa.column("id"), sa.column("created_at"), sa.column(f.name), schema=schema)
    ids = list(conn.execute(sa.select(t.c.id).where(t.c[f.name].is_(None)).order_by(t.c.created_at, t.c.id))
               .scalars())
    if not ids:
        return
    numbers = Sequences(conn, schema).next_values(sequence_key(object_name, f.name), len(ids))
    write_column(conn, schema, object_name, f, list(zip(ids, FIELD_TYPES[f.type].generate(f, numbers))))


@dataclass
class RenameColumn(Step):
    object: str
    old: FieldDef
    new: FieldDef

    def describe(self) -> str:
        return f"rename column '{self.object}.{self.old.name}' to '{self.new.name}' (data kept)"

    def record(self) -> dict[str, Any]:
        return {"rename": {"object": self.object, "field": self.new.name, "from": self.old.name,
                           "to": self.new.name}}

    def apply(self, ctx: StepContext) -> None:
        field_type = FIELD_TYPES[self.old.type]
        if not field_type.stored:
            return
        ctx.op.alter_column(self.object, self.old.name, new_column_name=self.new.name, schema=ctx.schema)
        ctx.rename_indexes(self.object)
        if field_type.generates_value:
            ctx.sequences.rename(sequence_key(self.object, self.old.name), sequence_key(self.object, self.new.name))


@dataclass
class ChangeIndex(Step):
    """Create or drop the index of a field whose unique/indexed/external_id flags changed."""

    object: str
    old: FieldDef
    new: FieldDef

    def describe(self) -> str:
        after = field_index(self.object, self.new, FIELD_TYPES[self.new.type])
        if after is None:
            return f"drop index on '{self.object}.{self.new.name}'"
        kind = "unique index" if after.unique else "index"
        return f"create {kind} on '{self.object}.{self.new.name}'"

    def inspect(self, ctx: StepContext) -> Inspection:
        if not (self.new.unique and not self.old.unique):
            return Inspection()
        t = sa.table(self.object, sa.column("id"), sa.column(self.new.name), schema=ctx.schema)
        column = t.c[self.new.name]
        duplicated = (sa.select(column).where(column.is_not(None)).group_by(column)
                      .having(sa.func.count() > 1).subquery())
        rows = ctx.conn.execute(
            sa.select(t.c.id, column).where(column.in_(sa.select(duplicated.c[0]))).order_by(column, t.c.id)
        ).all()
        if not rows:
            return Inspection(affected_rows=0)
        ids = [r[0] for r in rows]
        return Inspection(affected_rows=len(ids), refusals=[Problem(
            f"/objects/{self.object}/fields/{self.new.name}/unique", "schema.duplicates_exist",
            f"field '{self.object}.{self.new.name}' cannot become unique: {len(ids)} records share a value "
            f"(ids: {', '.join(ids[:20])}{', …' if len(ids) > 20 else ''})")])

    def apply(self, ctx: StepContext) -> None:
        for name in ctx.live_indexes(self.object, self.new.name):
            ctx.op.drop_index(name, table_name=self.object, schema=ctx.schema)
        after = field_index(self.object, self.new, FIELD_TYPES[self.new.type])
        if after is not None:
            ctx.op.create_index(after.name, self.object, [self.new.name], unique=bool(after.unique),
                                schema=ctx.schema)


@dataclass
class ToggleSoftDelete(Step):
    object: str
    enable: bool

    def describe(self) -> str:
        return f"{'add' if self.enable else 'remove'} soft-delete column 'is_deleted' on '{self.object}'"

    def inspect(self, ctx: StepContext) -> Inspection:
        if self.enable:
            return Inspection()
        deleted = ctx.count(self.object, "is_deleted", lambda c: c == sa.true())
        refusals = [] if not deleted else [Problem(
            f"/objects/{self.object}/soft_delete", "schema.deleted_records_exist",
            f"object '{self.object}' has {deleted} soft-deleted records: undelete or purge them first")]
        return Inspection(affected_rows=deleted, refusals=refusals)

    def apply(self, ctx: StepContext) -> None:
        if self.enable:
            ctx.op.add_column(self.object, sa.Column("is_deleted", sa.Boolean(create_constraint=False),
                                                     nullable=False, server_default=sa.false()),
                              schema=ctx.schema)
        else:
            with ctx.batch(self.object) as batch:
                batch.drop_column("is_deleted")


__all__ = [
    "AddColumn", "ChangeIndex", "CreateTable", "Inspection", "MetadataOnly", "Progress", "RenameColumn",
    "RenameTable", "Safety", "Step", "StepContext", "ToggleSoftDelete", "index_name",
]
