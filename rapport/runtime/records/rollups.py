"""Roll-up summaries kept exact, inside the transaction of the write that changes them.

After a batch of child writes (create, update, delete, soft delete, undelete, the set_null
of a parent's delete) the parents whose roll-ups may have changed are collected, per
roll-up, and recomputed from scratch: one aggregate UPDATE per roll-up per chunk of ids::

    UPDATE account SET deal_total = (SELECT coalesce(sum(c.amount), 0) FROM deal AS c
                                     WHERE c.account = account.id AND <filter> AND NOT c.is_deleted)
    WHERE account.id IN (...)

A parent is affected when a child pointing at it is created, deleted or undeleted, and
when an update changes one of the fields the roll-up watches (the relationship field, the
summarised field, a field its filter names): then both the prior and the new parent are.
Recomputing from scratch, rather than adding differences, keeps the value exact whatever
happened before. Values: a count or a sum of no children is 0 (as Salesforce shows), a min
or max of none is empty (null). Soft-deleted children never count.

On PostgreSQL the affected parent rows are first locked ``FOR NO KEY UPDATE``, in id
order, in a statement of their own. Child writers hold ``FOR KEY SHARE`` on the parents
they point at (``checks.check_references``), which this lock does not conflict with
(``FOR UPDATE`` would, and two writers would deadlock); two writers of the same parent's
children queue on it instead, and as READ COMMITTED takes a new snapshot per statement,
the second writer's recompute sees the first one's committed children: no count is lost.

A recomputed roll-up may itself be summarised (or filtered on) by a roll-up of the
grandparent: those are recomputed next, at most ``MAX_CHAIN`` levels up (metadata with
deeper chains or circles is refused when loaded). Recomputing is system maintenance: the
parent's ``version``, ``updated_at`` and ``updated_by`` stay, and no field history is
written, so a user's optimistic-concurrency version is not spent by a child's write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.util import ClauseAdapter

from rapport.platform.errors import Conflict
from rapport.runtime.compiled import CompiledField, CompiledObject, CompiledOrg
from rapport.runtime.query.filters import compile_filter
from rapport.runtime.query.joins import JoinPaths
from rapport.runtime.records.hooks import SaveContext
from rapport.runtime.rollup_definitions import MAX_CHAIN, watched_fields

#: parent ids per statement (PostgreSQL takes at most 65,535 parameters, SQLite 32,766)
CHUNK = 5_000
#: parents per statement when every value of a roll-up is recalculated
RECALCULATE_BATCH = 2_000
Progress = Callable[[str, int, "int | None"], None]


@dataclass(frozen=True, eq=False)
class Rollup:
    """One roll-up compiled against a revision: what it watches and how it is computed."""

    parent: CompiledObject
    field: CompiledField
    child: CompiledObject
    relationship: str
    watched: frozenset[str]
    #: the value for the parent row an UPDATE of ``parent.table`` is at (a correlated subquery)
    value: sa.ScalarSelect[Any]

    @property
    def key(self) -> str:
        return f"{self.parent.name}.{self.field.name}"

    def update(self, where: sa.ColumnElement[bool]) -> sa.Update:
        return self.parent.table.update().where(where).values({self.field.name: self.value})


def rollups_over(model: CompiledOrg, child: CompiledObject) -> tuple[Rollup, ...]:
    """The roll-ups that summarise ``child``'s records (compiled once per revision)."""
    if child.rollups is None:
        child.rollups = tuple(_compile(model, model.objects[parent], field, child)
                              for parent, field in child.summarised_by)
    return child.rollups  # type: ignore[no-any-return]


def _compile(model: CompiledOrg, parent: CompiledObject, field: CompiledField, child: CompiledObject) -> Rollup:
    defn = field.defn
    assert defn.relationship_field is not None  # checked when the metadata was loaded
    rows = child.table.alias("_rollup_child")  # an alias: a roll-up may summarise its own object
    conditions = [rows.c[defn.relationship_field] == parent.table.c.id]
    if "is_deleted" in rows.c:
        conditions.append(rows.c.is_deleted == sa.false())
    where = compile_filter(defn.filter, JoinPaths(model, child), at=f"/{parent.name}/{defn.name}/filter")
    if where is not None:  # the filter names the child's own columns (no joins): move them to the alias
        conditions.append(ClauseAdapter(rows).traverse(where))
    value = sa.select(_aggregate(defn.function, rows.c[defn.field] if defn.field else None)).where(*conditions)
    return Rollup(parent, field, child, defn.relationship_field, watched_fields(defn), value.scalar_subquery())


