"""The user's filters on a list: rows of (field, operator, value) in the query string.

    /o/deal?ff=amount&fo=gte&fv=1000&ff=stage&fo=eq&fv=proposal

Each ``ff`` starts a row; the ``fo`` and ``fv`` after it are that row's operator and value
(one left out is empty). Other pages link with this encoding — a related list's "View all"
is ``/o/contact?ff=account&fo=eq&fv=<account id>`` — so it is a contract.

A row becomes one condition of the API's filter model (docs/queries.md): the value as typed,
which the field's type coerces as it would a record's value; ``in`` / ``not_in`` take a
comma-separated list; ``is_null`` takes yes/no (empty: yes). A row without a field or a
value is shown but not applied yet. The rows are and-ed with the list view's own filter, and
the query engine's problems come back to the row they belong to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rapport.admin_ui.records.list_columns import FieldPath, resolve_path
from rapport.admin_ui.widgets import field_view, shown_as
from rapport.platform.errors import RapportError
from rapport.runtime.compiled import CompiledObject, CompiledOrg
from rapport.runtime.fields.base import LIST_OPERATORS
from rapport.runtime.permissions import Access
from rapport.runtime.query.filters import IS_NULL

FIELD, OPERATOR, VALUE = "ff", "fo", "fv"
OPERATOR_LABELS = {
    "eq": "equals", "ne": "is not", "lt": "less than", "lte": "less than or equal to",
    "gt": "greater than", "gte": "greater than or equal to", "in": "is one of", "not_in": "is none of",
    "contains": "contains", "not_contains": "does not contain", "starts_with": "starts with",
    IS_NULL: "is empty",
}
#: operators comparing a whole value: a field with a list of values offers a select for them
WHOLE_VALUE_OPERATORS = frozenset({"eq", "ne"})
YES_NO = (("true", "Yes"), ("false", "No"))
#: the system fields a user may filter by from the list page's choices
SYSTEM_CHOICES = ("created_at", "updated_at")
#: where the user's rows sit in the combined filter: {"and": [{"and": rows}, view filter]}
_ROW_POINTER = re.compile(r"^/filter/and/0/and/(\d+)(?:/|$)")
_VIEW_POINTER = "/filter/and/1"


@dataclass(frozen=True)
class FilterRow:
    field: str = ""
    op: str = ""
    value: str = ""


def parse_rows(items: Iterable[tuple[str, str]]) -> list[FilterRow]:
    """The rows of a query string's ``ff`` / ``fo`` / ``fv`` parameters, in order."""
    rows: list[dict[str, str]] = []
    for key, value in items:
        if key == FIELD:
            rows.append({"field": value.strip()})
        elif key in (OPERATOR, VALUE) and rows:
            rows[-1].setdefault("op" if key == OPERATOR else "value", value)
    return [FilterRow(**row) for row in rows]


def rows_query(rows: Iterable[FilterRow], *, keep_blank: bool = False) -> list[tuple[str, str]]:
    """The rows as query-string pairs (rows without a field only with ``keep_blank``)."""
    pairs: list[tuple[str, str]] = []
    for row in rows:
        if row.field or keep_blank:
            pairs += [(FIELD, row.field), (OPERATOR, row.op), (VALUE, row.value)]
    return pairs


def operator_of(row: FilterRow, found: FieldPath | None) -> str:
    """The row's operator; an empty one is the field's first (``eq`` for most)."""
    if row.op or found is None:
        return row.op or "eq"
    return next(iter(found.field.type.field_operators(found.field.defn)), IS_NULL)


def operand(op: str, text: str) -> Any:
    """The condition's value from the typed text (the field's type checks and coerces it)."""
    text = text.strip()
    if op == IS_NULL:
        return {"": True, "true": True, "yes": True, "false": False, "no": False}.get(text.lower(), text)
    if op in LIST_OPERATORS:
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


def complete(row: FilterRow, op: str) -> bool:
    return bool(row.field) and (op == IS_NULL or bool(row.value.strip()))


@dataclass(frozen=True)
class UserFilter:
    """The filter the query runs, and which row each of its user conditions came from."""

    tree: Any
    row_of_condition: tuple[int, ...]


def combine(rows: list[FilterRow], found: list[FieldPath | None], view_filter: Any) -> UserFilter:
    """The complete rows and-ed with the view's filter (``None`` when there is neither)."""
    conditions, origins = [], []
    for index, (row, path) in enumerate(zip(rows, found)):
        op = operator_of(row, path)
        if complete(row, op):
            conditions.append({"field": row.field, "op": op, "value": operand(op, row.value)})
            origins.append(index)
    if not conditions and view_filter is None:
        return UserFilter(None, ())
    parts: list[Any] = [{"and": conditions}]
    if view_filter is not None:
        parts.append(view_filter)
    return UserFilter({"and": parts}, tuple(origins))


