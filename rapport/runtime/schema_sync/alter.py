"""Changing a field's definition where existing values must be checked or converted.

Every existing value is taken over through the new type's ``convert``: values that cannot
convert refuse the whole change, naming the records; values that fit only by losing
information (narrowing) make the step data-losing, and their old values are moved aside
before they change. Making a field required refuses while records have no value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from rapport.metadata.model import FieldDef
from rapport.platform.errors import Problem
from rapport.runtime.fields import FIELD_TYPES, FieldType, FieldValueError
from rapport.runtime.schema_sync.aside import move_values_aside
from rapport.runtime.schema_sync.steps import Inspection, Safety, Step, StepContext, write_column

MAX_IDS_SHOWN = 20


def _ids(ids: list[str]) -> str:
    shown = ", ".join(ids[:MAX_IDS_SHOWN])
    return shown + (f", … ({len(ids) - MAX_IDS_SHOWN} more)" if len(ids) > MAX_IDS_SHOWN else "")


@dataclass
class _Scan:
    converted: list[tuple[str, Any, Any]] = field(default_factory=list)  # id, old, new (changed only)
    lossy: list[tuple[str, Any]] = field(default_factory=list)  # id, old value
    failed: list[tuple[str, str]] = field(default_factory=list)  # id, reason
    blanks: list[str] = field(default_factory=list)
    finals: dict[Any, list[str]] = field(default_factory=dict)  # unique fields: value → ids
    scanned: int = 0


@dataclass
class AlterColumn(Step):
    object: str
    old: FieldDef
    new: FieldDef
    _scan: _Scan | None = None

    @property
    def old_type(self) -> FieldType:
        return FIELD_TYPES[self.old.type]

    @property
    def new_type(self) -> FieldType:
        return FIELD_TYPES[self.new.type]

    @property
    def type_changes(self) -> bool:
        return self.old.type != self.new.type

    @property
    def needs_scan(self) -> bool:
        return self.type_changes or self.new_type.needs_data_check(self.old, self.new)

    @property
    def becomes_required(self) -> bool:
        return self.new_type.is_required(self.new) and not self.old_type.is_required(self.old)

    def describe(self) -> str:
        parts = []
        if self.type_changes:
            parts.append(f"convert values from {self.old.type} to {self.new.type}")
        elif self.needs_scan:
            parts.append("narrow the allowed values (values that no longer fit are moved aside)")
        if self.becomes_required:
            parts.append("make it required")
        if not parts:
            parts.append("change its column definition")
        return f"change field '{self.object}.{self.new.name}': {'; '.join(parts)}"

    @property
    def safety(self) -> Safety:  # type: ignore[override]
        if self.needs_scan and not self.type_changes:
            return Safety.DATA_LOSING
        return Safety.CONVERTING if self.type_changes else Safety.SAFE

    def effective_safety(self, inspection: Inspection) -> Safety:
        """Narrowing loses data only where values no longer fit; with none, nothing is lost."""
        if inspection.lossy_rows:
            return Safety.DATA_LOSING
        return Safety.CONVERTING if self.type_changes else Safety.SAFE

    def _scan_rows(self, ctx: StepContext) -> _Scan:
        scan = _Scan()
        ctx.lock_table(self.object)  # no writer may slip a value in between scan and change
        live = ctx.table(self.object)
        column = live.c[self.old.name]
        if self.needs_scan:
            result = ctx.conn.execute(sa.select(live.c.id, column).where(column.is_not(None)).order_by(live.c.id))
            for record_id, value in result:
                scan.scanned += 1
                try:
                    converted = self.new_type.convert(value, self.old, self.new, self.old_type)
                except FieldValueError as error:
                    scan.failed.append((record_id, error.message))
                    continue
                if converted.lossy:
                    scan.lossy.append((record_id, value))
                if self.new.unique and converted.value is not None:
                    scan.finals.setdefault(converted.value, []).append(record_id)
                if converted.value != value or self.type_changes:
                    scan.converted.append((record_id, value, converted.value))
        if self.becomes_required:
            blank = column.is_(None) if self.new_type.stored else sa.false()
            scan.blanks = list(ctx.conn.execute(sa.select(live.c.id).where(blank).order_by(live.c.id)).scalars())
        return scan

    def inspect(self, ctx: StepContext) -> Inspection:
        if not (self.new_type.stored and self.old_type.stored):
            return Inspection()
        scan = self._scan = self._scan_rows(ctx)
        at = f"/objects/{self.object}/fields/{self.new.name}"
        refusals: list[Problem] = []
        if scan.failed:
            examples = "; ".join(f"{i}: {reason}" for i, reason in scan.failed[:3])
            refusals.append(Problem(
                at + "/type", "schema.not_convertible",
                f"field '{self.object}.{self.new.name}': {len(scan.failed)} records cannot be converted to "
                f"{self.new.type} (ids: {_ids([i for i, _ in scan.failed])}). For example — {examples}",
                hint="fix or clear those values first, or choose another type"))
        clashes = [i for ids in scan.finals.values() if len(ids) > 1 for i in ids]
        if clashes:
            refusals.append(Problem(
                at + "/unique", "schema.duplicates_exist",
                f"field '{self.object}.{self.new.name}' must stay unique, but after the change "
                f"{len(clashes)} records would share a value (ids: {_ids(clashes)})",
                hint="make those values differ first, or drop 'unique'"))
        if scan.blanks:
            refusals.append(Problem(
                at + "/required", "schema.blank_values_exist",
                f"field '{self.object}.{self.new.name}' cannot become required: {len(scan.blanks)} records "
                f"have no value (ids: {_ids(scan.blanks)})", hint="fill in those records first"))
        affected = len(scan.converted) if self.needs_scan else len(scan.blanks)
        return Inspection(affected_rows=affected, refusals=refusals, lossy_rows=len(scan.lossy))

    def apply(self, ctx: StepContext) -> None:
        if not (self.new_type.stored and self.old_type.stored):
            return
        scan = self._scan or self._scan_rows(ctx)
        if scan.lossy:
            move_values_aside(ctx, self.object, self.old, scan.lossy, len(scan.lossy), kind="values",
                              definition={"field": self.old.to_dict(), "narrowed_to": self.new.to_dict()})
        dialect = ctx.conn.dialect
        old_sql = self.old_type.column_type(self.old).compile(dialect=dialect)
        new_sql = self.new_type.column_type(self.new).compile(dialect=dialect)
        nullable = self.new_type.nullable(self.new)
        if old_sql != new_sql or self.old_type.nullable(self.old) != nullable:
            # values the system recalculates (roll-ups) are not converted: a later step refills them
            self._alter_type(ctx, rewrite=self.type_changes or bool(self.new_type.recalculated_on))
        if scan.converted:
            self._write_values(ctx, scan)
        if not nullable and self.old_type.nullable(self.old):
            self._fill_blanks_and_forbid_null(ctx)

    def _alter_type(self, ctx: StepContext, rewrite: bool) -> None:
        """The column's new type; it stays nullable until its values are written."""
        new_column_type = self.new_type.column_type(self.new)
        old_column_type = self.old_type.column_type(self.old)
        if not self.old_type.nullable(self.old):
            with ctx.batch(self.object) as batch:  # first, so the rewrite below may pass through NULL
                batch.alter_column(self.old.name, existing_type=old_column_type, nullable=True)
        kwargs: dict[str, Any] = {"type_": new_column_type, "existing_type": old_column_type,
                                  "existing_nullable": True}
        old_default = self.old_type.server_default(self.old)
        new_default = self.new_type.server_default(self.new)
        if old_default is not None or new_default is not None:
            kwargs["server_default"] = None if new_default is None else sa.text(
                str(new_default.compile(dialect=ctx.conn.dialect)))
        if ctx.conn.dialect.name == "postgresql":
            # on a change of type every value is rewritten from Python right after (a SQL cast
            # could fail on text → number); otherwise the column casts to its new size
            source = sa.null() if rewrite else sa.column(self.old.name)
            cast = sa.cast(source, new_column_type)
            kwargs["postgresql_using"] = str(cast.compile(dialect=ctx.conn.dialect))
        with ctx.batch(self.object) as batch:
            batch.alter_column(self.old.name, **kwargs)

    def _fill_blanks_and_forbid_null(self, ctx: StepContext) -> None:
        """A type that is never blank (boolean): records without a value get its default."""
        column_type = self.new_type.column_type(self.new)
        table = sa.table(self.object, sa.column(self.new.name, column_type), schema=ctx.schema)
        ctx.conn.execute(table.update().where(table.c[self.new.name].is_(None))
                         .values({self.new.name: self.new_type.default_value(self.new)}))
        with ctx.batch(self.object) as batch:
            batch.alter_column(self.new.name, existing_type=column_type, nullable=False)

    def _write_values(self, ctx: StepContext, scan: _Scan) -> None:
        write_column(ctx.conn, ctx.schema, self.object, self.new,
                     [(record_id, new) for record_id, _, new in scan.converted], ctx.progress)