def _aggregate(function: str | None, column: sa.ColumnElement[Any] | None) -> sa.ColumnElement[Any]:
    if function == "count":  # of records, or of records with a value in ``field`` when one is named
        return sa.func.count() if column is None else sa.func.count(column)
    assert column is not None  # sum, min and max name a field (checked when loaded)
    if function == "sum":
        return sa.func.coalesce(sa.func.sum(column), 0)
    return sa.func.min(column) if function == "min" else sa.func.max(column)


class Affected:
    """Parent ids whose roll-ups must be recomputed, per roll-up."""

    def __init__(self) -> None:
        self._ids: dict[str, tuple[Rollup, set[str]]] = {}

    def add(self, rollup: Rollup, parent_id: Any) -> None:
        if parent_id is not None:
            self._ids.setdefault(rollup.key, (rollup, set()))[1].add(parent_id)

    def items(self) -> Iterator[tuple[Rollup, set[str]]]:
        return iter(self._ids.values())

    def __bool__(self) -> bool:
        return bool(self._ids)


# -- what the write paths call ------------------------------------------------------------

def after_save(conn: Connection, model: CompiledOrg, obj: CompiledObject, contexts: Sequence[SaveContext]) -> None:
    """Records of ``obj`` were created or updated (step 7 of the record pipeline)."""
    if not obj.summarised_by or not contexts:
        return
    affected = Affected()
    for rollup in rollups_over(model, obj):
        for ctx in contexts:
            prior, record = ctx.prior, ctx.record
            if prior is None:
                affected.add(rollup, record.get(rollup.relationship))
            elif any(prior.get(name) != record.get(name) for name in rollup.watched):
                affected.add(rollup, prior.get(rollup.relationship))
                affected.add(rollup, record.get(rollup.relationship))
    recomputed = refresh(conn, model, affected)
    if obj.name in recomputed:  # a roll-up over its own object: the returned records show it
        _reload(conn, obj, [ctx.record for ctx in contexts if ctx.record.get("id") in recomputed[obj.name]])


def after_rows(conn: Connection, model: CompiledOrg, obj: CompiledObject, rows: Iterable[Mapping[str, Any]]) -> None:
    """Records of ``obj`` were deleted (hard or soft) or undeleted: their parents change."""
    if not obj.summarised_by:
        return
    affected = Affected()
    rollups = rollups_over(model, obj)
    for row in rows:
        for rollup in rollups:
            affected.add(rollup, row.get(rollup.relationship))
    refresh(conn, model, affected)


def before_change(conn: Connection, model: CompiledOrg, obj: CompiledObject, fields: Collection[str],
                  where: Sequence[sa.ColumnElement[bool]]) -> Affected:
    """The parents whose roll-ups watch any of ``fields`` of the records of ``obj`` matching
    ``where``, read before a bulk change of those fields (``refresh`` them after it)."""
    affected = Affected()
    if not obj.summarised_by:
        return affected
    watching = [r for r in rollups_over(model, obj) if r.watched.intersection(fields)]
    if watching:
        columns = sorted({r.relationship for r in watching})
        for row in conn.execute(sa.select(*(obj.table.c[c] for c in columns)).where(*where).distinct()).mappings():
            for rollup in watching:
                affected.add(rollup, row[rollup.relationship])
    return affected


