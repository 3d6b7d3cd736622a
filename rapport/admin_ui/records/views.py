"""What the end-user pages share: their addresses and a record's title."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from rapport.runtime.compiled import CompiledObject
from rapport.runtime.permissions import Access


def list_url(object_name: str) -> str:
    return f"/o/{quote(object_name)}"


def record_url(object_name: str, record_id: str) -> str:
    return f"/o/{quote(object_name)}/{quote(record_id)}"


def new_url(object_name: str) -> str:
    return f"/o/{quote(object_name)}/new"


def edit_url(object_name: str, record_id: str) -> str:
    return f"{record_url(object_name, record_id)}/edit"


def title_field(obj: CompiledObject, access: Access) -> str | None:
    """The field that titles ``obj``'s records for this user (its name field, if readable)."""
    name = obj.defn.name_field
    return name if name and access.on(obj.name).can_read_field(name) else None


def title_of(record: dict[str, Any], title: str | None) -> str:
    """A record's title: its name field's value, or its id when it has none (or it is hidden)."""
    value = record.get(title) if title else None
    return str(value) if value not in (None, "") else str(record["id"])
