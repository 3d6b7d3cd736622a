"""The layout a record page and its forms use, as one user may see it.

An object's layout named ``default`` is used, else its first; an object without one gets a
generated layout: one two-column "Details" section with every field, and a related list
for each object that points at it. Whichever it is, :func:`layout_for` leaves out what the
user may not read: hidden fields, related lists of objects (or through lookups) they may
not read, and columns they may not see.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapport.metadata.model import Layout, LayoutItem, LayoutSection, RelatedList
from rapport.runtime.compiled import CompiledField, CompiledObject, CompiledOrg
from rapport.runtime.permissions import Access, FieldAccess

DEFAULT_LAYOUT = "default"
#: the columns a generated related list shows besides the child's name field
GENERATED_COLUMNS = 3


@dataclass(frozen=True)
class PlacedField:
    """A field where the layout puts it, with the user's access to it."""

    field: CompiledField
    access: FieldAccess
    #: the layout makes it required / read-only on this page's form
    required: bool = False
    readonly: bool = False

    @property
    def name(self) -> str:
        return self.field.name


@dataclass(frozen=True)
class Section:
    label: str
    columns: int
    fields: tuple[PlacedField, ...]


@dataclass(frozen=True)
class Column:
    """A column of a related list: a field path of the child (``name``, ``account.name``),
    the field it ends at, and its heading."""

    path: str
    field: CompiledField
    label: str


@dataclass(frozen=True)
class RelatedSpec:
    """A related list: the child object's records whose ``field`` holds the parent's id."""

    child: CompiledObject
    field: CompiledField
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class PageLayout:
    name: str
    sections: tuple[Section, ...]
    related: tuple[RelatedSpec, ...]

    def fields(self) -> list[PlacedField]:
        return [placed for section in self.sections for placed in section.fields]


def layout_for(model: CompiledOrg, obj: CompiledObject, access: Access) -> PageLayout:
    """The layout of ``obj``'s pages as the user with ``access`` sees it."""
    layout = chosen_layout(model, obj)
    grant = access.on(obj.name)
    sections = []
    for section in layout.sections:
        placed = tuple(PlacedField(obj.fields[item.field], grant.field_access(item.field), item.required,
                                   item.readonly)
                       for item in section.fields
                       if item.field in obj.fields and grant.can_read_field(item.field))
        if placed:
            sections.append(Section(section.label, 2 if section.columns == 2 else 1, placed))
    related = tuple(spec for spec in (_related(model, access, r) for r in layout.related_lists) if spec)
    return PageLayout(layout.name, tuple(sections), related)


def chosen_layout(model: CompiledOrg, obj: CompiledObject) -> Layout:
    """The object's ``default`` layout, else its first one, else a generated one."""
    layouts = [layout for layout in model.bundle.layouts if layout.object == obj.name]
    named = next((layout for layout in layouts if layout.name == DEFAULT_LAYOUT), None)
    return named or (layouts[0] if layouts else generated_layout(model, obj))


def generated_layout(model: CompiledOrg, obj: CompiledObject) -> Layout:
    """Every field in one two-column section; a related list per lookup pointing here."""
    details = LayoutSection("Details", 2, tuple(LayoutItem(name) for name in obj.fields))
    related = []
    for child_name, field in obj.children:
        child = model.objects[child_name]
        name_field = child.defn.name_field
        others = [f.name for f in child.stored if f.name not in (name_field, field.name)]
        columns = ([name_field] if name_field else []) + others[:GENERATED_COLUMNS]
        related.append(RelatedList(child_name, field.name, tuple(columns)))
    return Layout(obj.name, DEFAULT_LAYOUT, (details,), tuple(related))


def column(model: CompiledOrg, access: Access, obj: CompiledObject, path: str) -> Column | None:
    """The column of field path ``path`` of ``obj``, if the user may read every step of it."""
    parts = path.split(".")
    labels = []
    current: CompiledObject | None = obj
    field: CompiledField | None = None
    for index, name in enumerate(parts):
        if current is None or not access.on(current.name).can_read_field(name) or name not in current.fields:
            return None
        field = current.fields[name]
        labels.append(field.defn.label)
        last = index == len(parts) - 1
        current = None if last else model.objects.get(field.defn.target or "")
    assert field is not None
    return Column(path, field, " › ".join(labels))


def _related(model: CompiledOrg, access: Access, related: RelatedList) -> RelatedSpec | None:
    child = model.objects.get(related.object)
    if child is None or related.field not in child.fields:
        return None
    grant = access.on(child.name)
    if not grant.read or not grant.can_read_field(related.field):
        return None
    paths = related.columns or ((child.defn.name_field,) if child.defn.name_field else ())
    columns = tuple(c for c in (column(model, access, child, path) for path in paths) if c is not None)
    return RelatedSpec(child, child.fields[related.field], columns)
