"""Relationship types: lookup and master_detail (a foreign key to another object's id)."""

from __future__ import annotations

from typing import Any
from collections.abc import Iterable

import sqlalchemy as sa

from rapport.metadata.model import Bundle, FieldDef, ObjectDef, OnDelete
from rapport.platform.errors import Problem
from rapport.runtime.fields.base import (
    EQUALITY_OPERATORS, Converted, FieldType, FieldValueError, describe_value,
)

ID_LENGTH = 36


def _printable_ascii(value: str) -> bool:
    """Record ids are short printable ASCII strings (UUIDs, or ids imported from elsewhere)."""
    return value.isascii() and value.isprintable()


class LookupType(FieldType):
    name = "lookup"
    widget = "lookup"
    defaults = {"on_delete": OnDelete.SET_NULL}
    operators = dict(EQUALITY_OPERATORS)
    converts_from = frozenset({"lookup", "master_detail"})

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine[Any]:
        return sa.String(ID_LENGTH)

    def check_options(self, field: FieldDef, obj: ObjectDef, bundle: Bundle, at: str) -> Iterable[Problem]:
        target = bundle.object(field.target or "")
        if target is None:
            known = ", ".join(repr(n) for n in bundle.object_names()) or "none"
            yield Problem(at + "/target", "metadata.unknown_object",
                          f"field '{field.name}' of object '{obj.name}' points at object "
                          f"{field.target!r}, which is not in the bundle (objects: {known})")
            return
        if field.required and self.on_delete(field) is OnDelete.SET_NULL:
            yield Problem(at + "/on_delete", "metadata.invalid",
                          f"field '{field.name}' of object '{obj.name}' is required, so it cannot be emptied "
                          "when its record is deleted: set on_delete to 'restrict' or 'cascade'")
        if field.relationship_name:
            for other in bundle.objects:
                for f in other.fields:
                    if (f is not field and f.target == target.name
                            and f.relationship_name == field.relationship_name):
                        yield Problem(at + "/relationship_name", "metadata.duplicate_name",
                                      f"relationship name {field.relationship_name!r} on object "
                                      f"'{target.name}' is already used by {other.name}.{f.name}")

    def describe(self, field: FieldDef) -> dict[str, Any]:
        return {"target": field.target, "on_delete": self.on_delete(field).value,
                "relationship_name": field.relationship_name}

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        """The id of the record pointed at (a short printable ASCII string)."""
        return {"type": ["string", "null"], "minLength": 1, "maxLength": ID_LENGTH, "pattern": "^[ -~]*$"}

    def coerce(self, value: Any, field: FieldDef) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, dict) and isinstance(value.get("id"), str):
            value = value["id"]
        if not isinstance(value, str) or len(value) > ID_LENGTH or not _printable_ascii(value):
            raise FieldValueError("records.wrong_type",
                                  f"expected the id of a '{field.target}' record, got {describe_value(value)}")
        return value

    def needs_data_check(self, old: FieldDef, new: FieldDef) -> bool:
        return old.target != new.target

    def convert(self, value: Any, old: FieldDef, new: FieldDef, old_type: FieldType) -> Converted:
        if old.target != new.target:
            raise FieldValueError("schema.not_convertible",
                                  f"it points at a '{old.target}' record, not a '{new.target}' record")
        return Converted(self.coerce(value, new))


class MasterDetailType(LookupType):
    name = "master_detail"
    defaults = {}
    controls_sharing = True

    def on_delete(self, field: FieldDef) -> OnDelete:
        return OnDelete.CASCADE

    def is_required(self, field: FieldDef) -> bool:
        return True  # a detail record cannot exist without its master

    def check_options(self, field: FieldDef, obj: ObjectDef, bundle: Bundle, at: str) -> Iterable[Problem]:
        yield from super().check_options(field, obj, bundle, at)
        if field.target == obj.name:
            yield Problem(at + "/target", "metadata.invalid",
                          f"a master-detail field cannot point at its own object '{obj.name}'")
