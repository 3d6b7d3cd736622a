"""From typed metadata changes to a plan of steps, inspected against the live database."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rapport.metadata.diff import (
    Change, ComponentChanged, FieldAdded, FieldChanged, FieldRemoved, FieldRenamed, ObjectAdded,
    ObjectChanged, ObjectRemoved, ObjectRenamed,
)
from rapport.metadata.model import Bundle
from rapport.platform.errors import Problem
from rapport.runtime.fields import FIELD_TYPES
from rapport.runtime.schema_sync.alter import AlterColumn
from rapport.runtime.schema_sync.aside import DropColumn, DropTable
from rapport.runtime.schema_sync.steps import (
    AddColumn, ChangeIndex, CreateTable, Inspection, MetadataOnly, RenameColumn, RenameTable, Safety,
    Step, ToggleSoftDelete,
)

STORAGE_KEYS = frozenset({"type", "max_length", "precision", "scale", "values", "restricted", "min", "max",
                          "required", "format", "target"})
INDEX_KEYS = frozenset({"unique", "indexed", "external_id"})


@dataclass
class Plan:
    changes: list[Change]
    steps: list[Step]
    inspections: list[Inspection] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def data_losing(self) -> list[Step]:
        return [s for s, i in zip(self.steps, self.inspections) if s.effective_safety(i) is Safety.DATA_LOSING]

    @property
    def refusals(self) -> list[Problem]:
        return self.problems + [p for i in self.inspections for p in i.refusals]

    @property
    def is_empty(self) -> bool:
        return not self.steps

    def step_dicts(self) -> list[dict[str, Any]]:
        return [s.to_dict(i) for s, i in zip(self.steps, self.inspections)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "changes": [{"kind": c.kind, "description": c.describe()} for c in self.changes],
            "steps": self.step_dicts(),
            "data_losing": len(self.data_losing),
            "refused": [p.to_dict() for p in self.refusals],
        }

    def describe(self) -> str:
        if not self.steps:
            return "No changes."
        marks = {Safety.SAFE: "safe", Safety.CONVERTING: "CONVERTS", Safety.DATA_LOSING: "LOSES DATA"}
        lines = []
        for number, (step, inspection) in enumerate(zip(self.steps, self.inspections), 1):
            rows = "" if inspection.affected_rows is None else f" — {inspection.affected_rows} rows"
            lines.append(f"{number:>3}. [{marks[step.effective_safety(inspection)]}] {step.describe()}{rows}")
        for problem in self.refusals:
            lines.append(f"     REFUSED: {problem.message}")
        return "\n".join(lines)


def steps_for(changes: list[Change]) -> tuple[list[Step], list[Problem]]:
    steps: list[Step] = []
    problems: list[Problem] = []
    for change in changes:
        match change:
            case ObjectRenamed(old, new):
                steps.append(RenameTable(old, new))
            case FieldRenamed(object_name, old, new):
                steps.append(RenameColumn(object_name, old, new))
            case FieldRemoved(object_name, removed):
                steps.append(DropColumn(object_name, removed))
            case ObjectRemoved(obj):
                steps.append(DropTable(obj))
            case ObjectAdded(obj):
                steps.append(CreateTable(obj))
            case FieldAdded(object_name, added):
                steps.append(AddColumn(object_name, added))
            case ObjectChanged(old, new, keys):
                if "soft_delete" in keys:
                    steps.append(ToggleSoftDelete(new.name, new.soft_delete))
                if set(keys) - {"soft_delete"}:
                    steps.append(MetadataOnly(change.describe()))
            case FieldChanged():
                _field_steps(change, steps, problems)
            case ComponentChanged():
                steps.append(MetadataOnly(change.describe()))
    return steps, problems


def rename_problems(old: Bundle, new: Bundle) -> list[Problem]:
    """A rename whose old name the bundle also keeps is ambiguous: refuse it, don't guess.

    (A ``renamed_from`` left in a bundle after its rename was applied is simply ignored:
    the org has no object or field of that old name any more.)
    """
    problems = []
    for i, obj in enumerate(new.objects):
        before = old.object(obj.name)
        if obj.renamed_from and before is None and old.object(obj.renamed_from) and new.object(obj.renamed_from):
            problems.append(Problem(
                f"/objects/{i}/renamed_from", "schema.ambiguous_rename",
                f"object '{obj.name}' is renamed from '{obj.renamed_from}', but the bundle still has an object "
                f"'{obj.renamed_from}'; rename in one apply, add the new object in the next"))
        if before is None:
            continue
        for j, f in enumerate(obj.fields):
            if f.renamed_from and before.field(f.name) is None and before.field(f.renamed_from) \
                    and obj.field(f.renamed_from):
                problems.append(Problem(
                    f"/objects/{i}/fields/{j}/renamed_from", "schema.ambiguous_rename",
                    f"field '{obj.name}.{f.name}' is renamed from '{f.renamed_from}', but the object still has "
                    f"a field '{f.renamed_from}'; rename in one apply, add the new field in the next"))
    return problems


def _field_steps(change: FieldChanged, steps: list[Step], problems: list[Problem]) -> None:
    old, new, keys = change.old, change.new, set(change.keys)
    old_type, new_type = FIELD_TYPES[old.type], FIELD_TYPES[new.type]
    at = f"/objects/{change.object}/fields/{new.name}/type"
    if old.type != new.type:
        if old_type.stored != new_type.stored:
            # a stored field becomes computed, or the reverse: the column goes or comes
            steps.append(DropColumn(change.object, old) if old_type.stored else AddColumn(change.object, new))
            return
        if old.type not in new_type.converts_from:
            allowed = sorted(n for n, t in FIELD_TYPES.items() if old.type in t.converts_from)
            problems.append(Problem(
                at, "schema.unsupported_conversion",
                f"field '{change.object}.{new.name}' cannot change from {old.type} to {new.type}; "
                f"a {old.type} field can become: {', '.join(allowed) or 'no other type'}",
                hint="add a new field, copy the values, then delete the old one"))
            return
    storage = keys & STORAGE_KEYS
    # a roll-up's definition: its column may change type; its values are recalculated by a
    # step of their own at the end of the plan (see recalculate.py)
    recalculated = keys & new_type.recalculated_on
    if storage or recalculated:
        alter = AlterColumn(change.object, old, new)
        if alter.needs_scan or alter.becomes_required or old.type != new.type or _column_differs(old, new):
            steps.append(alter)
        elif storage:
            steps.append(MetadataOnly(change.describe()))
    if keys & INDEX_KEYS:
        steps.append(ChangeIndex(change.object, old, new))
    if keys - STORAGE_KEYS - INDEX_KEYS - recalculated:
        steps.append(MetadataOnly(change.describe()))


def _column_differs(old: Any, new: Any) -> bool:
    old_type, new_type = FIELD_TYPES[old.type], FIELD_TYPES[new.type]
    if not old_type.stored:
        return False
    return repr(old_type.column_type(old)) != repr(new_type.column_type(new))

