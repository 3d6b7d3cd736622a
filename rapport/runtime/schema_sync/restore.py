"""Bringing moved-aside data back, in one transaction with a new revision.

Three kinds of ``_trash`` entries:

- ``object``: a deleted object's rows. The object comes back (under its name, which must
  be free) and its rows are copied back.
- ``field``: a deleted field's values. The field comes back (its name must be free) and the
  values are copied back. A required field comes back optional first, then required again
  when every record has a value (otherwise it stays optional, and the result says so).
- ``values``: the old values a narrowing cut. The field gets its wider definition back, and
  each record gets its old value back unless it was changed since (then it keeps the new one).

Objects and fields renamed since the data was moved aside are followed to their new names.
Autonumbers keep their restored numbers and continue after the highest.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rapport.metadata import Bundle, FieldDef
from rapport.metadata.revisions import current_number, get_revision
from rapport.platform.errors import Conflict, ConversionRefused, NotFound
from rapport.platform.settings import Settings
from rapport.platform.sqltypes import utcnow
from rapport.platform.tables import trash
from rapport.runtime.compiled import build_table
from rapport.runtime.fields import FIELD_TYPES
from rapport.runtime.loading import load, load_stored
from rapport.runtime.schema_sync.aside import aside_values_table
from rapport.runtime.schema_sync.renames import follow, renames_in
from rapport.runtime.schema_sync.runner import Applied, apply_bundle, current_bundle
from rapport.runtime.schema_sync.recalculate import recalculate_watching
from rapport.runtime.schema_sync.steps import StepContext, number_blank_rows, write_column
from rapport.runtime.sequences import Sequences, sequence_key


def trash_entry(conn: Connection, trash_id: int) -> dict[str, Any]:
    row = conn.execute(sa.select(trash).where(trash.c.id == trash_id)).mappings().first()
    if row is None:
        raise NotFound(f"there is no moved-aside data #{trash_id} (it may have been purged)",
                       code="schema.trash_not_found")
    if row["restored_at"] is not None:
        raise Conflict(f"moved-aside data #{trash_id} was already restored", code="schema.already_restored")
    return dict(row)


class Restore:
    def __init__(self, conn: Connection, schema: str | None, settings: Settings, author: str,
                 trash_id: int) -> None:
        self.conn, self.schema, self.settings, self.author = conn, schema, settings, author
        self.entry = trash_entry(conn, trash_id)
        later = [get_revision(conn, n) for n in range(self.entry["revision"] + 1, current_number(conn) + 1)]
        self.object_name, self.field_name = follow(self.entry["object"], self.entry["field"], renames_in(later))
        self.message = f"restore moved-aside data #{trash_id}"
        self.notes: list[str] = []

    def run(self) -> Applied:
        kind = self.entry["kind"]
        applied = {"object": self._object, "field": self._field, "values": self._values}[kind]()
        self.conn.execute(trash.update().where(trash.c.id == self.entry["id"]).values(restored_at=utcnow()))
        self.conn.execute(sa.schema.DropTable(sa.Table(self.entry["aside_table"], sa.MetaData(),
                                                       schema=self.schema)))
        return Applied(applied.revision, applied.plan, tuple(self.notes))

    # -- the three kinds ---------------------------------------------------------------
    def _object(self) -> Applied:
        current = current_bundle(self.conn, load_stored)
        if current.object(self.object_name) is not None:
            raise Conflict(f"an object '{self.object_name}' exists again; rename or delete it before restoring",
                           code="schema.restore_conflict")
        data = current.to_dict()
        data.setdefault("objects", []).append({**self.entry["definition"], "name": self.object_name})
        bundle = load(data)
        applied = self._apply(bundle)
        obj = bundle.object(self.object_name)
        assert obj is not None
        live = build_table(obj, sa.MetaData(schema=self.schema))
        aside = sa.Table(self.entry["aside_table"], sa.MetaData(), schema=self.schema, autoload_with=self.conn)
        shared = [c.name for c in live.columns if c.name in aside.c]
        self.conn.execute(live.insert().from_select(shared, sa.select(*(aside.c[n] for n in shared))))
        for defn in obj.fields:
            self._continue_numbering(defn)
        return applied

    def _field(self) -> Applied:
        current = current_bundle(self.conn, load_stored)
        obj = self._current_object(current)
        if obj.field(self.field_name or "") is not None:
            raise Conflict(f"object '{obj.name}' has a field '{self.field_name}' again; rename or delete it "
                           "before restoring", code="schema.restore_conflict")
        definition = {**self.entry["definition"], "name": self.field_name}
        optional = {**definition, "required": False}
        applied = self._apply(_with_field(current, obj.name, optional))
        defn = _field_of(load(_with_field(current, obj.name, definition)), obj.name, definition["name"])
        if not FIELD_TYPES[defn.type].recalculated_on:  # a roll-up was recalculated by the apply: keep that
            self._copy_values(defn, only_unchanged_from=None)
        self._continue_numbering(defn)
        if definition.get("required"):
            try:
                with self.conn.begin_nested():
                    applied = self._apply(_with_field(current, obj.name, definition))
            except ConversionRefused as refused:
                self.notes.append(f"field '{obj.name}.{self.field_name}' was restored as optional: "
                                  f"{refused.problems[0].message if refused.problems else refused.message}")
        return applied

    def _values(self) -> Applied:
        current = current_bundle(self.conn, load_stored)
        obj = self._current_object(current)
        narrowed = obj.field(self.field_name or "")
        if narrowed is None:
            raise Conflict(f"object '{obj.name}' no longer has a field '{self.field_name}'",
                           code="schema.restore_conflict")
        wider = {**self.entry["definition"]["field"], "name": narrowed.name}
        applied = self._apply(_with_field(current, obj.name, wider))
        defn = _field_of(load(_with_field(current, obj.name, wider)), obj.name, narrowed.name)
        narrowed_then = {**self.entry["definition"]["narrowed_to"], "name": narrowed.name}
        then = _field_of(load(_with_field(current, obj.name, narrowed_then)), obj.name, narrowed.name)
        self._copy_values(defn, only_unchanged_from=then)
        restored = load(_with_field(current, obj.name, wider))  # roll-ups over the values follow them
        recalculate_watching(StepContext(self.conn, self.schema, restored, restored, self.settings, 0),
                             obj.name, narrowed.name)
        return applied

    # -- helpers -----------------------------------------------------------------------
    def _apply(self, bundle: Bundle | dict[str, Any]) -> Applied:
        return apply_bundle(self.conn, self.schema, self.settings, load_stored, load(bundle), author=self.author,
                            message=self.message, confirm_data_loss=False)

    def _current_object(self, current: Bundle) -> Any:
        obj = current.object(self.object_name)
        if obj is None:
            raise Conflict(f"object '{self.object_name}' no longer exists; restore it first",
                           code="schema.restore_conflict")
        return obj

    def _copy_values(self, defn: FieldDef, only_unchanged_from: FieldDef | None) -> None:
        """Copy the moved-aside values back into ``defn``'s column.

        With ``only_unchanged_from`` (the narrowed definition), a record gets its old value back
        only while it still holds what the narrowing left; a value changed since is kept.
        """
        field_type = FIELD_TYPES[defn.type]
        column_type = field_type.column_type(defn)
        table = sa.Table(self.object_name, sa.MetaData(schema=self.schema), sa.Column("id", sa.String(36)),
                         sa.Column(defn.name, column_type))
        aside = aside_values_table(self.entry["aside_table"], self.schema)
        saved = {r.id: field_type.coerce(r.value, defn) for r in self.conn.execute(sa.select(aside))}
        if field_type.generates_value:
            self.conn.execute(table.update().values({defn.name: None}))  # restored numbers first
        if only_unchanged_from is not None:
            now = dict(self.conn.execute(sa.select(table.c.id, table.c[defn.name])
                                         .where(table.c.id.in_(sa.select(aside.c.id)))).all())
            narrowed_type = FIELD_TYPES[only_unchanged_from.type]
            kept = [i for i, old in saved.items()
                    if i in now and now[i] != narrowed_type.convert(old, defn, only_unchanged_from, field_type).value]
            for record_id in kept:
                del saved[record_id]
            if kept:
                self.notes.append(f"{len(kept)} record(s) changed since the narrowing kept their current value")
        write_column(self.conn, self.schema, self.object_name, defn, list(saved.items()))

    def _continue_numbering(self, defn: FieldDef) -> None:
        """Autonumbers: continue after the highest restored number; number records that have none."""
        field_type = FIELD_TYPES[defn.type]
        if not field_type.generates_value:
            return
        table = sa.table(self.object_name, sa.column(defn.name), schema=self.schema)
        numbers = (field_type.sequence_number(defn, v) for v in self.conn.execute(sa.select(table.c[defn.name]))
                   .scalars())
        highest = max((n for n in numbers if n is not None), default=None)
        if highest is not None:
            Sequences(self.conn, self.schema).advance_to(sequence_key(self.object_name, defn.name), highest)
        number_blank_rows(self.conn, self.schema, self.object_name, defn)


def _field_of(bundle: Bundle, object_name: str, field_name: str) -> FieldDef:
    obj = bundle.object(object_name)
    defn = obj.field(field_name) if obj is not None else None
    assert defn is not None  # the bundle was just built with it
    return defn


def _with_field(current: Bundle, object_name: str, definition: dict[str, Any]) -> dict[str, Any]:
    data = current.to_dict()
    for obj in data.get("objects", []):
        if obj["name"] == object_name:
            obj["fields"] = [f for f in obj["fields"] if f["name"] != definition["name"]] + [definition]
    return data
