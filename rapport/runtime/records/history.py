"""Field history: one row per changed tracked field, written in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from rapport.platform.actor import Actor
from rapport.platform.ids import new_id
from rapport.platform.tables import history
from rapport.runtime.compiled import CompiledField, CompiledObject


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
