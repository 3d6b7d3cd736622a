"""The shape every field type has.

A field type is one small class: its column type, the option defaults the loader fills
in, metadata checks of its options, input coercion with clear errors, JSON serialisation,
its filter operators (returning SQLAlchemy expressions), its form widget, and how it takes
over values from another type when an admin changes a field's type. Code outside a type's
class asks the type; it never branches on the type's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar
from collections.abc import Callable, Iterable, Mapping

import sqlalchemy as sa

from rapport.metadata.model import Bundle, FieldDef, ObjectDef, OnDelete
from rapport.platform.errors import Problem


class FieldValueError(ValueError):
    """A value does not fit a field; ``code`` is stable, the message says what is allowed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Converted:
    """One existing value taken over by a changed field definition."""

    value: Any
    lossy: bool = False


Operator = Callable[[sa.ColumnElement[Any], Any], sa.ColumnElement[bool]]

EQUALITY_OPERATORS: Mapping[str, Operator] = {
    "eq": lambda c, v: c == v,
    "ne": lambda c, v: sa.or_(c != v, c.is_(None)),
    "in": lambda c, v: c.in_(v),
    "not_in": lambda c, v: sa.or_(c.not_in(v), c.is_(None)),
}
ORDER_OPERATORS: Mapping[str, Operator] = {
    "lt": lambda c, v: c < v,
    "lte": lambda c, v: c <= v,
    "gt": lambda c, v: c > v,
    "gte": lambda c, v: c >= v,
}
TEXT_OPERATORS: Mapping[str, Operator] = {
    "contains": lambda c, v: c.icontains(v, autoescape=True),
    "starts_with": lambda c, v: c.istartswith(v, autoescape=True),
}
LIST_OPERATORS = frozenset({"in", "not_in"})


