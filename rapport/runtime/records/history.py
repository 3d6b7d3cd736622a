"""Field history: one row per changed tracked field, written in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from rapport.platform.actor import Actor
from rapport.platform.ids import new_id
from rapport.platform.tables import history
from rapport.runtime.compiled import CompiledObject


def write_history(conn: Connection, obj: CompiledObject, prior: dict[str, Any], record: dict[str, Any],
                  actor: Actor, now: datetime) -> None:
    rows = []
    for compiled in obj.tracked:
        old, new = prior.get(compiled.name), record.get(compiled.name)
        if old != new:
            rows.append({
                "id": new_id(), "object": obj.name, "record_id": prior["id"], "field": compiled.name,
                "old_value": compiled.type.to_json(old, compiled.defn),
                "new_value": compiled.type.to_json(new, compiled.defn),
                "changed_at": now, "changed_by": actor.id,
            })
    if rows:
        conn.execute(history.insert(), rows)
