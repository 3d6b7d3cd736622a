"""Choice types: boolean, picklist, multipicklist."""

from __future__ import annotations

from typing import Any, ClassVar
from collections.abc import Iterable

import sqlalchemy as sa

from rapport.metadata.model import Bundle, FieldDef, ObjectDef
from rapport.platform.errors import Problem
from rapport.runtime.fields.base import (
    EQUALITY_OPERATORS, ORDER_OPERATORS, TEXT_OPERATORS, Converted, FieldType, FieldValueError,
    check_text, describe_value, operand_text, or_null,
)

TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})


class BooleanType(FieldType):
    """Never blank: a boolean is false until set (a new column fills existing rows with false)."""

    name = "boolean"
    formula_value = "boolean"
    widget = "checkbox"
    operators = {"eq": EQUALITY_OPERATORS["eq"], "ne": EQUALITY_OPERATORS["ne"]}
    converts_from = frozenset({"text", "integer"})

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine[Any]:
        return sa.Boolean(create_constraint=False)

    def server_default(self, field: FieldDef) -> Any:
        return sa.false()

    def nullable(self, field: FieldDef) -> bool:
        return False

    def coerce(self, value: Any, field: FieldDef) -> Any:
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
            return value.strip().lower() in TRUE_WORDS
        raise FieldValueError("records.wrong_type", f"expected true or false, got {describe_value(value)}")

    def is_blank(self, value: Any) -> bool:
        return value is None

    def default_value(self, field: FieldDef) -> Any:
        return self.coerce(field.default, field)

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        return {"type": "boolean"}  # never blank


def _picklist_problems(field: FieldDef, at: str) -> Iterable[Problem]:
    seen: set[str] = set()
    for index, value in enumerate(field.values):
        if value.default and not value.active:
            yield Problem(f"{at}/values/{index}/default", "metadata.invalid",
                          f"picklist value {value.value!r} is the default, so it must be active")
        if value.value in seen:
            yield Problem(f"{at}/values/{index}/value", "metadata.duplicate_name",
                          f"picklist value {value.value!r} is listed twice")
        seen.add(value.value)
        if ";" in value.value:
            yield Problem(f"{at}/values/{index}/value", "metadata.invalid",
                          f"picklist value {value.value!r} must not contain ';'")


def _allowed(field: FieldDef) -> str:
    return ", ".join(repr(v.value) for v in field.values if v.active)


class PicklistType(FieldType):
    name = "picklist"
    formula_value = "picklist"
    widget = "select"
    defaults = {"restricted": True}
    operators = {**EQUALITY_OPERATORS, **ORDER_OPERATORS, **TEXT_OPERATORS}
    converts_from = frozenset({"text", "textarea", "email", "phone", "url", "multipicklist"})

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine[Any]:
        return sa.String(255)

    def check_options(self, field: FieldDef, obj: ObjectDef, bundle: Bundle, at: str) -> Iterable[Problem]:
        yield from _picklist_problems(field, at)
        if sum(1 for v in field.values if v.default) > self.max_defaults:
            yield Problem(at + "/values", "metadata.invalid", "a picklist has at most one default value")

    #: how many values may be marked default (a multipicklist may preselect several)
    max_defaults: ClassVar[int] = 1

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        return or_null(self._choice_schema(field))

    def _choice_schema(self, field: FieldDef) -> dict[str, Any]:
        """One chosen value: a restricted picklist's values (inactive ones too: records may
        still hold them), or any text without ';'."""
        if field.restricted:
            return {"type": "string", "enum": list(field.picklist_value_names())}
        return {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^;]*$"}

    def describe(self, field: FieldDef) -> dict[str, Any]:
        return {"restricted": field.restricted,
                "values": [{"value": v.value, "label": v.label, "default": v.default, "active": v.active}
                           for v in field.values]}

    def default_value(self, field: FieldDef) -> Any:
        if field.default is not None:
            return self.coerce(field.default, field)
        chosen = [v.value for v in field.values if v.default]
        if not chosen:
            return None
        return self.coerce(chosen[0] if self.max_defaults == 1 else chosen, field)

    def coerce(self, value: Any, field: FieldDef) -> Any:
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise FieldValueError("records.wrong_type",
                                  f"expected one of {_allowed(field)}, got {describe_value(value)}")
        if field.restricted and value not in {v.value for v in field.values if v.active}:
            raise FieldValueError("records.not_in_picklist", f"{value!r} is not one of {_allowed(field)}")
        check_text(value)
        if len(value) > 255:
            raise FieldValueError("records.too_long", "a picklist value has at most 255 characters")
        return value

    def coerce_operand(self, op: str, value: Any, field: FieldDef) -> Any:
        """Filters may name any value, inactive ones included: records may still hold them."""
        if op in ("contains", "starts_with") or not field.restricted:
            return super().coerce_operand(op, value, field) if op in ("in", "not_in") else operand_text(op, value)
        values = value if op in ("in", "not_in") else [value]
        if not isinstance(values, (list, tuple)) or not values:
            raise FieldValueError("query.bad_operand", f"operator '{op}' takes a non-empty list of values")
        known = field.picklist_value_names()
        unknown = [v for v in values if v not in known]
        if unknown:
            raise FieldValueError("records.not_in_picklist",
                                  f"{unknown[0]!r} is not one of {', '.join(repr(k) for k in known)}")
        return list(values) if op in ("in", "not_in") else value

    def convert(self, value: Any, old: FieldDef, new: FieldDef, old_type: FieldType) -> Converted:
        if old_type is self:
            if new.restricted and value not in new.picklist_value_names():
                return Converted(None, lossy=True)
            return Converted(value)
        text = old_type.to_json(value, old)
        if isinstance(text, list):
            if len(text) > 1:
                raise FieldValueError("schema.not_convertible", f"{';'.join(text)!r} holds several values")
            text = text[0] if text else None
        return Converted(self.coerce(text, new))

    def needs_data_check(self, old: FieldDef, new: FieldDef) -> bool:
        if not new.restricted:
            return False
        return not old.restricted or not set(old.picklist_value_names()) <= set(new.picklist_value_names())