class FieldType:
    name: ClassVar[str]
    widget: ClassVar[str] = "text"
    #: a stored field has a column; a formula is computed in SQL instead
    stored: ClassVar[bool] = True
    #: whether callers may write the value (roll-ups and autonumbers are system-written)
    writable: ClassVar[bool] = True
    #: a value is produced on create (autonumbers), see :meth:`generate`
    generates_value: ClassVar[bool] = False
    #: a record's visibility and editability follow the record this field points at
    #: (master-detail: "the child inherits sharing")
    controls_sharing: ClassVar[bool] = False
    defaults: ClassVar[Mapping[str, Any]] = {}
    operators: ClassVar[Mapping[str, Operator]] = {**EQUALITY_OPERATORS, **ORDER_OPERATORS}
    #: names of the types whose values this type can take over on a change of type
    converts_from: ClassVar[frozenset[str]] = frozenset()
    #: what a roll-up summary can compute over a field of this type
    aggregates: ClassVar[frozenset[str]] = frozenset({"count"})
    #: the type a roll-up's sum of this type's values has, when it needs a wider one
    sum_type: ClassVar[str | None] = None
    #: the formula language's type for this field's values (see rapport.runtime.formula.types)
    formula_value: ClassVar[str] = "text"
    #: for types whose values the system computes from other records (roll-ups): the options
    #: whose change means every stored value is recalculated (empty: values are written by callers)
    recalculated_on: ClassVar[frozenset[str]] = frozenset()

    # -- storage -----------------------------------------------------------------
    def column_type(self, field: FieldDef) -> sa.types.TypeEngine[Any]:
        raise NotImplementedError

    def server_default(self, field: FieldDef) -> Any:
        """A database default filled into existing rows when the column is added."""
        return None

    def nullable(self, field: FieldDef) -> bool:
        return True

    def is_required(self, field: FieldDef) -> bool:
        return field.required

    def on_delete(self, field: FieldDef) -> OnDelete:
        """What deleting the record this field points at does to the field's records
        (meaningful for types whose fields have a ``target``)."""
        return field.on_delete or OnDelete.SET_NULL

    # -- metadata ----------------------------------------------------------------
    def check(self, field: FieldDef, obj: ObjectDef, bundle: Bundle, at: str) -> Iterable[Problem]:
        """Metadata problems of this field: its default value, then its type's options."""
        if field.default is not None:
            if not self.writable:
                yield Problem(at + "/default", "metadata.invalid",
                              f"field '{field.name}' of object '{obj.name}' is computed ({self.name}) "
                              "and takes no default")
            else:
                try:
                    self.coerce(field.default, field)
                except FieldValueError as error:
                    yield Problem(at + "/default", "metadata.bad_default",
                                  f"default of field '{field.name}' of object '{obj.name}': {error.message}")
        yield from self.check_options(field, obj, bundle, at)

    def check_options(self, field: FieldDef, obj: ObjectDef, bundle: Bundle, at: str) -> Iterable[Problem]:
        return ()

    def describe(self, field: FieldDef) -> dict[str, Any]:
        """Type-specific facts for describe and forms (options, limits)."""
        return {}

    def field_operators(self, field: FieldDef) -> Mapping[str, Operator]:
        """The filter operators of ``field`` (those of its type, except where values vary)."""
        return self.operators

    def formula_kind(self, field: FieldDef) -> str:
        """The formula type of this field's values (``text``, ``number``, ``date``…)."""
        return self.formula_value

    # -- values --------------------------------------------------------------------
    def coerce(self, value: Any, field: FieldDef) -> Any:
        """Turn an input value (JSON or Python) into the stored Python value, or raise."""
        raise NotImplementedError

    def to_json(self, value: Any, field: FieldDef) -> Any:
        return value

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        """The JSON Schema of the field's value as the API sends and takes it (what
        :meth:`to_json` gives), ``null`` allowed where the field can be empty."""
        return {"type": ["string", "null"]}

    def json_converter(self, field: FieldDef) -> Callable[[Any], Any] | None:
        """``to_json`` bound to ``field``, or ``None`` when stored values are already JSON."""
        if type(self).to_json is FieldType.to_json:
            return None
        to_json = self.to_json
        return lambda value: to_json(value, field)

    def to_text(self, value: Any, field: FieldDef) -> str | None:
        """The value as text: for display, CSV and conversion into a text field."""
        value = self.to_json(value, field)
        if value is None or value == []:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            return ";".join(str(v) for v in value)
        return str(value)

    def default_value(self, field: FieldDef) -> Any:
        """The value a new record gets when the caller gives none."""
        return self.coerce(field.default, field) if field.default is not None else None

    def is_blank(self, value: Any) -> bool:
        return value is None or value == ""

    def coerce_operand(self, op: str, value: Any, field: FieldDef) -> Any:
        """Coerce a filter operand: lists for in/not_in, a bool for is_null; a part of a value
        (contains, starts_with) is any text, not checked as a whole value would be."""
        if op in TEXT_OPERATORS:
            return operand_text(op, value)
        if op in LIST_OPERATORS:
            if not isinstance(value, (list, tuple)) or not value:
                raise FieldValueError("query.bad_operand", f"operator '{op}' takes a non-empty list of values")
            return [self.coerce(v, field) for v in value]
        return self.coerce(value, field)

    # -- metadata changes --------------------------------------------------------
    def convert(self, value: Any, old: FieldDef, new: FieldDef, old_type: FieldType) -> Converted:
        """Take over an existing value when a field's definition or type changes.

        Raise :class:`FieldValueError` when the value cannot be converted at all (the change
        is refused, naming the records); return ``Converted(lossy=True)`` when it fits only
        by losing information (narrowing: the change needs confirmation, and the old value
        is moved aside first).
        """
        if old_type is not self:
            value = old_type.to_json(value, old)
            if isinstance(value, (list, tuple)):
                value = ";".join(str(v) for v in value)
        return Converted(self.coerce(value, new))

    def needs_data_check(self, old: FieldDef, new: FieldDef) -> bool:
        """Whether existing values must be re-checked when ``old`` becomes ``new``."""
        return False

    def generate(self, field: FieldDef, numbers: list[int]) -> list[Any]:
        """Values for a value-generating type, from allocated sequence numbers."""
        raise NotImplementedError

    def sequence_number(self, field: FieldDef, value: Any) -> int | None:
        """The sequence number a generated value was made from (to continue after it)."""
        return None


def operand_text(op: str, value: Any) -> str:
    """The text operand of ``contains`` / ``starts_with``."""
    if not isinstance(value, str) or not value:
        raise FieldValueError("query.bad_operand", f"operator '{op}' takes a non-empty text value")
    return check_text(value)


def check_text(text: str) -> str:
    """Text a database can store: valid UTF-8 (no lone surrogates) and no NUL character."""
    if "\x00" in text:
        raise FieldValueError("records.bad_character", "text must not contain the NUL character (\\u0000)")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise FieldValueError("records.bad_character",
                                  "text must be valid Unicode (it holds a lone surrogate)") from None
    return text


def or_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` that also allows ``null`` (for values that may be empty)."""
    schema = dict(schema)
    kinds = schema.get("type")
    if isinstance(kinds, str):
        schema["type"] = [kinds, "null"]
    elif isinstance(kinds, list) and "null" not in kinds:
        schema["type"] = [*kinds, "null"]
    if "enum" in schema and None not in schema["enum"]:
        schema["enum"] = [*schema["enum"], None]
    return schema


def describe_value(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
