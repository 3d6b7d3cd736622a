"""System-computed types: formula (not stored), rollup and autonumber (system-written)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, ClassVar
from collections.abc import Callable, Iterable, Mapping

import sqlalchemy as sa

from rapport.metadata.model import Bundle, FieldDef, ObjectDef
from rapport.platform.errors import Problem
from rapport.runtime.fields.base import (
    EQUALITY_OPERATORS, ORDER_OPERATORS, TEXT_OPERATORS, FieldType, FieldValueError, Operator, or_null,
)

AUTONUMBER_PLACEHOLDER = re.compile(r"\{(0+)\}")
#: digits after the point of a numeric formula whose metadata names no scale
FORMULA_DEFAULT_SCALE = 2
#: the longest text a formula's value is taken to be (as a long text area)
FORMULA_MAX_TEXT = 131_072


class _ValuesOfAnotherType(FieldType):
    """A computed type whose values are those of another field type: a formula's return type,
    or what a roll-up summarises. Filter operators and operands, cursors, JSON and formulas
    treat its values as that type's (``value_type``)."""

    widget = "readonly"
    writable = False
    #: what the metadata calls a field of this type, in problems
    noun: ClassVar[str]
    #: the flags a computed field cannot have
    refused_flags: ClassVar[tuple[str, ...]] = ("required", "unique", "external_id")

    def value_type(self, field: FieldDef) -> tuple[FieldType, FieldDef]:
        """The field type of the values, and a field definition of that type they fit."""
        raise NotImplementedError

    def check_options(self, field: FieldDef, obj: ObjectDef, bundle: Bundle, at: str) -> Iterable[Problem]:
        for flag in self.refused_flags:
            if getattr(field, flag):
                yield Problem(f"{at}/{flag}", "metadata.invalid",
                              f"{self.noun} '{field.name}' of object '{obj.name}' is computed, so it cannot "
                              f"be {flag.replace('_', ' ')}")

    def field_operators(self, field: FieldDef) -> Mapping[str, Operator]:
        value_type, value_field = self.value_type(field)
        return value_type.field_operators(value_field)

    def coerce_operand(self, op: str, value: Any, field: FieldDef) -> Any:
        value_type, value_field = self.value_type(field)
        return value_type.coerce_operand(op, value, value_field)

    def to_json(self, value: Any, field: FieldDef) -> Any:
        value_type, value_field = self.value_type(field)
        return value_type.to_json(value, value_field)

    def json_converter(self, field: FieldDef) -> Callable[[Any], Any] | None:
        value_type, value_field = self.value_type(field)
        return value_type.json_converter(value_field)

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        value_type, value_field = self.value_type(field)
        return or_null(value_type.value_schema(value_field))  # a computed value may be empty

    def formula_kind(self, field: FieldDef) -> str:
        value_type, value_field = self.value_type(field)
        return value_type.formula_kind(value_field)


class FormulaType(_ValuesOfAnotherType):
    """A formula is computed by the formula engine in SQL; it has no column. Its values are
    those of its ``return_type``."""

    name = "formula"
    stored = False
    noun = "formula field"
    refused_flags = ("required", "unique", "indexed", "external_id")

    def describe(self, field: FieldDef) -> dict[str, Any]:
        return {"return_type": field.return_type, "expression": field.expression}

    def coerce(self, value: Any, field: FieldDef) -> Any:
        raise FieldValueError("records.read_only", "formula fields are computed and cannot be written")

    def value_type(self, field: FieldDef) -> tuple[FieldType, FieldDef]:
        return _formula_values(field.return_type or "text", field.scale)


@lru_cache(maxsize=256)
def _formula_values(kind: str, scale: int | None) -> tuple[FieldType, FieldDef]:
    from rapport.runtime.fields import FIELD_TYPES  # the registry imports this module

    numeric = kind in ("number", "currency", "percent")
    scale = (FORMULA_DEFAULT_SCALE if scale is None else scale) if numeric else None
    # text results may be longer than a text field's 255 characters (a cursor carries them)
    length = FORMULA_MAX_TEXT if kind == "text" else None
    return FIELD_TYPES[kind], FieldDef("value", kind, "Value", precision=38 if numeric else None, scale=scale,
                                       max_length=length)