def _includes(column: sa.ColumnElement[Any], value: Any) -> sa.ColumnElement[bool]:
    # stored canonically as ';a;b;' so one LIKE finds a whole value
    return column.contains(f";{value};", autoescape=True)


class MultipicklistType(PicklistType):
    name = "multipicklist"
    formula_value = "multipicklist"
    widget = "multiselect"
    max_defaults = 10_000
    operators = {
        "eq": EQUALITY_OPERATORS["eq"],
        "ne": EQUALITY_OPERATORS["ne"],
        "contains": _includes,
        "not_contains": lambda c, v: sa.or_(sa.not_(_includes(c, v)), c.is_(None)),
    }
    converts_from = frozenset({"picklist", "text"})

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine[Any]:
        return sa.Text()

    def coerce(self, value: Any, field: FieldDef) -> Any:
        if value is None or value == "" or value == []:
            return None
        items = value.split(";") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
            raise FieldValueError("records.wrong_type", f"expected a list of values, got {describe_value(value)}")
        chosen = {check_text(i.strip()) for i in items if i.strip()}
        allowed = [v.value for v in field.values]
        if field.restricted:
            active = {v.value for v in field.values if v.active}
            unknown = sorted(chosen - active)
            if unknown:
                listed = ", ".join(repr(u) for u in unknown)
                raise FieldValueError("records.not_in_picklist", f"{listed} not among {_allowed(field)}")
        ordered = [v for v in allowed if v in chosen] + sorted(chosen - set(allowed))
        return ";" + ";".join(ordered) + ";" if ordered else None

    def coerce_operand(self, op: str, value: Any, field: FieldDef) -> Any:
        if op in ("contains", "not_contains"):
            if not isinstance(value, str) or not value:
                raise FieldValueError("query.bad_operand", f"operator '{op}' takes one value")
            return value
        return self.coerce(value, field)

    def to_json(self, value: Any, field: FieldDef) -> Any:
        if value is None:
            return []
        return [v for v in value.strip(";").split(";") if v]

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        return {"type": "array", "items": self._choice_schema(field), "uniqueItems": True}  # empty: []

    def is_blank(self, value: Any) -> bool:
        return value is None or value == "" or value == []

    def convert(self, value: Any, old: FieldDef, new: FieldDef, old_type: FieldType) -> Converted:
        if old_type is self:
            items = self.to_json(value, old)
            kept = [i for i in items if not new.restricted or i in new.picklist_value_names()]
            return Converted(self.coerce(kept, new), lossy=len(kept) != len(items))
        return Converted(self.coerce(old_type.to_json(value, old), new))
