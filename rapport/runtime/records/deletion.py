"""Deleting records: lookups' on_delete (set_null / restrict / cascade), soft delete, undelete.

Referential integrity is enforced here, inside the write transaction, rather than by
database foreign keys (which would make renames, moving data aside and SQLite table
rebuilds fragile). On PostgreSQL, writers of children hold a key-share lock on the parent
row they point at (see ``checks.check_references``), so a concurrent delete waits.
Soft delete, where an object has it, cascades as a soft delete to children that have it
too and as a hard delete to children that do not; set_null leaves children of a
soft-deleted parent untouched, so undelete restores the relationship. Roll-ups over the
records deleted, emptied or undeleted are recomputed for their parents (``rollups``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from rapport.metadata.model import OnDelete
from rapport.platform.actor import Actor
from rapport.platform.errors import Conflict, InvalidRequest, NotFound
from rapport.platform.sqltypes import utcnow
from rapport.runtime.compiled import CompiledField, CompiledObject
from rapport.platform.errors import ProblemCollector
from rapport.runtime.records import rollups
from rapport.runtime.records.history import write_history_rows
from rapport.runtime.records.hooks import HookPoint, Hooks, SaveContext

MAX_CASCADE_DEPTH = 16
#: ids per statement (PostgreSQL takes at most 65,535 parameters, SQLite 32,766)
CHUNK = 5_000


def delete_rows(tx: Any, obj: CompiledObject, rows: list[dict[str, Any]], actor: Actor, hooks: Hooks,
                depth: int = 0, seen: set[tuple[str, str]] | None = None) -> int:
    """Delete ``rows`` of ``obj`` and apply on_delete to their children; returns rows deleted.

    ``seen`` holds the records this delete already covers, so a cycle of cascading lookups
    (a → b → a) ends instead of going round.
    """
    seen = set() if seen is None else seen
    rows = [row for row in rows if (obj.name, row["id"]) not in seen]
    if not rows:
        return 0
    if len(rows) > CHUNK:  # a parent with very many children: keep each statement's id list bounded
        return sum(delete_rows(tx, obj, rows[i:i + CHUNK], actor, hooks, depth, seen)
                   for i in range(0, len(rows), CHUNK))
    seen.update((obj.name, row["id"]) for row in rows)
    if depth > MAX_CASCADE_DEPTH:
        raise Conflict(f"cascade delete from '{obj.name}' goes deeper than {MAX_CASCADE_DEPTH} levels",
                       code="records.cascade_too_deep")
    errors = ProblemCollector()
    contexts = [SaveContext(tx.conn, tx.model, obj, actor, "delete", row, row, errors, tx=tx) for row in rows]
    hooks.run(HookPoint.BEFORE_DELETE, contexts)
    ids = [row["id"] for row in rows]
    soft = "is_deleted" in obj.table.c
    deleted = 0
    for child_name, ref in obj.children:
        child = tx.model.objects[child_name]
        column = child.table.c[ref.name]
        live = [column.in_(ids)]
        if "is_deleted" in child.table.c:
            live.append(child.table.c.is_deleted == sa.false())
        rule = ref.type.on_delete(ref.defn)
        if rule is OnDelete.RESTRICT:
            count = tx.conn.execute(sa.select(sa.func.count()).select_from(child.table).where(*live)).scalar_one()
            if count:
                raise Conflict(
                    f"cannot delete {obj.name} {', '.join(ids[:5])}: {count} '{child.name}' records point at it "
                    f"through field '{ref.name}', which restricts deletion; delete or re-point them first",
                    code="records.delete_restricted")
        elif rule is OnDelete.CASCADE:
            children = [dict(r) for r in tx.conn.execute(sa.select(child.table).where(*live)).mappings()]
            deleted += delete_rows(tx, child, children, actor, hooks, depth + 1, seen)
        elif not soft:
            _set_null(tx, child, ref, live, actor)
    if soft:
        now = utcnow()
        tx.conn.execute(obj.table.update().where(obj.table.c.id.in_(ids)).values(
            is_deleted=True, version=obj.table.c.version + 1, updated_at=now, updated_by=actor.id))
    else:
        tx.conn.execute(obj.table.delete().where(obj.table.c.id.in_(ids)))
    rollups.after_rows(tx.conn, tx.model, obj, rows)  # their parents, through every roll-up over obj
    hooks.run(HookPoint.AFTER_DELETE, contexts)
    return deleted + len(rows)


def _set_null(tx: Any, child: CompiledObject, ref: CompiledField, live: list[Any], actor: Actor) -> None:
    """Empty the children's lookup (their version goes up; tracked lookups get history)."""
    table, now = child.table, utcnow()
    if any(tracked.name == ref.name for tracked in child.tracked):
        rows = tx.conn.execute(sa.select(table.c.id, table.c[ref.name]).where(*live)).all()
        write_history_rows(tx.conn, child, ref, [(record_id, old, None) for record_id, old in rows], actor, now)
    values = {ref.name: None, "version": table.c.version + 1, "updated_at": now, "updated_by": actor.id}
    affected = rollups.before_change(tx.conn, tx.model, child, values, live)  # roll-ups watching these
    tx.conn.execute(table.update().where(*live).values(values))
    rollups.refresh(tx.conn, tx.model, affected)


def undelete_row(tx: Any, obj: CompiledObject, record_id: str, actor: Actor) -> dict[str, Any]:
    if "is_deleted" not in obj.table.c:
        raise InvalidRequest(f"object '{obj.name}' does not keep deleted records (soft_delete is off), "
                             "so there is nothing to undelete", code="records.undelete_unsupported")
    table = obj.table
    row = tx.conn.execute(sa.select(table).where(table.c.id == record_id)).mappings().first()
    if row is None:
        raise NotFound(f"object '{obj.name}' has no record with id {record_id!r}", code="records.not_found")
    if not row["is_deleted"]:
        raise Conflict(f"record {record_id} of object '{obj.name}' is not deleted", code="records.not_deleted")
    for ref in obj.references:  # a detail record cannot come back without its master
        parent = tx.model.objects.get(ref.defn.target or "")
        if ref.type.on_delete(ref.defn) is not OnDelete.CASCADE or parent is None or row[ref.name] is None:
            continue
        query = sa.select(parent.table.c.id).where(parent.table.c.id == row[ref.name])
        if "is_deleted" in parent.table.c:
            query = query.where(parent.table.c.is_deleted == sa.false())
        if tx.conn.execute(query).first() is None:
            raise Conflict(f"record {record_id} of object '{obj.name}' belongs to '{parent.name}' "
                           f"{row[ref.name]}, which is deleted: undelete that first", code="records.parent_deleted")
    now = utcnow()
    values = {"is_deleted": False, "version": row["version"] + 1, "updated_at": now, "updated_by": actor.id}
    tx.conn.execute(table.update().where(table.c.id == record_id).values(**values))
    rollups.after_rows(tx.conn, tx.model, obj, [row])  # it counts again
    return {**dict(row), **values}
