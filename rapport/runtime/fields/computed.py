"""System-computed types: formula (not stored), rollup and autonumber (system-written)."""

from __future__ import annotations

import re
from typing import Any
from collections.abc import Iterable

import sqlalchemy as sa

from rapport.metadata.model import Bundle, FieldDef, ObjectDef
from rapport.platform.errors import Problem
from decimal import Decimal

from rapport.runtime.fields.numeric import exact_json, parse_number
from rapport.runtime.fields.base import (
    EQUALITY_OPERATORS, ORDER_OPERATORS, TEXT_OPERATORS, FieldType, FieldValueError,
)

AUTONUMBER_PLACEHOLDER = re.compile(r"\{(0+)\}")


class FormulaType(FieldType):
    """A formula is computed by the formula engine in SQL; it has no column."""

    name = "formula"
    widget = "readonly"
    stored = False
    writable = False

    def check_options(self, field: FieldDef, obj: ObjectDef, bundle: Bundle, at: str) -> Iterable[Problem]:
        for flag in ("required", "unique", "indexed", "external_id"):
            if getattr(field, flag):
                yield Problem(f"{at}/{flag}", "metadata.invalid",
                              f"formula field '{field.name}' of object '{obj.name}' is computed, so it cannot "
                              f"be {flag.replace('_', ' ')}")

    def describe(self, field: FieldDef) -> dict[str, Any]:
        return {"return_type": field.return_type, "expression": field.expression}

    def coerce(self, value: Any, field: FieldDef) -> Any:
        raise FieldValueError("records.read_only", "formula fields are computed and cannot be written")


class RollupType(FieldType):
    """A roll-up summary: stored on the parent, kept up to date on child writes."""

    name = "rollup"
    widget = "readonly"
    writable = False

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine[Any]:
        return sa.Numeric(38, 8, asdecimal=True)

    def check_options(self, field: FieldDef, obj: ObjectDef, bundle: Bundle, at: str) -> Iterable[Problem]:
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
        if field.function != "count" and summarised is None:
            yield Problem(at + "/field", "metadata.unknown_field",
                          f"roll-up '{field.name}' ({field.function}) needs a field of '{child.name}' "
                          f"to summarise; {field.field!r} is not one")
        elif summarised is not None and field.function not in _aggregates(summarised.type):
            yield Problem(at + "/function", "metadata.invalid",
                          f"roll-up '{field.name}' cannot {field.function} field '{child.name}.{summarised.name}' "
                          f"({summarised.type}); it can {', '.join(sorted(_aggregates(summarised.type)))}")

    def describe(self, field: FieldDef) -> dict[str, Any]:
        return {"child_object": field.child_object, "relationship_field": field.relationship_field,
                "function": field.function, "field": field.field}

    def coerce(self, value: Any, field: FieldDef) -> Any:
        # roll-ups are never written by callers (not ``writable``); this parses filter operands
        if value is None or value == "":
            return None
        return parse_number(value)

    def to_json(self, value: Any, field: FieldDef) -> Any:
        if value is None:
            return None
        number = Decimal(value)
        return exact_json(number, 0 if number == number.to_integral_value() else 8)


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
