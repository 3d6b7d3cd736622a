"""Logical functions: IF, CASE, AND, OR, NOT, blanks, picklists and the record's prior values.

IF, CASE and BLANKVALUE evaluate only the branch they return, so
``IF(ISNUMBER(t), VALUE(t), 0)`` never fails on text that is not a number.
ISNEW, ISCHANGED and PRIORVALUE see the record before the write; they are allowed where a
prior record exists (validation rules, workflow conditions), not in formula fields.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.sql.expression import Grouping

from rapport.runtime.formula.operators import booleans, kleene_and, kleene_or, sql_operand
from rapport.runtime.formula.registry import (
    ArgumentError, Compiled, Function, SqlContext, SqlExpr, register, sql_type, strict,
)
from rapport.runtime.formula.typed import TField, Typed
from rapport.runtime.formula.types import FType, comparable, fits, unify

B, T = FType.BOOLEAN, FType.TEXT
TEXTUAL = frozenset({FType.TEXT, FType.PICKLIST, FType.MULTIPICKLIST})


def _common(types: Sequence[FType], first: int, what: str) -> FType:
    result = types[first]
    for index in range(first + 1, len(types)):
        joined = unify(result, types[index])
        if joined is None:
            raise ArgumentError(f"{what} must all have one type; got {result.noun} and {types[index].noun}", index)
        result = joined
    return result


def is_blank_sql(arg: SqlExpr, kind: FType) -> SqlExpr:
    if kind in TEXTUAL:
        return sa.or_(arg.is_(None), arg == "")
    if kind is FType.BOOLEAN:  # SQLAlchemy writes NOT x IS NULL, which PostgreSQL reads as NOT (x IS NULL)
        arg = Grouping(arg)
    return arg.is_(None)


def _blank(value: Any) -> bool:
    return value is None or value == ""


# -- IF and CASE ------------------------------------------------------------------------------

def _if_type(types: list[FType]) -> FType:
    if not fits(types[0], B):
        raise ArgumentError(f"the condition must be true/false, got {types[0].noun}", 0)
    return _common(types, 1, "the two results of IF")


def _if_python(types: list[FType], args: list[Compiled], nodes: Sequence[Typed]) -> Compiled:
    condition, then, otherwise = args
    return lambda s: then(s) if condition(s) else otherwise(s)


def _if_sql(ctx: SqlContext, types: list[FType], args: list[SqlExpr], nodes: Sequence[Typed]) -> SqlExpr:
    results = _typed_results(types[1:], args[1:])
    if results is None:
        return sa.null()
    then, otherwise = results
    return sa.case((args[0], then), else_=otherwise)


def _typed_results(types: Sequence[FType], results: Sequence[SqlExpr]) -> list[SqlExpr] | None:
    """The results of IF, CASE or BLANKVALUE with each bare NULL (``null``, or what SQLAlchemy
    makes of ``true && null``) cast to the type of the others: PostgreSQL types a CASE of NULLs
    as text, which AND, + or = cannot take. ``None`` when every result is null: the SQL is then
    a bare NULL, which PostgreSQL types by where it is used."""
    kind = next((t for t in types if t is not FType.NULL), None)
    if kind is None:
        return None
    return [sa.cast(sa.null(), sql_type(kind)) if isinstance(r, sa.Null) else r for r in results]


register(Function(
    name="IF", signature="IF(condition, value_if_true, value_if_false)",
    summary="The second argument when the condition holds, else the third (a blank condition does not hold).",
    examples=(('IF(amount > 1000, "Large", "Small")', '"Large" when amount is 5000'),),
    min_args=3, max_args=3, typer=_if_type, python=_if_python, sql=_if_sql, group="Logic"))


def _case_type(types: list[FType]) -> FType:
    if len(types) % 2:
        raise ArgumentError("CASE takes an expression, then pairs of value and result, then the else result "
                            f"(an even number of arguments); got {len(types)}")
    for index in range(1, len(types) - 1, 2):
        if not comparable(types[0], types[index]):
            raise ArgumentError(f"CASE compares with values of the expression's type ({types[0].noun}); "
                                f"got {types[index].noun}", index)
    results = [types[i] for i in range(2, len(types) - 1, 2)] + [types[-1]]
    result = results[0]
    for kind in results[1:]:
        joined = unify(result, kind)
        if joined is None:
            raise ArgumentError(f"the results of CASE must all have one type; got {result.noun} and {kind.noun}")
        result = joined
    return result


def _case_python(types: list[FType], args: list[Compiled], nodes: Sequence[Typed]) -> Compiled:
    subject, otherwise = args[0], args[-1]
    pairs = [(args[i], args[i + 1]) for i in range(1, len(args) - 1, 2)]

    def run(s: Any) -> Any:
        value = subject(s)
        if value is not None:
            for match, result in pairs:
                if match(s) == value:
                    return result(s)
        return otherwise(s)
    return run


def _case_sql(ctx: SqlContext, types: list[FType], args: list[SqlExpr], nodes: Sequence[Typed]) -> SqlExpr:
    at = [*range(2, len(args) - 1, 2), len(args) - 1]  # where the results are
    results = _typed_results([types[i] for i in at], [args[i] for i in at])
    if results is None:
        return sa.null()
    result = dict(zip(at, results))
    subject = sql_operand(args[0])
    whens = [(subject == sql_operand(args[i]), result[i + 1]) for i in range(1, len(args) - 1, 2)]
    return sa.case(*whens, else_=result[len(args) - 1])


register(Function(
    name="CASE", signature="CASE(expression, value1, result1, value2, result2, ..., else_result)",
    summary="The result paired with the first value equal to the expression, else the last argument.",
    examples=(('CASE(stage, "won", 1, "lost", 0, 0.5)', "1 when stage is won"),),
    min_args=4, max_args=None, typer=_case_type, python=_case_python, sql=_case_sql, group="Logic"))


# -- AND, OR, NOT -------------------------------------------------------------------------------

register(Function(
    name="AND", signature="AND(condition1, condition2, ...)", summary="Every condition holds.",
    examples=(("AND(amount > 0, stage = \"won\")", "true when both hold"),), min_args=1, max_args=None,
    typer=booleans("AND"), python=lambda t, args, n: kleene_and(args), sql=lambda c, t, args, n: sa.and_(*args),
    group="Logic"))
register(Function(
    name="OR", signature="OR(condition1, condition2, ...)", summary="At least one condition holds.",
    examples=(("OR(amount > 1000, priority = \"high\")", "true when either holds"),), min_args=1, max_args=None,
    typer=booleans("OR"), python=lambda t, args, n: kleene_or(args), sql=lambda c, t, args, n: sa.or_(*args),
    group="Logic"))
register(Function(
    name="NOT", signature="NOT(condition)", summary="The condition does not hold (blank stays blank).",
    examples=(("NOT(true)", "false"),), min_args=1, max_args=1, typer=booleans("NOT"),
    python=strict(lambda x: not x), sql=lambda c, t, args, n: sa.not_(args[0]), group="Logic"))


# -- blanks -------------------------------------------------------------------------------------

register(Function(
    name="ISBLANK", signature="ISBLANK(value)", summary="Whether the value is blank (null, or empty text).",
    examples=(("ISBLANK(close_date)", "true when no close date is set"), ('ISBLANK("")', "true")),
    min_args=1, max_args=1, typer=lambda types: B,
    python=lambda t, args, n: (lambda a: lambda s: _blank(a(s)))(args[0]),
    sql=lambda ctx, types, args, n: is_blank_sql(args[0], types[0]), group="Logic"))


def _blankvalue(name: str, summary: str) -> None:
    def python(types: list[FType], args: list[Compiled], nodes: Sequence[Typed]) -> Compiled:
        value, substitute = args

        def run(s: Any) -> Any:
            found = value(s)
            return substitute(s) if _blank(found) else found
        return run

    def sql(ctx: SqlContext, types: list[FType], args: list[SqlExpr], nodes: Sequence[Typed]) -> SqlExpr:
        results = _typed_results(types, args)
        if results is None:
            return sa.null()
        value, substitute = results
        if types[0] in TEXTUAL:
            return sa.case((is_blank_sql(value, types[0]), substitute), else_=value)
        return sa.func.coalesce(value, substitute)

    register(Function(
        name=name, signature=f"{name}(value, substitute)", summary=summary,
        examples=((f"{name}(discount, 0)", "0 when discount is blank"),), min_args=2, max_args=2,
        typer=lambda types: _common(types, 0, f"the arguments of {name}"), python=python, sql=sql, group="Logic"))


_blankvalue("BLANKVALUE", "The value, or the substitute when the value is blank.")
_blankvalue("NULLVALUE", "The value, or the substitute when it is null (the same as BLANKVALUE).")


# -- picklists ---------------------------------------------------------------------------------

def _picklist_type(kind: FType, name: str) -> Any:
    def typer(types: list[FType]) -> FType:
        if types[0] not in (kind, FType.NULL):
            raise ArgumentError(f"{name} takes {kind.noun} field first, got {types[0].noun}", 0)
        if not fits(types[1], T):
            raise ArgumentError(f"{name} takes a text value second, got {types[1].noun}", 1)
        return B
    return typer


register(Function(
    name="ISPICKVAL", signature='ISPICKVAL(picklist_field, "value")',
    summary="Whether a picklist field holds the value.", examples=(('ISPICKVAL(stage, "won")', "true when won"),),
    min_args=2, max_args=2, typer=_picklist_type(FType.PICKLIST, "ISPICKVAL"), literal_args=frozenset({1}),
    python=lambda t, args, n: _same(args[0], args[1]),
    sql=lambda ctx, t, args, n: sa.func.coalesce(args[0] == args[1], sa.false()), group="Logic"))


def _same(a: Compiled, b: Compiled) -> Compiled:
    return lambda s: a(s) == b(s)


def _includes(a: Compiled, b: Compiled) -> Compiled:
    def run(s: Any) -> bool:
        stored = a(s)
        return stored is not None and f";{b(s)};" in stored
    return run


def _includes_sql(ctx: SqlContext, types: list[FType], args: list[SqlExpr], nodes: Sequence[Typed]) -> SqlExpr:
    stored, value = args
    needle = sa.literal(";").op("||")(value).op("||")(sa.literal(";"))
    position = sa.func.strpos(stored, needle) if ctx.postgres else sa.func.instr(stored, needle)
    return sa.func.coalesce(position > 0, sa.false())


register(Function(
    name="INCLUDES", signature='INCLUDES(multipicklist_field, "value")',
    summary="Whether a multi-select picklist field includes the value.",
    examples=(('INCLUDES(regions, "emea")', "true when emea is among the chosen regions"),),
    min_args=2, max_args=2, typer=_picklist_type(FType.MULTIPICKLIST, "INCLUDES"), literal_args=frozenset({1}),
    python=lambda t, args, n: _includes(args[0], args[1]),
    sql=_includes_sql, group="Logic"))


# -- the record before the write ------------------------------------------------------------

def _own_field(node: Typed) -> TField:
    assert isinstance(node, TField) and node.local  # the checker enforces field_args
    return node


def _prior_value(types: list[FType], args: list[Compiled], nodes: Sequence[Typed]) -> Compiled:
    from rapport.runtime.formula.python import field_reader

    read = field_reader(_own_field(nodes[0]))
    return lambda s: None if s.prior is None else read(s.prior)


def _is_changed(types: list[FType], args: list[Compiled], nodes: Sequence[Typed]) -> Compiled:
    name = _own_field(nodes[0]).path[0]
    return lambda s: s.prior is not None and s.prior.get(name) != s.record.get(name)


def _no_sql(name: str) -> Any:
    def sql(ctx: SqlContext, types: list[FType], args: list[SqlExpr], nodes: Sequence[Typed]) -> SqlExpr:
        raise AssertionError(f"{name} sees the record before a write and is never compiled to SQL")
    return sql


register(Function(
    name="ISNEW", signature="ISNEW()", summary="Whether the record is being created (not updated).",
    examples=(("ISNEW()", "true while the record is created"),), min_args=0, max_args=0,
    typer=lambda types: B, python=lambda t, a, n: (lambda s: s.prior is None), sql=_no_sql("ISNEW"),
    needs_prior=True, group="The record before the write"))
register(Function(
    name="ISCHANGED", signature="ISCHANGED(field)",
    summary="Whether this write changes the field (false on create).",
    examples=(("ISCHANGED(stage)", "true when the stage is being changed"),), min_args=1, max_args=1,
    typer=lambda types: B, python=_is_changed, sql=_no_sql("ISCHANGED"), needs_prior=True,
    field_args=frozenset({0}), group="The record before the write"))
register(Function(
    name="PRIORVALUE", signature="PRIORVALUE(field)",
    summary="The field's value before this write (blank on create).",
    examples=(("PRIORVALUE(amount)", "the amount before the change"),), min_args=1, max_args=1,
    typer=lambda types: types[0], python=_prior_value, sql=_no_sql("PRIORVALUE"), needs_prior=True,
    field_args=frozenset({0}), group="The record before the write"))
