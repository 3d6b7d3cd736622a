"""Number functions. Results are exact decimals, except SQRT and ``^`` with a fractional
exponent (at least 15 significant digits). A blank argument gives a blank result."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from rapport.runtime.formula import values as v
from rapport.runtime.formula.operators import pg_whole
from rapport.runtime.formula.registry import (
    ArgumentError, Compiled, Function, SqlContext, SqlExpr, register, simple, strict, typed_null,
)
from rapport.runtime.formula.typed import TLiteral, Typed
from rapport.runtime.formula.types import FType, unify

N = FType.NUMBER
GROUP = "Math"


def _pg_round(x: SqlExpr, digits: SqlExpr | None = None) -> SqlExpr:
    if digits is None:
        return sa.func.round(x, 0)
    return sa.case((sa.func.abs(digits) <= 100, sa.func.round(x, pg_whole(digits, 1000))), else_=sa.null())


def _sqlite_round(ctx: SqlContext, types: list[FType], args: list[SqlExpr], nodes: Sequence[Typed]) -> Any:
    """SQLite's own round() where it gives the same answer (it rounds the decimal digits half
    away from zero, 2.675 → 2.68): many times faster than the user-defined function, which
    matters because every numeric formula field ends in a ROUND to its scale."""
    if ctx.postgres:
        return None
    digits = nodes[1] if len(nodes) > 1 else None
    if digits is None:
        return sa.func.round(args[0], 0, type_=sa.Float())
    if isinstance(digits, TLiteral) and isinstance(digits.value, Decimal) and 0 <= digits.value <= 15:
        return sa.func.round(args[0], int(digits.value), type_=sa.Float())
    return None


simple("ROUND", [N, N], N, lambda x, digits=Decimal(0): v.round_to(x, digits), _pg_round, min_args=1,
       sql=_sqlite_round,
       signature="ROUND(number[, digits])",
       summary="The number rounded half away from zero to digits decimal places (0 if left out; negative "
               "digits round to tens, hundreds…).",
       examples=[("ROUND(2.345, 2)", "2.35"), ("ROUND(-2.5)", "-3"), ("ROUND(1234, -2)", "1200")], group=GROUP)
simple("FLOOR", [N], N, v.floor, sa.func.floor, signature="FLOOR(number)",
       summary="The largest whole number not above the number.", examples=[("FLOOR(-2.5)", "-3")], group=GROUP)
simple("CEILING", [N], N, v.ceiling, sa.func.ceil, signature="CEILING(number)",
       summary="The smallest whole number not below the number.", examples=[("CEILING(2.1)", "3")], group=GROUP)
simple("ABS", [N], N, v.absolute, sa.func.abs,
       sqlite=lambda x: sa.type_coerce(sa.func.abs(x), sa.Numeric(asdecimal=True)),
       signature="ABS(number)", summary="The number without its sign.", examples=[("ABS(-4.5)", "4.5")],
       group=GROUP)
simple("MOD", [N, N], N, v.modulo, lambda a, b: sa.func.mod(a, sa.func.nullif(b, 0)),
       signature="MOD(number, divisor)",
       summary="The remainder of number / divisor, with the sign of number; blank when divisor is 0.",
       examples=[("MOD(7, 3)", "1"), ("MOD(-7, 3)", "-1")], group=GROUP)
simple("SQRT", [N], N, v.square_root,
       lambda x: sa.case((x >= 0, sa.func.sqrt(x)), else_=sa.null()),
       signature="SQRT(number)", summary="The square root; an error for a negative number.",
       examples=[("SQRT(16)", "4")], group=GROUP)


# -- MIN and MAX ------------------------------------------------------------------------------

_EXTREMES = frozenset({FType.NUMBER, FType.DATE, FType.DATETIME, FType.NULL})


def _extreme_type(name: str) -> Any:
    def typer(types: list[FType]) -> FType:
        result = types[0]
        for index, kind in enumerate(types):
            if kind not in _EXTREMES:
                raise ArgumentError(f"{name} takes numbers, dates or date/times; got {kind.noun}", index)
            joined = unify(result, kind)
            if joined is None:
                raise ArgumentError(f"the arguments of {name} must have one type; got {result.noun} and "
                                    f"{kind.noun}", index)
            result = joined
        return N if result is FType.NULL else result
    return typer


def _extreme(name: str, pick: Any, pg: Any, summary: str, example: tuple[str, str]) -> None:
    def python(types: list[FType], args: list[Compiled], nodes: Sequence[Typed]) -> Compiled:
        return strict(lambda *values: pick(values))(types, args, nodes)

    def sql(ctx: SqlContext, types: list[FType], args: list[SqlExpr], nodes: Sequence[Typed]) -> SqlExpr:
        kind = next((t for t in types if t is not FType.NULL), N)
        args = [typed_null(arg, t, kind) for arg, t in zip(args, types)]
        if len(args) == 1:
            return args[0]
        if not ctx.postgres:  # SQLite's min(a, b, …) is null when any argument is
            return getattr(sa.func, name.lower())(*args, type_=args[0].type)
        any_blank = sa.or_(*(a.is_(None) for a in args))
        return sa.case((any_blank, sa.null()), else_=pg(*args, type_=args[0].type))

    register(Function(
        name=name, signature=f"{name}(value1, value2, ...)", summary=summary, examples=(example,),
        min_args=1, max_args=None, typer=_extreme_type(name), python=python, sql=sql, group=GROUP))


_extreme("MIN", min, sa.func.least, "The smallest of the numbers (or dates); blank if any is blank.",
         ("MIN(3, 1, 2)", "1"))
_extreme("MAX", max, sa.func.greatest, "The largest of the numbers (or dates); blank if any is blank.",
         ("MAX(3, 1, 2)", "3"))

