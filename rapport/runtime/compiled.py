"""The compiled org model: one revision of an org's metadata, ready to use.

A revision is compiled once into SQLAlchemy ``Table``s and per-object lists the record
service and query engine need (which fields are stored, writable, generated, tracked,
references…), then cached per process under ``(org, revision)``. A request or a record
write looks up the current revision number and does no metadata parsing.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from rapport.metadata.model import Bundle, FieldDef, ObjectDef
from rapport.platform.errors import NotFound
from rapport.platform.sqltypes import UtcDateTime
from rapport.runtime.compiled_formulas import ObjectFormulas, compile_object_formulas
from rapport.runtime.fields import FIELD_TYPES, FieldType
from rapport.runtime.fields.system import SYSTEM_FIELD_DEFS, SYSTEM_FIELDS

__all__ = [
    "DEFAULT_SORT", "SYSTEM_FIELDS", "SYSTEM_FIELD_DEFS", "CompiledField", "CompiledObject", "CompiledOrg",
    "ModelCache", "build_table", "compile_org", "field_column", "field_index", "index_name", "system_columns",
]

DEFAULT_SORT = ("created_at", "id")


@dataclass(frozen=True)
class CompiledField:
    defn: FieldDef
    type: FieldType
    #: the column in the object's table (or in a join alias, for looked-up fields)
    column: sa.ColumnElement[Any] | None

    @property
    def name(self) -> str:
        return self.defn.name


@dataclass
class CompiledObject:
    defn: ObjectDef
    table: sa.Table
    fields: dict[str, CompiledField]
    stored: tuple[CompiledField, ...] = ()
    writable: tuple[CompiledField, ...] = ()
    generated: tuple[CompiledField, ...] = ()
    references: tuple[CompiledField, ...] = ()
    required: tuple[CompiledField, ...] = ()
    unique: tuple[CompiledField, ...] = ()
    tracked: tuple[CompiledField, ...] = ()
    #: (child object name, field) pairs that point at this object
    children: list[tuple[str, CompiledField]] = field(default_factory=list)
    #: (parent object name, roll-up field) pairs that summarise this object's records; an
    #: object no roll-up summarises pays nothing for roll-ups on its writes
    summarised_by: list[tuple[str, CompiledField]] = field(default_factory=list)
    #: the roll-ups of ``summarised_by`` ready to run, built on first use (records.rollups)
    rollups: Any = None
    #: formula fields' typed trees, validation rules and default formulas
    formulas: ObjectFormulas = field(default_factory=lambda: ObjectFormulas({}, (), ()))
    #: row → JSON record function, built on first use (records.serialize)
    serializer: Any = None
    #: per (database, whole row), the SELECT of records with their formula fields (records.formulas)
    formula_select: dict[tuple[str, bool], Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.defn.name

    def field(self, name: str) -> CompiledField:
        compiled = self.fields.get(name)
        if compiled is None:
            known = ", ".join(sorted(self.fields)) or "none"
            raise NotFound(f"object '{self.name}' has no field {name!r} (fields: {known})",
                           code="records.unknown_field")
        return compiled


@dataclass
class CompiledOrg:
    org_name: str
    revision: int
    bundle: Bundle
    metadata: sa.MetaData
    objects: dict[str, CompiledObject]
    #: join aliases the query engine made, reused by later queries of this revision
    aliases: dict[tuple[Any, ...], sa.FromClause] = field(default_factory=dict)
    #: compiled permissions per (profile, permission sets), see ``rapport.runtime.permissions``
    grants: dict[tuple[str, tuple[str, ...]], Any] = field(default_factory=dict)
    #: the revision's scripts by kind and object, built on first use (``rapport.sandbox.catalog``)
    sandbox: Any = None

    def object(self, name: str) -> CompiledObject:
        compiled = self.objects.get(name)
        if compiled is None:
            known = ", ".join(sorted(self.objects)) or "none"
            raise NotFound(f"org '{self.org_name}' has no object {name!r} (objects: {known})",
                           code="records.unknown_object")
        return compiled


def system_columns(obj: ObjectDef) -> list[sa.Column[Any]]:
    columns: list[sa.Column[Any]] = [
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    ]
    if obj.soft_delete:
        columns.append(sa.Column("is_deleted", sa.Boolean(create_constraint=False), nullable=False,
                                 server_default=sa.false()))
    return columns


def field_column(defn: FieldDef, field_type: FieldType) -> sa.Column[Any]:
    default = field_type.server_default(defn)
    return sa.Column(defn.name, field_type.column_type(defn), nullable=field_type.nullable(defn),
                     server_default=default)


def index_name(table: str, column: str, unique: bool = False) -> str:
    """``ix_<table>_<column>``; past PostgreSQL's 63 characters, cut and made unique by a hash."""
    name = f"{'uq' if unique else 'ix'}_{table}_{column}"
    if len(name) <= 63:
        return name
    return f"{name[:54]}_{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def field_index(table: str, defn: FieldDef, field_type: FieldType) -> sa.Index | None:
    """The index a field needs: unique, explicitly indexed, references and external ids."""
    if not field_type.stored:
        return None
    if defn.unique or field_type.generates_value:
        return sa.Index(index_name(table, defn.name, True), defn.name, unique=True)
    if defn.indexed or defn.external_id or defn.target:
        return sa.Index(index_name(table, defn.name), defn.name)
    return None


