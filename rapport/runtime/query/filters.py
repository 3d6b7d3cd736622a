"""The one filter model: a JSON tree compiled to a SQLAlchemy boolean expression.

    {"and": [node, ...]}     every node holds ({"and": []} holds for every record)
    {"or": [node, ...]}      at least one node holds ({"or": []} holds for none)
    {"not": node}            the node does not hold (null counts as "does not hold")
    {"field": "account.industry", "op": "eq", "value": "Tech"}

A condition's operators are those of its field's type (``FieldType.operators``) plus
``is_null`` (value ``true`` or ``false``), which every type has. The operand is coerced by
the type (``coerce_operand``) and the type's operator builds the expression, so nothing
here branches on a type's name. Every problem in the tree is collected and raised at once,
each with a JSON pointer into the filter (``/filter/and/1/value``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from rapport.platform.errors import InvalidRequest, ProblemCollector
from rapport.runtime.fields import FieldValueError
from rapport.runtime.query.joins import JoinPaths, PathError, ResolvedPath

IS_NULL = "is_null"
GROUPS = ("and", "or", "not")
CONDITION_KEYS = ("field", "op", "value")
NODE_SHAPES = ("a filter node is one of {\"and\": [...]}, {\"or\": [...]}, {\"not\": {...}} "
               "or a condition {\"field\": ..., \"op\": ..., \"value\": ...}")


def compile_filter(tree: Any, paths: JoinPaths, *, at: str = "/filter") -> sa.ColumnElement[bool] | None:
    """The WHERE expression for ``tree`` (``None`` for no filter), or raise every problem.

    Dotted field paths register their joins with ``paths``; build the statement's FROM
    with ``paths.from_clause()`` afterwards.
    """
    if tree is None:
        return None
    problems = ProblemCollector()
    expression = _FilterCompiler(paths, problems).node(tree, at)
    problems.raise_if_any(InvalidRequest, f"the filter on object '{paths.root.name}' is not valid",
                          "query.bad_filter")
    return expression


def condition_fields(tree: Any, at: str = "/filter", depth: int = 0) -> Iterator[tuple[str, str]]:
    """(field path, pointer to it) of every condition in ``tree``.

    Malformed nodes are skipped: :func:`compile_filter` is what reports them.
    """
    if not isinstance(tree, dict) or depth > MAX_DEPTH:
        return
    if set(tree) == set(CONDITION_KEYS):
        if isinstance(tree["field"], str):
            yield tree["field"], f"{at}/field"
        return
    if len(tree) != 1:
        return
    ((key, children),) = tree.items()
    if key == "not":
        yield from condition_fields(children, f"{at}/not", depth + 1)
    elif key in GROUPS and isinstance(children, list):
        for index, child in enumerate(children):
            yield from condition_fields(child, f"{at}/{key}/{index}", depth + 1)


#: limits that keep every filter a statement each database accepts
MAX_DEPTH = 16
MAX_CONDITIONS = 200
MAX_LIST_VALUES = 1000
#: values in all of a filter's lists together: PostgreSQL takes at most 65,535 parameters a statement
MAX_FILTER_VALUES = 10_000


class _FilterCompiler:
    def __init__(self, paths: JoinPaths, problems: ProblemCollector) -> None:
        self.paths = paths
        self.problems = problems
        self.conditions = 0
        self.values = 0

    def node(self, node: Any, at: str, depth: int = 0) -> sa.ColumnElement[bool]:
        if depth > MAX_DEPTH:
            self.problems.add(at, "query.filter_too_complex",
                              f"the filter nests more than {MAX_DEPTH} levels of and/or/not")
            return sa.false()
        if not isinstance(node, dict):
            self.problems.add(at, "query.bad_filter", f"expected an object, got {_json_kind(node)}; {NODE_SHAPES}")
            return sa.false()
        keys = set(node)
        if len(keys) == 1 and keys <= set(GROUPS):
            (key,) = keys
            if key == "not":
                # IS NOT TRUE, not NOT: a condition that is null for a record (amount > 100
                # when amount is empty) does not hold, so its negation does.
                return self.node(node["not"], f"{at}/not", depth + 1).is_not(sa.true())
            return self.group(key, node[key], f"{at}/{key}", depth + 1)
        if keys == set(CONDITION_KEYS):
            self.conditions += 1
            if self.conditions == MAX_CONDITIONS + 1:
                self.problems.add(at, "query.filter_too_complex",
                                  f"the filter has more than {MAX_CONDITIONS} conditions; use 'in' for lists of values")
            return self.condition(node, at)
        self.problems.add(at, "query.bad_filter", _shape_message(keys))
        return sa.false()

    def group(self, key: str, children: Any, at: str, depth: int) -> sa.ColumnElement[bool]:
        if not isinstance(children, list):
            self.problems.add(at, "query.bad_filter",
                              f"'{key}' takes a list of filter nodes, got {_json_kind(children)}")
            return sa.false()
        expressions = [self.node(child, f"{at}/{index}", depth) for index, child in enumerate(children)]
        if key == "and":
            return sa.and_(*expressions) if expressions else sa.true()
        return sa.or_(*expressions) if expressions else sa.false()

    def condition(self, node: dict[str, Any], at: str) -> sa.ColumnElement[bool]:
        path, op, value = node["field"], node["op"], node["value"]
        try:
            resolved = self.paths.resolve(path)
        except PathError as error:
            self.problems.add(f"{at}/field", error.code, error.message)
            return sa.false()
        field_type = resolved.field.type
        operators = field_type.field_operators(resolved.field.defn)
        allowed = [*operators, IS_NULL]
        if not isinstance(op, str) or op not in allowed:
            self.problems.add(f"{at}/op", "query.bad_operator",
                              f"operator {op!r} is not available for field '{path}' ({field_type.name}); "
                              f"allowed: {', '.join(allowed)}")
            return sa.false()
        if op == IS_NULL:
            return self.is_null(resolved, value, at)
        operand = self.operand(resolved, op, value, f"{at}/value")
        if operand is None:
            return sa.false()
        return operators[op](resolved.column, operand)

    def is_null(self, resolved: ResolvedPath, value: Any, at: str) -> sa.ColumnElement[bool]:
        if not isinstance(value, bool):
            self.problems.add(f"{at}/value", "query.bad_operand",
                              f"operator 'is_null' on field '{resolved.path}' takes true or false, "
                              f"got {_json_kind(value)}")
            return sa.false()
        return resolved.column.is_(None) if value else resolved.column.is_not(None)

    def operand(self, resolved: ResolvedPath, op: str, value: Any, at: str) -> Any:
        """The coerced operand, or ``None`` after recording a problem."""
        if value is None:
            self.problems.add(at, "query.bad_operand",
                              f"operator '{op}' on field '{resolved.path}' needs a value; "
                              "use 'is_null' to find empty values")
            return None
        defn = resolved.field.defn
        if isinstance(value, list) and len(value) > MAX_LIST_VALUES:
            self.problems.add(at, "query.filter_too_complex",
                              f"operator '{op}' on field '{resolved.path}' takes at most {MAX_LIST_VALUES} values, "
                              f"got {len(value)}")
            return None
        if isinstance(value, list):
            before, self.values = self.values, self.values + len(value)
            if self.values > MAX_FILTER_VALUES:
                if before <= MAX_FILTER_VALUES:  # said once, where the lists pass the limit
                    self.problems.add(at, "query.filter_too_complex",
                                      f"the filter's lists hold more than {MAX_FILTER_VALUES} values in all")
                return None
        try:
            operand = resolved.field.type.coerce_operand(op, value, defn)
        except FieldValueError as error:
            message = error.message
        except (TypeError, ValueError, ArithmeticError) as error:  # a type's coerce met odd JSON
            message = f"{_json_kind(value)} is not a valid value ({error})"
        else:
            if operand is not None and not (isinstance(operand, list) and None in operand):
                return operand
            message = "a blank value matches nothing; use 'is_null' to find empty values"
        self.problems.add(at, "query.bad_operand", f"operator '{op}' on field '{resolved.path}': {message}")
        return None


def _shape_message(keys: set[str]) -> str:
    listed = ", ".join(repr(k) for k in sorted(keys)) or "no keys"
    condition_keys = set(CONDITION_KEYS)
    if keys and keys < condition_keys:
        missing = ", ".join(repr(k) for k in CONDITION_KEYS if k not in keys)
        return f"a condition needs 'field', 'op' and 'value'; missing {missing}"
    if keys & condition_keys and not keys & set(GROUPS):
        extra = ", ".join(repr(k) for k in sorted(keys - condition_keys))
        return f"a condition has only the keys 'field', 'op' and 'value'; unexpected {extra}"
    return f"got {listed}; {NODE_SHAPES}"


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
