"""The difference between two bundles, as typed changes in a fixed order.

Like Django's migration autodetector, the diff runs in phases — renames, removals,
additions, alterations, then components (layouts, list views, rules, scripts) — and each
change is one small object that can describe itself. A rename is declared, not guessed:
the new definition names its old name in ``renamed_from``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from rapport.metadata.model import Bundle, FieldDef, ObjectDef

COMPONENT_GROUPS = ("layouts", "list_views", "validation_rules", "workflow_rules", "scripts", "profiles",
                    "permission_sets")


@dataclass(frozen=True)
class Change:
    def describe(self) -> str:
        raise NotImplementedError

    @property
    def kind(self) -> str:
        return type(self).__name__


@dataclass(frozen=True)
class ObjectRenamed(Change):
    old: ObjectDef
    new: ObjectDef

    def describe(self) -> str:
        return f"rename object '{self.old.name}' to '{self.new.name}'"


@dataclass(frozen=True)
class FieldRenamed(Change):
    object: str
    old: FieldDef
    new: FieldDef

    def describe(self) -> str:
        return f"rename field '{self.object}.{self.old.name}' to '{self.new.name}'"


@dataclass(frozen=True)
class FieldRemoved(Change):
    object: str
    field: FieldDef

    def describe(self) -> str:
        return f"delete field '{self.object}.{self.field.name}' ({self.field.type})"


@dataclass(frozen=True)
class ObjectRemoved(Change):
    object: ObjectDef

    def describe(self) -> str:
        return f"delete object '{self.object.name}'"


@dataclass(frozen=True)
class ObjectAdded(Change):
    object: ObjectDef

    def describe(self) -> str:
        return f"create object '{self.object.name}' with {len(self.object.fields)} fields"


@dataclass(frozen=True)
class FieldAdded(Change):
    object: str
    field: FieldDef

    def describe(self) -> str:
        return f"add field '{self.object}.{self.field.name}' ({self.field.type})"


@dataclass(frozen=True)
class ObjectChanged(Change):
    old: ObjectDef
    new: ObjectDef
    keys: tuple[str, ...]

    def describe(self) -> str:
        return f"change object '{self.new.name}': {', '.join(self.keys)}"


@dataclass(frozen=True)
class FieldChanged(Change):
    object: str
    old: FieldDef
    new: FieldDef
    keys: tuple[str, ...]

    def describe(self) -> str:
        what = ", ".join(
            f"type {self.old.type} → {self.new.type}" if k == "type" else k for k in self.keys
        )
        return f"change field '{self.object}.{self.new.name}': {what}"


@dataclass(frozen=True)
class ComponentChanged(Change):
    group: str  # "layouts", "list_views", "validation_rules", …
    key: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None

    def describe(self) -> str:
        noun = self.group[:-1].replace("_", " ")
        verb = "add" if self.old is None else "delete" if self.new is None else "change"
        return f"{verb} {noun} '{self.key}'"

    def __hash__(self) -> int:
        return hash((self.group, self.key))


def diff(old: Bundle, new: Bundle) -> list[Change]:
    """The changes that turn ``old`` into ``new``, in the order they must be applied."""
    renames: list[Change] = []
    removals: list[Change] = []
    additions: list[Change] = []
    alterations: list[Change] = []

    matched: list[tuple[ObjectDef, ObjectDef]] = []
    claimed: set[str] = set()
    for new_obj in new.objects:
        old_obj = old.object(new_obj.name)
        if old_obj is None and new_obj.renamed_from and new.object(new_obj.renamed_from) is None:
            old_obj = old.object(new_obj.renamed_from)
            if old_obj is not None:
                renames.append(ObjectRenamed(old_obj, new_obj))
        if old_obj is None:
            additions.append(ObjectAdded(new_obj))
            continue
        claimed.add(old_obj.name)
        matched.append((old_obj, new_obj))
    for old_obj in old.objects:
        if old_obj.name not in claimed:
            removals.append(ObjectRemoved(old_obj))

    # A field that points at a renamed object points at the same records under its new name.
    renamed = {old_obj.name: new_obj.name for old_obj, new_obj in matched if old_obj.name != new_obj.name}
    for old_obj, new_obj in matched:
        changed = _changed_keys(old_obj, new_obj, skip={"name", "fields", "renamed_from"})
        if changed:
            alterations.append(ObjectChanged(old_obj, new_obj, changed))
        old_obj = replace(old_obj, fields=tuple(_follow_renames(f, renamed) for f in old_obj.fields))
        _diff_fields(old_obj, new_obj, renames, removals, additions, alterations)

    components = _diff_components(old, new)
    return renames + removals + additions + alterations + components


def _diff_fields(old_obj: ObjectDef, new_obj: ObjectDef, renames: list[Change], removals: list[Change],
                 additions: list[Change], alterations: list[Change]) -> None:
    claimed: set[str] = set()
    for new_field in new_obj.fields:
        old_field = old_obj.field(new_field.name)
        if old_field is None and new_field.renamed_from and new_obj.field(new_field.renamed_from) is None:
            old_field = old_obj.field(new_field.renamed_from)
            if old_field is not None:
                renames.append(FieldRenamed(new_obj.name, old_field, new_field))
        if old_field is None:
            additions.append(FieldAdded(new_obj.name, new_field))
            continue
        claimed.add(old_field.name)
        changed = _changed_keys(replace(old_field, name=new_field.name), new_field, skip={"renamed_from", "derived"})
        if changed:
            alterations.append(FieldChanged(new_obj.name, replace(old_field, name=new_field.name),
                                            new_field, changed))
    for old_field in old_obj.fields:
        if old_field.name not in claimed:
            removals.append(FieldRemoved(new_obj.name, old_field))


def _follow_renames(field: FieldDef, renamed: dict[str, str]) -> FieldDef:
    if field.target in renamed:
        field = replace(field, target=renamed[field.target])
    if field.child_object in renamed:
        field = replace(field, child_object=renamed[field.child_object])
    return field


def _changed_keys(old: Any, new: Any, skip: set[str]) -> tuple[str, ...]:
    return tuple(
        f.name for f in fields(new)
        if f.name not in skip and getattr(old, f.name) != getattr(new, f.name)
    )


def _diff_components(old: Bundle, new: Bundle) -> list[Change]:
    changes: list[Change] = []
    for group in COMPONENT_GROUPS:
        before = {c.key: c.to_dict() for c in getattr(old, group)}
        after = {c.key: c.to_dict() for c in getattr(new, group)}
        for key in sorted(before.keys() - after.keys()):
            changes.append(ComponentChanged(group, key, before[key], None))
        for key in sorted(after.keys()):
            if before.get(key) != after[key]:
                changes.append(ComponentChanged(group, key, before.get(key), after[key]))
    return changes
