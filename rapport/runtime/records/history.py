"""Field history: one row per changed tracked field, written in the same transaction, and
read back a page at a time, newest first.

A row keeps the field's old and new value as its type's JSON (what the API returns for
the field), who changed it (the actor's id) and when. Reading is by record and by the
fields the reader may see; the record service checks that the record is visible first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rapport.platform.actor import Actor
from rapport.platform.errors import InvalidRequest
from rapport.platform.ids import new_id
from rapport.platform.tables import history
from rapport.runtime.compiled import CompiledField, CompiledObject
from rapport.runtime.fields.temporal import utc_iso
from rapport.runtime.query.spec import decode_cursor, encode_cursor

#: newest first; the row id (time-ordered) breaks ties between the fields of one write
HISTORY_SORT = ["-changed_at", "-id"]


@dataclass(frozen=True)
class HistoryPage:
    """One page of a record's field changes, newest first, and the cursor of the next page."""

    changes: list[dict[str, Any]]
    next_cursor: str | None = None


def history_rows(obj: CompiledObject, prior: dict[str, Any], record: dict[str, Any], actor: Actor,
                 now: datetime) -> list[dict[str, Any]]:
    """The history rows of one update: one per tracked field whose value changed."""
    rows = []
    for compiled in obj.tracked:
        old, new = prior.get(compiled.name), record.get(compiled.name)
        if old != new:
            rows.append(_row(obj, compiled, prior["id"], old, new, actor, now))
    return rows


def write_history_rows(conn: Connection, obj: CompiledObject, field: CompiledField,
                       changes: list[tuple[str, Any, Any]], actor: Actor, now: datetime) -> None:
    """History of one field changed on many records: ``(record id, old, new)`` each."""
    rows = [_row(obj, field, record_id, old, new, actor, now) for record_id, old, new in changes if old != new]
    if rows:
        conn.execute(history.insert(), rows)


def _row(obj: CompiledObject, field: CompiledField, record_id: str, old: Any, new: Any, actor: Actor,
         now: datetime) -> dict[str, Any]:
    return {
        "id": new_id(), "object": obj.name, "record_id": record_id, "field": field.name,
        "old_value": field.type.to_json(old, field.defn), "new_value": field.type.to_json(new, field.defn),
        "changed_at": now, "changed_by": actor.id,
    }


def read_history(conn: Connection, obj: CompiledObject, record_id: str, fields: Sequence[str], limit: int,
                 cursor: str | None = None) -> HistoryPage:
    """The changes of ``fields`` of one record: ``limit`` of them, after ``cursor`` (the
    ``next_cursor`` of the page before)."""
    c = history.c
    where = [c.object == obj.name, c.record_id == record_id, c.field.in_(list(fields))]
    if cursor is not None:
        changed_at, row_id = decode_cursor(cursor, obj.name, HISTORY_SORT, [_is(datetime), _is(str)])
        where.append(sa.or_(c.changed_at < changed_at, sa.and_(c.changed_at == changed_at, c.id < row_id)))
    query = sa.select(history).where(*where).order_by(c.changed_at.desc(), c.id.desc()).limit(limit + 1)
    rows = conn.execute(query).mappings().all()
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = encode_cursor(obj.name, HISTORY_SORT, [last["changed_at"], last["id"]])
    changes = [{"id": r["id"], "field": r["field"], "old_value": r["old_value"], "new_value": r["new_value"],
                "changed_at": utc_iso(r["changed_at"]), "changed_by": r["changed_by"]} for r in page]
    return HistoryPage(changes, next_cursor)


def history_page_size(limit: int | None, default: int, maximum: int) -> int:
    """The number of changes a page holds: ``limit``, from 1 to ``maximum``, else ``default``."""
    if limit is None:
        return min(default, maximum)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise InvalidRequest(f"the page size must be a whole number from 1 to {maximum}, got {limit!r}",
                             code="query.bad_limit")
    return limit


def _is(kind: type) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, kind)
