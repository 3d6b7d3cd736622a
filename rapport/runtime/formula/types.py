"""The value types of the formula language and how field types map onto them.

Every field type names the formula type its values have (``FieldType.formula_type``);
the checker works with these few types only. ``picklist`` values are text wherever text
is expected; ``null`` is the type of the literal ``null`` and fits every type.
"""

from __future__ import annotations

from enum import StrEnum


class FType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    TIME = "time"
    PICKLIST = "picklist"
    MULTIPICKLIST = "multipicklist"
    NULL = "null"

    @property
    def noun(self) -> str:
        return _NOUNS[self]


_NOUNS = {
    FType.TEXT: "text", FType.NUMBER: "a number", FType.BOOLEAN: "a boolean (true/false)",
    FType.DATE: "a date", FType.DATETIME: "a date/time", FType.TIME: "a time of day",
    FType.PICKLIST: "a picklist", FType.MULTIPICKLIST: "a multi-select picklist", FType.NULL: "null",
}

#: formula field return types (metadata ``return_type``) → the type the expression must have
RETURN_TYPES: dict[str, FType] = {
    "text": FType.TEXT, "number": FType.NUMBER, "currency": FType.NUMBER, "percent": FType.NUMBER,
    "boolean": FType.BOOLEAN, "date": FType.DATE, "datetime": FType.DATETIME,
}
#: the return type a formula gets when metadata names none
DEFAULT_RETURN_TYPES: dict[FType, str] = {
    FType.TEXT: "text", FType.PICKLIST: "text", FType.NUMBER: "number", FType.BOOLEAN: "boolean",
    FType.DATE: "date", FType.DATETIME: "datetime",
}
ORDERED = frozenset({FType.TEXT, FType.PICKLIST, FType.NUMBER, FType.DATE, FType.DATETIME, FType.TIME})


def fits(actual: FType, wanted: FType) -> bool:
    """Whether a value of type ``actual`` can be used where ``wanted`` is expected."""
    return actual == wanted or actual is FType.NULL or (actual is FType.PICKLIST and wanted is FType.TEXT)


def unify(a: FType, b: FType) -> FType | None:
    """The common type of two branches (IF, CASE, BLANKVALUE), or ``None`` if there is none."""
    if a == b:
        return a
    if a is FType.NULL:
        return b
    if b is FType.NULL:
        return a
    if {a, b} == {FType.TEXT, FType.PICKLIST}:
        return FType.TEXT
    return None


def comparable(a: FType, b: FType) -> bool:
    return unify(a, b) is not None and FType.MULTIPICKLIST not in (a, b)