def build_table(obj: ObjectDef, metadata: sa.MetaData) -> sa.Table:
    columns = system_columns(obj)
    indexes: list[sa.Index] = [sa.Index(index_name(obj.name, "default_sort"), *DEFAULT_SORT)]
    for defn in obj.fields:
        field_type = FIELD_TYPES[defn.type]
        if field_type.stored:
            columns.append(field_column(defn, field_type))
            index = field_index(obj.name, defn, field_type)
            if index is not None:
                indexes.append(index)
    return sa.Table(obj.name, metadata, *columns, *indexes)


def compile_org(org_name: str, revision: int, bundle: Bundle) -> CompiledOrg:
    metadata = sa.MetaData()
    objects: dict[str, CompiledObject] = {}
    for obj in bundle.objects:
        table = build_table(obj, metadata)
        fields = {
            d.name: CompiledField(d, FIELD_TYPES[d.type], table.c[d.name] if d.name in table.c else None)
            for d in obj.fields
        }
        values = list(fields.values())
        objects[obj.name] = CompiledObject(
            defn=obj, table=table, fields=fields,
            stored=tuple(f for f in values if f.type.stored),
            writable=tuple(f for f in values if f.type.writable),
            generated=tuple(f for f in values if f.type.generates_value),
            references=tuple(f for f in values if f.defn.target and f.type.stored),
            required=tuple(f for f in values if f.type.is_required(f.defn) and f.type.writable),
            unique=tuple(f for f in values if f.defn.unique and f.type.stored),
            tracked=tuple(f for f in values if (f.defn.track_history or obj.track_history) and f.type.stored),
            formulas=compile_object_formulas(bundle, obj),
        )
    for compiled in objects.values():
        for ref in compiled.references:
            target = objects.get(ref.defn.target or "")
            if target is not None:
                target.children.append((compiled.name, ref))
        for computed in compiled.stored:
            child = objects.get(computed.defn.child_object or "")
            if computed.type.recalculated_on and child is not None:
                child.summarised_by.append((compiled.name, computed))
    return CompiledOrg(org_name, revision, bundle, metadata, objects)


class ModelCache:
    """Compiled revisions per process, keyed by ``(org id, revision)``; least recently used out.

    The org's id, not its name: an org deleted and created again under the same name
    starts again at revision 1 and must not get the old org's model.
    """

    def __init__(self, capacity: int = 64) -> None:
        self._items: OrderedDict[tuple[str, int], CompiledOrg] = OrderedDict()
        self._lock = threading.Lock()
        self.capacity = capacity

    def get(self, org_id: str, revision: int, load_bundle: Any, org_name: str) -> CompiledOrg:
        key = (org_id, revision)
        with self._lock:
            compiled = self._items.get(key)
            if compiled is not None:
                self._items.move_to_end(key)
                return compiled
        compiled = compile_org(org_name, revision, load_bundle())
        with self._lock:
            self._items[key] = compiled
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return compiled

    def forget(self, org_id: str) -> None:
        with self._lock:
            for key in [k for k in self._items if k[0] == org_id]:
                del self._items[key]
