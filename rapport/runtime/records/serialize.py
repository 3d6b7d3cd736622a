"""Rows to JSON-ready records, one precomputed serialiser per compiled object."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rapport.runtime.compiled import SYSTEM_FIELD_DEFS, CompiledObject
from rapport.runtime.fields import FIELD_TYPES

Serializer = Callable[[Mapping[str, Any]], dict[str, Any]]


def serializer(obj: CompiledObject) -> Serializer:
    """The row → record function of ``obj``, built once per compiled object.

    Each column is serialised by its field type (system fields by the type they behave
    like); columns whose stored values are already JSON are copied as they are.
    """
    if obj.serializer is not None:
        return obj.serializer  # type: ignore[no-any-return]
    plain: list[str] = []
    converted: list[tuple[str, Callable[[Any], Any]]] = []
    for column in obj.table.columns:
        defn = SYSTEM_FIELD_DEFS.get(column.name) or obj.fields[column.name].defn
        to_json = FIELD_TYPES[defn.type].json_converter(defn)
        if to_json is None:
            plain.append(column.name)
        else:
            converted.append((column.name, to_json))

    def serialize(row: Mapping[str, Any]) -> dict[str, Any]:
        record = {name: row.get(name) for name in plain}
        for name, convert in converted:
            record[name] = convert(row.get(name))
        return record

    obj.serializer = serialize
    return serialize