def refresh(conn: Connection, model: CompiledOrg, affected: Affected, depth: int = 0) -> dict[str, set[str]]:
    """Recompute the affected parents (then the grandparents of chained roll-ups).

    Returns the ids recomputed per parent object.
    """
    if not affected:
        return {}
    if depth >= MAX_CHAIN:
        keys = ", ".join(sorted(r.key for r, _ in affected.items()))
        raise Conflict(f"roll-ups feed each other more than {MAX_CHAIN} levels deep (at {keys})",
                       code="records.rollup_too_deep")
    by_parent: dict[str, set[str]] = {}
    for rollup, ids in affected.items():
        by_parent.setdefault(rollup.parent.name, set()).update(ids)
    if conn.dialect.name == "postgresql":
        for name in sorted(by_parent):
            _lock(conn, model.objects[name], sorted(by_parent[name]))
    upward = Affected()
    # roll-ups of one parent object over the same parents are one UPDATE (a create of a
    # child changes every roll-up over it, of the same parent)
    together: dict[tuple[str, tuple[str, ...]], list[Rollup]] = {}
    for rollup, ids in affected.items():
        together.setdefault((rollup.parent.name, tuple(sorted(ids))), []).append(rollup)
    for (_, ordered), group in together.items():
        parent = group[0].parent
        for chunk in _chunks(list(ordered)):
            conn.execute(parent.table.update().where(parent.table.c.id.in_(chunk))
                         .values({r.field.name: r.value for r in group}))
        names = {r.field.name for r in group}
        chained = [r for r in rollups_over(model, parent) if r.watched & names]
        if chained:
            _add_parents(conn, parent, list(ordered), chained, upward)
    for name, ids in refresh(conn, model, upward, depth + 1).items():
        by_parent.setdefault(name, set()).update(ids)
    return by_parent


def recalculate(conn: Connection, model: CompiledOrg, parent_name: str, field_name: str,
                progress: Progress | None = None, batch: int = RECALCULATE_BATCH) -> int:
    """Recompute one roll-up for every record of its object, ``batch`` records per statement;
    returns how many. For a roll-up added or changed by a metadata apply."""
    parent = model.object(parent_name)
    child = model.object(parent.field(field_name).defn.child_object or "")
    rollup = next(r for r in rollups_over(model, child) if r.parent is parent and r.field.name == field_name)
    table = parent.table
    total = int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
    done, last = 0, None
    while True:
        query = sa.select(table.c.id).order_by(table.c.id).limit(batch)
        if last is not None:
            query = query.where(table.c.id > last)
        ids = list(conn.execute(query).scalars())
        if not ids:
            return done
        conn.execute(rollup.update(table.c.id.between(ids[0], ids[-1])))
        done, last = done + len(ids), ids[-1]
        if progress is not None:
            progress(f"recalculating roll-up '{rollup.key}'", done, total)


# -- helpers ------------------------------------------------------------------------------

def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def _lock(conn: Connection, parent: CompiledObject, ids: list[str]) -> None:
    """FOR NO KEY UPDATE on the parent rows, in id order (compatible with writers' KEY SHARE)."""
    table = parent.table
    for chunk in _chunks(ids):
        conn.execute(sa.select(table.c.id).where(table.c.id.in_(chunk)).order_by(table.c.id)
                     .with_for_update(key_share=True)).all()


def _add_parents(conn: Connection, obj: CompiledObject, ids: list[str], rollups: list[Rollup],
                 affected: Affected) -> None:
    """The parents (through each of ``rollups``) of the records ``ids`` of ``obj``."""
    columns = sorted({r.relationship for r in rollups})
    for chunk in _chunks(ids):
        query = sa.select(*(obj.table.c[c] for c in columns)).where(obj.table.c.id.in_(chunk)).distinct()
        for row in conn.execute(query).mappings():
            for rollup in rollups:
                affected.add(rollup, row[rollup.relationship])


def _reload(conn: Connection, obj: CompiledObject, records: list[dict[str, Any]]) -> None:
    """Put the recomputed roll-up values of ``obj``'s own ``records`` into them."""
    columns = [f.name for f in obj.stored if f.type.recalculated_on]
    if not records or not columns:
        return
    by_id = {record["id"]: record for record in records}
    for chunk in _chunks(list(by_id)):
        query = sa.select(obj.table.c.id, *(obj.table.c[c] for c in columns)).where(obj.table.c.id.in_(chunk))
        for row in conn.execute(query).mappings():
            by_id[row["id"]].update({c: row[c] for c in columns})
