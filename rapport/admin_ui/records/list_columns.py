"""A list view's columns: field paths as the user may see them, and each row's cells.

A column is a field path of the listed object (``amount``) or of a looked-up record
(``account.name``), resolved with the user's access: a path through a field or an object
the user may not read resolves to nothing, so the column is left out. Each cell is shown
by its field's widget (``show``); the name-field column links to the record, a lookup
column to the looked-up record, titled by that record's name field (selected in the same
query, one join).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from rapport.admin_ui.records.views import record_url
from rapport.admin_ui.widgets import FieldView, field_view, shown_as
from rapport.runtime.compiled import SYSTEM_FIELD_DEFS, SYSTEM_FIELDS, CompiledField, CompiledObject, CompiledOrg
from rapport.runtime.fields import FIELD_TYPES
from rapport.runtime.permissions import Access
from rapport.runtime.query.joins import MAX_HOPS

#: a type whose values have an order offers 'lt': its columns sort by their values
ORDERED_OPERATOR = "lt"
#: how many fields besides the name field the default view shows
DEFAULT_EXTRA_COLUMNS = 5
_SYSTEM: dict[str, CompiledField] = {
    name: CompiledField(SYSTEM_FIELD_DEFS[name], FIELD_TYPES[SYSTEM_FIELD_DEFS[name].type], None)
    for name in SYSTEM_FIELDS
}


@dataclass(frozen=True)
class FieldPath:
    """A field path the user may read: the field at its end and the object holding it."""

    path: str
    label: str
    field: CompiledField
    owner: CompiledObject
    #: the path of the lookup that leads to ``owner`` ('' for the listed object itself)
    parent: str

    @property
    def ordered(self) -> bool:
        return ORDERED_OPERATOR in self.field.type.field_operators(self.field.defn)


def resolve_path(model: CompiledOrg, access: Access, root: CompiledObject, path: str) -> FieldPath | None:
    """``path`` read from ``root`` as this user may, or ``None`` when it names a field or an
    object they may not read, or nothing a query can select."""
    parts = path.split(".")
    if not path or len(parts) > MAX_HOPS + 1 or not all(parts):
        return None
    owner, labels = root, []
    for name in parts[:-1]:
        link = _readable(owner, name, access)
        target = model.objects.get(link.defn.target or "") if link is not None else None
        if link is None or target is None or not access.on(target.name).read:
            return None
        labels.append(link.defn.label)
        owner = target
    found = _readable(owner, parts[-1], access)
    if found is None or not (found.type.stored or found.name in owner.formulas.fields):
        return None
    return FieldPath(path, _joined(*labels, found.defn.label), found, owner, ".".join(parts[:-1]))


def _joined(*labels: str) -> str:
    """A path's label: "Account Industry"; "Account name" rather than "Account Account name"."""
    joined = labels[-1]
    for label in reversed(labels[:-1]):
        joined = joined if joined.lower().startswith(label.lower()) else f"{label} {joined}"
    return joined


def _readable(obj: CompiledObject, name: str, access: Access) -> CompiledField | None:
    compiled = _SYSTEM.get(name) or obj.fields.get(name)
    return compiled if compiled is not None and access.on(obj.name).can_read_field(name) else None


@dataclass(frozen=True)
class Column:
    path: str
    label: str
    #: the field as its widget shows it, without a value (each cell adds its own)
    view: FieldView
    numeric: bool
    #: the path a click on the header sorts by (``None``: the column does not sort)
    sort_key: str | None
    #: a lookup: the path of the looked-up record's title
    title_path: str | None = None
    #: a name column: the object whose record the cell links to, and the path of that record's id
    record_object: str | None = None
    record_id_path: str | None = None

    def selects(self) -> tuple[str, ...]:
        """The paths the query selects for this column."""
        extra = (self.title_path, self.record_id_path)
        return (self.path, *(p for p in extra if p))


@dataclass(frozen=True)
class Cell:
    view: FieldView
    #: a link around the shown value (the record page, for a name column)
    href: str | None = None
    #: what the link says when the value is empty (the record's id)
    fallback: str | None = None


def column_for(model: CompiledOrg, access: Access, root: CompiledObject, found: FieldPath) -> Column:
    defn, owner = found.field.defn, found.owner
    view = field_view(defn, found.field.type)
    title = _title_path(model, access, root, found)
    if defn.target:
        sort_key = title
    else:
        sort_key = found.path if found.ordered else None
    names_record = defn.name == owner.defn.name_field or (found.path == "id")
    return Column(found.path, found.label, view, _numeric(view), sort_key, title_path=title,
                  record_object=owner.name if names_record else None,
                  record_id_path=(found.parent or "id") if names_record else None)


def _title_path(model: CompiledOrg, access: Access, root: CompiledObject, found: FieldPath) -> str | None:
    """A lookup's path to the looked-up record's name field, if the user may read it."""
    target = model.objects.get(found.field.defn.target or "")
    if target is None or not target.defn.name_field:
        return None
    title = resolve_path(model, access, root, f"{found.path}.{target.defn.name_field}")
    return title.path if title is not None else None


def _numeric(view: FieldView) -> bool:
    shown = shown_as(view)
    kinds = shown.type.value_schema(shown.defn).get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return "number" in kinds or "integer" in kinds


def columns_of(model: CompiledOrg, access: Access, root: CompiledObject, paths: tuple[str, ...]) -> list[Column]:
    """The columns of ``paths`` the user may read (each once), led by a column that opens the
    record: the name field's (added when the view leaves it out), or the record id's when
    the user may not read the name field."""
    columns: list[Column] = []
    for path in dict.fromkeys(paths):
        found = resolve_path(model, access, root, path)
        if found is not None:
            columns.append(column_for(model, access, root, found))
    if not any(c.record_id_path == "id" for c in columns):
        lead = resolve_path(model, access, root, root.defn.name_field or "") or resolve_path(model, access, root, "id")
        assert lead is not None  # the id is readable wherever the object is
        columns.insert(0, column_for(model, access, root, lead))
    return columns


def default_columns(access: Access, root: CompiledObject) -> tuple[str, ...]:
    """The default view's columns: the name field, then up to five other readable stored fields."""
    grant = access.on(root.name)
    name = root.defn.name_field
    others = [f.name for f in root.stored if f.name != name and grant.can_read_field(f.name)]
    return (*((name,) if name else ()), *others[:DEFAULT_EXTRA_COLUMNS])


def cells_of(columns: list[Column], record: dict[str, Any]) -> list[Cell]:
    """One record's cells, in the columns' order."""
    cells = []
    for column in columns:
        value = record.get(column.path)
        view = column.view
        if view.defn.target:
            title = record.get(column.title_path) if column.title_path else None
            link = record_url(view.defn.target or "", str(value)) if value else None
            view = replace(view, value=value, title=str(title) if title not in (None, "") else None, link=link)
        else:
            view = replace(view, value=value)
        href = fallback = None
        if column.record_object and column.record_id_path:
            record_id = record.get(column.record_id_path)
            if record_id:
                href = record_url(column.record_object, str(record_id))
                fallback = str(record_id) if value in (None, "", []) else None
        cells.append(Cell(view, href, fallback))
    return cells