@dataclass(frozen=True)
class Problems:
    """A failed query's problems: by filter row, in the view's own filter, and the rest."""

    rows: dict[int, str]
    view: list[str]
    other: list[str]


def problems_of(error: RapportError, user_filter: UserFilter) -> Problems:
    rows: dict[int, str] = {}
    view: list[str] = []
    other: list[str] = []
    for problem in error.problems:
        matched = _ROW_POINTER.match(problem.pointer)
        if matched and int(matched.group(1)) < len(user_filter.row_of_condition):
            row = user_filter.row_of_condition[int(matched.group(1))]
            rows[row] = " ".join(filter(None, (rows.get(row), sentence(problem.message))))
        elif problem.pointer.startswith(_VIEW_POINTER):
            view.append(sentence(problem.message))
        else:
            other.append(sentence(problem.message))
    if not error.problems:
        other.append(sentence(error.message))
    return Problems(rows, view, other)


def sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


# -- what the form shows ------------------------------------------------------------------

@dataclass(frozen=True)
class RowView:
    """One filter row as the form shows it: its choices, its value input, its message."""

    index: int
    row: FilterRow
    op: str
    fields: list[tuple[str, str]]
    operators: list[tuple[str, str]]
    #: the value control: "select" (``choices``), or an input of this type ("text", "date"…)
    control: str
    choices: tuple[tuple[str, str], ...] = ()
    #: whether the select starts with an empty choice (nothing chosen yet)
    blank_choice: bool = False
    #: suggestions for a text input (a list of values the field knows)
    suggestions: tuple[tuple[str, str], ...] = ()
    inputmode: str | None = None
    placeholder: str | None = None
    error: str | None = None
    hint: str | None = None

    @property
    def id(self) -> str:
        return f"filter-{self.index}"


def filter_choices(model: CompiledOrg, access: Access, root: CompiledObject) -> list[tuple[str, str]]:
    """(path, label) of each field the user may filter by: readable fields, then system dates."""
    names = [*access.readable_fields(root), *SYSTEM_CHOICES]
    found = (resolve_path(model, access, root, name) for name in names)
    return [(f.path, f.label) for f in found if f is not None]


def row_view(index: int, row: FilterRow, found: FieldPath | None, choices: list[tuple[str, str]],
             error: str | None) -> RowView:
    op = operator_of(row, found)
    fields = choices if not row.field or any(p == row.field for p, _ in choices) \
        else [*choices, (row.field, found.label if found else row.field)]
    allowed = [*found.field.type.field_operators(found.field.defn), IS_NULL] if found else [op]
    if op not in allowed:
        allowed.append(op)  # what was asked stays on screen, beside the message saying why not
    operators = [(name, OPERATOR_LABELS.get(name, name.replace("_", " "))) for name in allowed]
    hint = None
    if not row.field:
        hint = "Choose a field to filter by."
    elif not complete(row, op) and error is None:
        hint = "Enter a value to apply this filter."
    control = _control(found, op, row.value, error)
    return RowView(index, row, op, fields, operators, error=error, hint=hint, **control)


def _control(found: FieldPath | None, op: str, value: str, error: str | None) -> dict[str, Any]:
    """The value control fitting the field's values and the operator; after an error, a text
    input holding exactly what was typed."""
    if op == IS_NULL:
        return _select(YES_NO, value, blank=False)  # empty means "yes"
    if found is None or error is not None:
        return {"control": "text"}
    view = shown_as(field_view(found.field.defn, found.field.type))
    values = tuple((v["value"], v["label"]) for v in view.options.get("values", ()))
    if op in LIST_OPERATORS:
        return {"control": "text", "suggestions": values, "placeholder": "values, separated by commas"}
    schema = view.type.value_schema(view.defn)
    kinds = schema.get("type")
    if values and op in WHOLE_VALUE_OPERATORS:
        return _select(values, value)
    if "boolean" in (kinds if isinstance(kinds, list) else [kinds]):
        return _select(YES_NO, value)
    control = {"date": "date", "date-time": "datetime-local"}.get(schema.get("format", ""), "text")
    return {"control": control, "suggestions": values, "inputmode": view.widget.inputmode}


def _select(choices: tuple[tuple[str, str], ...], value: str, *, blank: bool = True) -> dict[str, Any]:
    """A select of ``choices``, keeping a typed value that is not among them."""
    if value.strip() and value not in (v for v, _ in choices):
        choices = (*choices, (value, value))
    return {"control": "select", "choices": choices, "blank_choice": blank}
