"""The field-type registry: one small class per type, one registry, one way to add a type."""

from __future__ import annotations

from collections.abc import Mapping

from rapport.runtime.fields.base import Converted, FieldType, FieldValueError
from rapport.runtime.fields.choice import BooleanType, MultipicklistType, PicklistType
from rapport.runtime.fields.computed import AutonumberType, FormulaType, RollupType
from rapport.runtime.fields.numeric import CurrencyType, IntegerType, NumberType, PercentType
from rapport.runtime.fields.relation import LookupType, MasterDetailType
from rapport.runtime.fields.temporal import DateTimeType, DateType, TimeType, UtcDateTime
from rapport.runtime.fields.text import EmailType, PhoneType, TextareaType, TextType, UrlType

__all__ = [
    "FIELD_TYPES", "Converted", "FieldType", "FieldValueError", "UtcDateTime", "field_type",
    "register_field_type",
]

_REGISTRY: dict[str, FieldType] = {}


def register_field_type(field_type: FieldType) -> None:
    if field_type.name in _REGISTRY:
        raise ValueError(f"field type {field_type.name!r} is already registered")
    _REGISTRY[field_type.name] = field_type


for _type in (
    TextType(), TextareaType(), EmailType(), PhoneType(), UrlType(),
    IntegerType(), NumberType(), CurrencyType(), PercentType(),
    BooleanType(), DateType(), DateTimeType(), TimeType(),
    PicklistType(), MultipicklistType(), LookupType(), MasterDetailType(),
    FormulaType(), RollupType(), AutonumberType(),
):
    register_field_type(_type)

#: every registered type by name (read-only view)
FIELD_TYPES: Mapping[str, FieldType] = _REGISTRY


def field_type(name: str) -> FieldType:
    return _REGISTRY[name]
