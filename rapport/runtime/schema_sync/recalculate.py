"""Recalculating roll-ups for every record when a metadata apply adds or changes them.

Which changes call for it:

- a roll-up added to an existing object (a new object's table is empty: nothing to do);
- a change of a roll-up's definition: ``child_object``, ``relationship_field``,
  ``function``, ``field``, ``filter`` or its return type (the column changes type first,
  through :class:`AlterColumn`, without converting the old values);
- a change of how a child field the roll-up watches is stored (type, scale, …): the
  conversion may have rewritten the values it summarises or filters on;
- then, transitively, every roll-up that summarises or filters on a recalculated one.

The steps come last in the plan, after every column exists, lower chain levels first. Each
recalculates in batches of parent ids, reporting progress per batch, inside the apply's
transaction: an apply run as a background job shows how far it got.

Toggling the child object's soft delete needs no recalculation: switched on, no record is
deleted yet; switched off, it is refused while deleted records exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapport.metadata.diff import Change, FieldAdded, FieldChanged, ObjectAdded
from rapport.metadata.model import Bundle, FieldDef
from rapport.runtime.fields import FIELD_TYPES
from rapport.runtime.records.rollups import recalculate
from rapport.runtime.rollup_definitions import RollupKey, chain_levels, depends_on, rollups_of, watched_fields
from rapport.runtime.schema_sync.planner import STORAGE_KEYS
from rapport.runtime.schema_sync.steps import Inspection, Step, StepContext


@dataclass
class RecalculateRollup(Step):
    object: str
    field: FieldDef
    ddl: bool = False
    _rows: int | None = None

    def describe(self) -> str:
        rows = "every record" if self._rows is None else f"{self._rows} record{'' if self._rows == 1 else 's'}"
        return f"recalculate roll-up '{self.object}.{self.field.name}' for {rows}"

    def inspect(self, ctx: StepContext) -> Inspection:
        self._rows = ctx.count(self.object)
        return Inspection(affected_rows=self._rows)

    def apply(self, ctx: StepContext) -> None:
        recalculate(ctx.conn, ctx.model, self.object, self.field.name, ctx.progress)


def recalculations(changes: list[Change], new: Bundle) -> list[RecalculateRollup]:
    """The recalculation steps ``changes`` call for, in chain order (see the module's docstring)."""
    defs = {(obj.name, defn.name): defn for obj, defn, _ in rollups_of(new)}
    if not defs:
        return []
    wanted: set[RollupKey] = set()
    for change in changes:
        if isinstance(change, FieldAdded):
            wanted.add((change.object, change.field.name))
        elif isinstance(change, FieldChanged):
            keys, key = set(change.keys), (change.object, change.new.name)
            if change.old.type != change.new.type or keys & FIELD_TYPES[change.new.type].recalculated_on:
                wanted.add(key)
            if keys & STORAGE_KEYS:
                wanted.update(k for k, d in defs.items()
                              if d.child_object == change.object and change.new.name in watched_fields(d))
    created = {c.object.name for c in changes if isinstance(c, ObjectAdded)}
    return _in_chain_order(new, defs, wanted, created)


def recalculate_watching(ctx: StepContext, object_name: str, field_name: str) -> None:
    """Recalculate the roll-ups over ``object_name`` that watch ``field_name`` (and what they
    feed), after its values were rewritten outside a plan (a restore of moved-aside values)."""
    defs = {(obj.name, defn.name): defn for obj, defn, _ in rollups_of(ctx.new_bundle)}
    wanted = {k for k, d in defs.items() if d.child_object == object_name and field_name in watched_fields(d)}
    for step in _in_chain_order(ctx.new_bundle, defs, wanted, set()):
        step.apply(ctx)


def _in_chain_order(bundle: Bundle, defs: dict[RollupKey, FieldDef], wanted: set[RollupKey],
                    created: set[str]) -> list[RecalculateRollup]:
    """``wanted`` and every roll-up it feeds, lower chain levels first; none on new objects."""
    wanted = wanted & defs.keys()
    while True:
        fed = {k for k, d in defs.items() if k not in wanted and any(dep in wanted for dep in depends_on(bundle, d))}
        if not fed:
            break
        wanted |= fed
    levels = chain_levels(bundle)
    ordered = sorted((k for k in wanted if k[0] not in created), key=lambda k: (levels.get(k, 1), k))
    return [RecalculateRollup(obj, defs[(obj, name)]) for obj, name in ordered]