class RollupType(_ValuesOfAnotherType):
    """A roll-up summary: stored on the parent, kept exact on child writes (``records.rollups``).

    Its values have the type of what it summarises, ``return_type``, which the runtime fills
    in when metadata is loaded (``rapport.runtime.rollup_definitions``): count is an integer;
    sum, min and max have the summarised field's type, numbers as numeric(38, that field's
    scale). Column, JSON and filter operands are those of that type, so a roll-up filters and
    sorts like the field it summarises.
    """

    name = "rollup"
    noun = "roll-up"
    #: what a roll-up of a roll-up may compute depends on the inner one's return type
    #: (checked when return types are derived); any of these can apply
    aggregates = frozenset({"count", "sum", "min", "max"})
    recalculated_on = frozenset({"child_object", "relationship_field", "function", "field", "filter",
                                 "return_type", "scale"})

    def value_type(self, field: FieldDef) -> tuple[FieldType, FieldDef]:
        return _rollup_values(field.return_type, field.scale)

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine[Any]:
        value_type, value_field = self.value_type(field)
        return value_type.column_type(value_field)

    def check_options(self, field: FieldDef, obj: ObjectDef, bundle: Bundle, at: str) -> Iterable[Problem]:
        yield from super().check_options(field, obj, bundle, at)
        child = bundle.object(field.child_object or "")
        if child is None:
            yield Problem(at + "/child_object", "metadata.unknown_object",
                          f"roll-up '{field.name}' summarises object {field.child_object!r}, "
                          "which is not in the bundle")
            return
        relation = child.field(field.relationship_field or "")
        if relation is None or relation.target != obj.name:
            yield Problem(at + "/relationship_field", "metadata.unknown_field",
                          f"roll-up '{field.name}' needs a field of '{child.name}' that points at "
                          f"'{obj.name}'; {field.relationship_field!r} is not one")
        summarised = child.field(field.field or "")
        if summarised is None and (field.function != "count" or field.field is not None):
            yield Problem(at + "/field", "metadata.unknown_field",
                          f"roll-up '{field.name}' ({field.function}) needs a field of '{child.name}' "
                          f"to summarise; {field.field!r} is not one")
        elif summarised is not None and field.function not in _aggregates(summarised.type):
            yield Problem(at + "/function", "metadata.invalid",
                          f"roll-up '{field.name}' cannot {field.function} field '{child.name}.{summarised.name}' "
                          f"({summarised.type}); it can {', '.join(sorted(_aggregates(summarised.type)))}")

    def describe(self, field: FieldDef) -> dict[str, Any]:
        return {"child_object": field.child_object, "relationship_field": field.relationship_field,
                "function": field.function, "field": field.field, "return_type": field.return_type}

    def coerce(self, value: Any, field: FieldDef) -> Any:
        # roll-ups are never written by callers (not ``writable``); this parses filter operands
        value_type, value_field = self.value_type(field)
        return value_type.coerce(value, value_field)

    def default_value(self, field: FieldDef) -> Any:
        """A new record has no children: a count or sum of none is 0, a min or max is empty."""
        if field.function in ("count", "sum"):
            return self.coerce(0, field)
        return None


#: digits of a number roll-up: a sum of many values needs room beyond the summarised field's
ROLLUP_PRECISION = 38


@lru_cache(maxsize=256)
def _rollup_values(return_type: str | None, scale: int | None) -> tuple[FieldType, FieldDef]:
    from rapport.runtime.fields import FIELD_TYPES  # the registry imports this module

    if return_type is None:  # a definition not loaded through the runtime: numbers, as before
        return_type, scale = "number", 8
    return FIELD_TYPES[return_type], FieldDef("value", return_type, "Value", precision=ROLLUP_PRECISION,
                                              scale=scale)


def _aggregates(type_name: str) -> frozenset[str]:
    from rapport.runtime.fields import FIELD_TYPES  # the registry imports this module

    return FIELD_TYPES[type_name].aggregates


class AutonumberType(FieldType):
    """``INV-{0000}``: numbered on create from a database sequence (no counter-row hotspot)."""

    name = "autonumber"
    widget = "readonly"
    writable = False
    generates_value = True
    defaults = {"start": 1}
    operators = {**EQUALITY_OPERATORS, **ORDER_OPERATORS, **TEXT_OPERATORS}

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine[Any]:
        return sa.String(255)

    def check_options(self, field: FieldDef, obj: ObjectDef, bundle: Bundle, at: str) -> Iterable[Problem]:
        if len(AUTONUMBER_PLACEHOLDER.findall(field.format or "")) != 1:
            yield Problem(at + "/format", "metadata.invalid",
                          f"autonumber format {field.format!r} needs exactly one placeholder like {{0000}}")

    def describe(self, field: FieldDef) -> dict[str, Any]:
        return {"format": field.format, "start": field.start}

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        head, width, tail = _parts(field)
        return {"type": ["string", "null"], "maxLength": 255, "examples": [f"{head}{1:0{width}d}{tail}"]}

    def coerce(self, value: Any, field: FieldDef) -> Any:
        # autonumbers are never written by callers (not ``writable``); this parses filter operands
        if value is None or isinstance(value, str):
            return value
        raise FieldValueError("records.wrong_type", f"expected text like {field.format!r}, got {value!r}")

    def generate(self, field: FieldDef, numbers: list[int]) -> list[Any]:
        head, width, tail = _parts(field)
        return [f"{head}{n:0{width}d}{tail}" for n in numbers]

    def sequence_number(self, field: FieldDef, value: Any) -> int | None:
        head, _, tail = _parts(field)
        if not isinstance(value, str) or not value.startswith(head) or not value.endswith(tail):
            return None
        digits = value[len(head): len(value) - len(tail) if tail else None]
        return int(digits) if digits.isdigit() else None


def _parts(field: FieldDef) -> tuple[str, int, str]:
    """``INV-{0000}-X`` → ("INV-", 4, "-X")."""
    fmt = field.format or "{0}"
    match = AUTONUMBER_PLACEHOLDER.search(fmt)
    assert match is not None  # checked when the metadata was loaded
    return fmt[: match.start()], len(match.group(1)), fmt[match.end():]
