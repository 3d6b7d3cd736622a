"""Rows to JSON-ready records, one precomputed serialiser per compiled object."""

from __future__ import annotations

from datetime import datetime, UTC
from typing import Any
from collections.abc import Callable, Mapping

from rapport.runtime.compiled import CompiledObject

Serializer = Callable[[Mapping[str, Any]], dict[str, Any]]


def _datetime(value: Any) -> Any:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _plain(value: Any) -> Any:
    return value


SYSTEM_SERIALIZERS: dict[str, Callable[[Any], Any]] = {
    "id": _plain, "owner": _plain, "created_at": _datetime, "created_by": _plain,
    "updated_at": _datetime, "updated_by": _plain, "version": _plain, "is_deleted": bool,
}


def serializer(obj: CompiledObject) -> Serializer:
    cached = getattr(obj, "_serializer", None)
    if cached is not None:
        return cached
    plan: list[tuple[str, Callable[[Any], Any]]] = []
    for column in obj.table.columns:
        if column.name in SYSTEM_SERIALIZERS:
            plan.append((column.name, SYSTEM_SERIALIZERS[column.name]))
        else:
            compiled = obj.fields[column.name]
            plan.append((column.name, _field_serializer(compiled.type.to_json, compiled.defn)))

    def serialize(row: Mapping[str, Any]) -> dict[str, Any]:
        return {name: convert(row.get(name)) for name, convert in plan}

    obj._serializer = serialize  # type: ignore[attr-defined]
    return serialize


def _field_serializer(to_json: Callable[[Any, Any], Any], defn: Any) -> Callable[[Any], Any]:
    return lambda value: to_json(value, defn)


def json_datetime(value: datetime | None) -> str | None:
    return _datetime(value)
