"""Typed, frozen metadata: what the loader returns and everything past it works with.

A field is one flat dataclass: the common keys plus every type-specific option as an
optional attribute (the shape of Salesforce's CustomField). Which options a type takes,
and their defaults, belong to that type's class in the field-type registry; here they are
just typed slots. Nothing past the loader handles raw dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any
from collections.abc import Iterator

RESERVED_FIELD_NAMES = frozenset(
    {"id", "owner", "created_at", "created_by", "updated_at", "updated_by", "version", "is_deleted"}
)


class Sharing(StrEnum):
    PRIVATE = "private"
    PUBLIC_READ = "public_read"
    PUBLIC_READ_WRITE = "public_read_write"


class OnDelete(StrEnum):
    SET_NULL = "set_null"
    RESTRICT = "restrict"
    CASCADE = "cascade"


@dataclass(frozen=True)
class PicklistValue:
    value: str
    label: str
    default: bool = False
    active: bool = True


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    label: str
    required: bool = False
    unique: bool = False
    indexed: bool = False
    default: Any = None
    default_formula: str | None = None
    help_text: str | None = None
    description: str | None = None
    track_history: bool = False
    external_id: bool = False
    renamed_from: str | None = None
    # type-specific options (see each type's class for which apply)
    max_length: int | None = None
    min: float | None = None
    max: float | None = None
    precision: int | None = None
    scale: int | None = None
    values: tuple[PicklistValue, ...] = ()
    restricted: bool | None = None
    target: str | None = None
    on_delete: OnDelete | None = None
    relationship_name: str | None = None
    return_type: str | None = None
    expression: str | None = None
    child_object: str | None = None
    relationship_field: str | None = None
    function: str | None = None
    field: str | None = None
    filter: Any = None
    format: str | None = None
    start: int | None = None
    #: options the runtime filled in from the rest of the bundle when loading it (a roll-up's
    #: return_type and scale); ``to_dict`` leaves them out, so a stored or exported bundle says
    #: only what its author said and they follow the bundle when it changes
    derived: frozenset[str] = frozenset()

    def picklist_value_names(self) -> tuple[str, ...]:
        return tuple(v.value for v in self.values)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "values":
                if value:
                    data["values"] = [_picklist_value_dict(v) for v in value]
                continue
            if value is None or value == f.default or f.name in ("renamed_from", "derived") or f.name in self.derived:
                if f.name in ("name", "type", "label"):
                    data[f.name] = value
                continue
            data[f.name] = value.value if isinstance(value, StrEnum) else value
        return data


def _picklist_value_dict(value: PicklistValue) -> dict[str, Any]:
    data: dict[str, Any] = {"value": value.value, "label": value.label}
    if value.default:
        data["default"] = True
    if not value.active:
        data["active"] = False
    return data


@dataclass(frozen=True)
class ObjectDef:
    name: str
    label: str
    plural_label: str
    fields: tuple[FieldDef, ...] = ()
    description: str | None = None
    name_field: str | None = None
    sharing: Sharing = Sharing.PRIVATE
    track_history: bool = False
    searchable: bool = True
    soft_delete: bool = False
    renamed_from: str | None = None

    def field(self, name: str) -> FieldDef | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "label": self.label, "plural_label": self.plural_label}
        if self.description:
            data["description"] = self.description
        if self.name_field:
            data["name_field"] = self.name_field
        if self.sharing is not Sharing.PRIVATE:
            data["sharing"] = self.sharing.value
        if self.track_history:
            data["track_history"] = True
        if not self.searchable:
            data["searchable"] = False
        if self.soft_delete:
            data["soft_delete"] = True
        data["fields"] = [f.to_dict() for f in self.fields]
        return data


@dataclass(frozen=True)
class LayoutItem:
    field: str
    required: bool = False
    readonly: bool = False


@dataclass(frozen=True)
class LayoutSection:
    label: str
    columns: int = 1
    fields: tuple[LayoutItem, ...] = ()


@dataclass(frozen=True)
class RelatedList:
    object: str
    field: str
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Layout:
    object: str
    name: str
    sections: tuple[LayoutSection, ...] = ()
    related_lists: tuple[RelatedList, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.object}.{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "object": self.object,
            "name": self.name,
            "sections": [
                {
                    "label": s.label,
                    "columns": s.columns,
                    "fields": [
                        i.field if not (i.required or i.readonly)
                        else {"field": i.field, **({"required": True} if i.required else {}),
                              **({"readonly": True} if i.readonly else {})}
                        for i in s.fields
                    ],
                }
                for s in self.sections
            ],
            "related_lists": [
                {"object": r.object, "field": r.field, "columns": list(r.columns)}
                for r in self.related_lists
            ],
        }


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool = False

    def to_json(self) -> str:
        return f"-{self.field}" if self.descending else self.field


@dataclass(frozen=True)
class ListView:
    object: str
    name: str
    label: str
    columns: tuple[str, ...] = ()
    filter: Any = None
    sort: tuple[SortKey, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.object}.{self.name}"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "object": self.object, "name": self.name, "label": self.label,
            "columns": list(self.columns),
        }
        if self.filter is not None:
            data["filter"] = self.filter
        if self.sort:
            data["sort"] = [s.to_json() for s in self.sort]
        return data


@dataclass(frozen=True)
class Component:
    """A rule or script: stored, validated for shape, and run by later areas.

    ``body`` keeps the component's keys as loaded (JSON values only, already validated by
    its JSON Schema); the areas that run them (formulas, workflow, sandbox) compile it.
    """

    kind: str
    object: str | None
    name: str
    body: tuple[tuple[str, Any], ...]

    @property
    def key(self) -> str:
        return f"{self.object}.{self.name}" if self.object else self.name

    def get(self, key: str, default: Any = None) -> Any:
        return dict(self.body).get(key, default)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.body)


COMPONENT_KINDS = ("validation_rules", "workflow_rules", "scripts", "profiles", "permission_sets")


@dataclass(frozen=True)
class Bundle:
    objects: tuple[ObjectDef, ...] = ()
    layouts: tuple[Layout, ...] = ()
    list_views: tuple[ListView, ...] = ()
    validation_rules: tuple[Component, ...] = ()
    workflow_rules: tuple[Component, ...] = ()
    scripts: tuple[Component, ...] = ()
    profiles: tuple[Component, ...] = ()
    permission_sets: tuple[Component, ...] = ()

    def object(self, name: str) -> ObjectDef | None:
        for o in self.objects:
            if o.name == name:
                return o
        return None

    def object_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.objects)

    def components(self) -> Iterator[tuple[str, Component]]:
        for kind in COMPONENT_KINDS:
            for component in getattr(self, kind):
                yield kind, component

    def without_renames(self) -> Bundle:
        """The bundle as stored in a revision: rename hints are consumed by the diff."""
        objects = tuple(
            replace(o, renamed_from=None, fields=tuple(replace(f, renamed_from=None) for f in o.fields))
            for o in self.objects
        )
        return replace(self, objects=objects)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.objects:
            data["objects"] = [o.to_dict() for o in self.objects]
        if self.layouts:
            data["layouts"] = [layout.to_dict() for layout in self.layouts]
        if self.list_views:
            data["list_views"] = [v.to_dict() for v in self.list_views]
        for kind in COMPONENT_KINDS:
            items = getattr(self, kind)
            if items:
                data[kind] = [c.to_dict() for c in items]
        return data


EMPTY_BUNDLE = Bundle()
