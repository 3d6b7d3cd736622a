"""The field paths a list view can show, filter and sort by, and the operators each offers.

A path is a field of the object (``amount``), one of its system fields (``created_at``),
or a field of a record one of its lookups points at (``account.name``). The operators of a
path are its field type's (``field_operators``) plus "is empty" and "is not empty" (the
filter model's ``is_null`` with true or false): the editor asks the type, it never branches
on the type's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rapport.metadata.model import FieldDef
from rapport.runtime.compiled import SYSTEM_FIELD_DEFS, CompiledObject, CompiledOrg
from rapport.runtime.fields import FIELD_TYPES, FieldType

IS_NULL, IS_NOT_NULL = "is_null", "is_not_null"
#: the system fields a list view offers (the id and version mean little to people)
SYSTEM_PATHS = ("owner", "created_at", "created_by", "updated_at", "updated_by")
OPERATOR_LABELS = {
    "eq": "equals", "ne": "does not equal", "lt": "is less than", "lte": "is at most", "gt": "is greater than",
    "gte": "is at least", "in": "is one of", "not_in": "is none of", "contains": "contains",
    "not_contains": "does not contain", "starts_with": "starts with", IS_NULL: "is empty",
    IS_NOT_NULL: "is not empty",
}


@dataclass(frozen=True)
class FieldPath:
    path: str
    label: str
    #: what the path belongs to, for grouping the choices ("Deal", "Account (via Account)")
    group: str
    defn: FieldDef
    type: FieldType

    def operators(self) -> list[str]:
        return [*self.type.field_operators(self.defn), IS_NULL, IS_NOT_NULL]

    def takes_list(self, op: str) -> bool:
        """Whether ``op`` compares with several values (``in``): typed comma-separated."""
        return op in ("in", "not_in")

    def suggestions(self) -> list[str]:
        """Values to suggest for the filter's value (a picklist's, from the type's description)."""
        values: Any = self.type.describe(self.defn).get("values") or []
        return [v["value"] for v in values if isinstance(v, dict) and "value" in v]


def operator_label(op: str) -> str:
    return OPERATOR_LABELS.get(op, op.replace("_", " "))


def field_paths(model: CompiledOrg, obj: CompiledObject) -> dict[str, FieldPath]:
    """Every path of ``obj`` an admin can choose, in the order the editor offers them."""
    paths: dict[str, FieldPath] = {}
    own = obj.defn.label
    for compiled in obj.fields.values():
        paths[compiled.name] = FieldPath(compiled.name, compiled.defn.label, own, compiled.defn, compiled.type)
    for name in SYSTEM_PATHS:
        defn = SYSTEM_FIELD_DEFS[name]
        paths[name] = FieldPath(name, defn.label, own, defn, FIELD_TYPES[defn.type])
    for link in obj.fields.values():
        target = model.objects.get(link.defn.target or "")
        if target is None or link.column is None:
            continue
        group = f"{target.defn.label} (via {link.defn.label})"
        for compiled in target.fields.values():
            path = f"{link.name}.{compiled.name}"
            paths[path] = FieldPath(path, f"{link.defn.label} › {compiled.defn.label}", group, compiled.defn,
                                    compiled.type)
    return paths


def grouped(paths: dict[str, FieldPath]) -> list[tuple[str, list[FieldPath]]]:
    """The paths by group, for ``<optgroup>``s."""
    groups: dict[str, list[FieldPath]] = {}
    for path in paths.values():
        groups.setdefault(path.group, []).append(path)
    return list(groups.items())
