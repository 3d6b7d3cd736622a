"""Operators: arithmetic (with date arithmetic), text concatenation, comparison and logic.

Nulls: arithmetic and comparison with a blank operand are blank (and a blank condition
counts as false); ``&`` treats blank text as empty; ``&&``/``||`` follow three-valued logic
(``false && null`` is false, ``true || null`` is true). ``x / 0`` is blank.
"""

from __future__ import annotations

import operator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from collections.abc import Callable, Sequence

import sqlalchemy as sa

from rapport.platform.sqltypes import UtcDateTime

from rapport.runtime.formula import values as v
from rapport.runtime.formula.registry import (
    ArgumentError, Compiled, Function, SqlContext, SqlExpr, register, sql_type, strict, typed_null, udf,
)
from rapport.runtime.formula.typed import Typed
from rapport.runtime.formula.types import ORDERED, FType, comparable, fits

N, D, DT, B, T = FType.NUMBER, FType.DATE, FType.DATETIME, FType.BOOLEAN, FType.TEXT
_SCALE_UP = Decimal(10) ** v.DIVISION_SCALE
_SCALE_DOWN = Decimal(1).scaleb(-v.DIVISION_SCALE)


# -- PostgreSQL pieces shared with functions ---------------------------------------------------

def pg_divide(a: SqlExpr, b: SqlExpr) -> SqlExpr:
    """Exact to DIVISION_SCALE places, cut toward zero, as :func:`values.divide`."""
    scaled = sa.func.div(a * sa.literal(_SCALE_UP, sa.Numeric()), sa.func.nullif(b, 0), type_=sa.Numeric())
    return scaled * sa.literal(_SCALE_DOWN, sa.Numeric())


def pg_whole(x: SqlExpr, bound: int) -> SqlExpr:
    """``trunc(x)`` as an integer, kept within ±``bound``. Callers test the range in a CASE, but
    PostgreSQL folds a constant branch before it runs, and a cast out of range fails there."""
    return sa.cast(sa.func.least(sa.func.greatest(sa.func.trunc(x), -bound), bound), sa.Integer)


def pg_add_days(day: SqlExpr, count: SqlExpr) -> SqlExpr:
    # Whether the result is a day of the years 1–9999 is asked of the count (date − date is a
    # number): shifting first could leave PostgreSQL's own range (4713 BC) and fail. The day
    # is written twice only, as nested date arithmetic repeats it at every level.
    days = sa.func.trunc(count)
    since_first = day - sa.literal(date(1, 1, 1), sa.Date())
    shifted = sa.type_coerce(day + pg_whole(days, v.MAX_DAYS), sa.Date())
    fits = (since_first + days).between(0, (date(9999, 12, 31) - date(1, 1, 1)).days)
    return sa.type_coerce(sa.case((fits, shifted), else_=sa.null()), sa.Date())


def pg_add_time(moment: SqlExpr, days: SqlExpr) -> SqlExpr:
    whole_days = pg_whole(days, v.MAX_DAYS)
    seconds = sa.cast((days - sa.func.trunc(days)) * 86400, sa.Float)
    shifted = moment + sa.func.make_interval(0, 0, 0, whole_days, 0, 0, seconds)
    # asked of the seconds, as for dates: moment + days may leave PostgreSQL's range
    since_first = sa.func.extract("epoch", moment - sa.literal(v.FIRST_MOMENT, UtcDateTime()))
    span = Decimal((v.LAST_MOMENT - v.FIRST_MOMENT) // timedelta(microseconds=1)).scaleb(-6)
    fits = (since_first + days * 86400).between(0, sa.literal(span, sa.Numeric()))
    return sa.type_coerce(sa.case((fits, shifted), else_=sa.null()), UtcDateTime())


# -- arithmetic -------------------------------------------------------------------------------

Overload = tuple[FType, Callable[..., Any], Callable[..., SqlExpr], str | None]


def _arithmetic(name: str, summary: str, examples: Sequence[tuple[str, str]],
                overloads: dict[tuple[FType, FType], Overload]) -> Function:
    for (left, right), (result, fn, _pg, udf_name) in overloads.items():
        if udf_name:
            udf(udf_name, fn, (left, right), result)

    def pick(types: list[FType]) -> Overload:
        left, right = (N if t is FType.NULL else t for t in types)
        found = overloads.get((left, right))
        if found is None:
            allowed = "; ".join(f"{a.noun} {name} {b.noun}" for a, b in overloads)
            raise ArgumentError(f"'{name}' cannot combine {types[0].noun} and {types[1].noun}; it takes {allowed}")
        return found

    def python(types: list[FType], args: list[Compiled], nodes: Sequence[Typed]) -> Compiled:
        return strict(pick(types)[1])(types, args, nodes)

    def sql(ctx: SqlContext, types: list[FType], args: list[SqlExpr], nodes: Sequence[Typed]) -> SqlExpr:
        result, _fn, pg, udf_name = pick(types)
        args = [typed_null(arg, kind, N) for arg, kind in zip(args, types)]  # null is a number here
        if ctx.postgres or udf_name is None:
            return pg(*args) if ctx.postgres else _sqlite_arithmetic(name, *args)
        return getattr(sa.func, "rapport_" + udf_name)(*args, type_=sql_type(result))

    return register(Function(
        name=name, signature=f"a {name} b", summary=summary, examples=tuple(examples), min_args=2, max_args=2,
        typer=lambda types: pick(types)[0], python=python, sql=sql, group="Operators", operator=True))


def _sqlite_arithmetic(name: str, a: SqlExpr, b: SqlExpr) -> SqlExpr:
    numeric = sa.Numeric(asdecimal=True)
    if name == "/":
        return sa.type_coerce(sa.cast(a, sa.Float) / b, numeric)
    return sa.type_coerce({"+": operator.add, "-": operator.sub, "*": operator.mul}[name](a, b), numeric)


_EXACT = {operator.add: v.add, operator.sub: v.subtract, operator.mul: v.multiply}


def _num(op: Callable[[Any, Any], Any]) -> Overload:
    return (N, _EXACT[op], lambda a, b: sa.type_coerce(op(a, b), sa.Numeric(asdecimal=True)), None)


_arithmetic("+", "Adds numbers; adds a number of days to a date or date/time.",
            [("1 + 2", "3"), ('DATE(2026, 1, 30) + 3', "2026-02-02")], {
                (N, N): _num(operator.add),
                (D, N): (D, v.add_days, pg_add_days, "add_days"),
                (N, D): (D, lambda n, d: v.add_days(d, n), lambda n, d: pg_add_days(d, n), "add_days_r"),
                (DT, N): (DT, v.add_time, pg_add_time, "add_time"),
            })
_arithmetic("-", "Subtracts numbers; date − date is the number of days between them; date − number "
            "goes back that many days.",
            [("5 - 7", "-2"), ("DATE(2026, 3, 1) - DATE(2026, 2, 1)", "28")], {
                (N, N): _num(operator.sub),
                (D, N): (D, lambda d, n: v.add_days(d, -n), lambda d, n: pg_add_days(d, -n), "sub_days"),
                (D, D): (N, v.days_between, lambda a, b: sa.cast(a - b, sa.Numeric()), "days_between"),
                (DT, N): (DT, lambda t, n: v.add_time(t, -n), lambda t, n: pg_add_time(t, -n), "sub_time"),
                (DT, DT): (N, v.days_between_times,
                           lambda a, b: pg_divide(sa.func.extract("epoch", a - b), sa.literal(86400)),
                           "days_between_times"),
            })
_arithmetic("*", "Multiplies numbers.", [("3 * 1.5", "4.5")], {(N, N): _num(operator.mul)})
_arithmetic("/", f"Divides numbers, exact to {v.DIVISION_SCALE} decimal places; dividing by zero is blank.",
            [("10 / 4", "2.5"), ("1 / 0", "null")],
            {(N, N): (N, v.divide, pg_divide, None)})


def _pg_power(base: SqlExpr, exponent: SqlExpr) -> SqlExpr:
    """As :func:`values.power`: a negative power divides (exact to 20 places), and a power of
    more than MAX_POWER_DIGITS digits is blank. Nested CASEs: log() only of a non-zero base."""
    defined = sa.and_(sa.func.abs(exponent) <= v.MAX_EXPONENT,
                      sa.or_(base >= 0, exponent == sa.func.floor(exponent)),
                      sa.or_(base != 0, exponent >= 0))
    positive = sa.func.abs(exponent)
    fits = sa.case((base == 0, sa.true()),
                   else_=positive * sa.func.log(sa.func.abs(base)) <= v.MAX_POWER_DIGITS)
    raised = sa.func.power(base, positive, type_=sa.Numeric())
    value = sa.case((exponent < 0, pg_divide(sa.literal(Decimal(1), sa.Numeric()), raised)), else_=raised)
    return sa.case((defined, sa.case((fits, value), else_=sa.null())), else_=sa.null())


_arithmetic("^", "Raises a number to a power (at least 15 significant digits).", [("2 ^ 10", "1024")],
            {(N, N): (N, v.power, _pg_power, "power")})


def _unary(name: str, symbol: str, summary: str, param: FType, fn: Callable[[Any], Any],
           sql: Callable[[SqlExpr], SqlExpr], example: tuple[str, str]) -> None:
    register(Function(
        name=name, signature=f"{symbol}a", summary=summary, examples=(example,), min_args=1, max_args=1,
        typer=lambda types: _one(types, param, symbol), python=strict(fn),
        sql=lambda ctx, types, args, nodes: sql(typed_null(args[0], types[0], param)), group="Operators",
        operator=True))


def _one(types: list[FType], param: FType, symbol: str) -> FType:
    if not fits(types[0], param):
        raise ArgumentError(f"'{symbol}' takes {param.noun}, got {types[0].noun}", 0)
    return param


_unary("NEG", "-", "Negates a number.", N, v.negate, lambda a: -a, ("-(2 + 3)", "-5"))
_unary("POS", "+", "A number unchanged.", N, v.plus, lambda a: a, ("+5", "5"))


# -- text -----------------------------------------------------------------------------------

def _concat_type(types: list[FType]) -> FType:
    for index, kind in enumerate(types):
        if not fits(kind, T):
            raise ArgumentError(f"'&' joins text; got {kind.noun} (use TEXT() to turn it into text)", index)
    return T


# A chain ``a & b & c`` is one call of ``&`` on all its parts (the checker splices chains),
# so a long concatenation is one flat SQL function call, not a deep nest of them.

def concat(*parts: str | None) -> str | None:
    return "".join(part or "" for part in parts) or None


def _concat_python(types: list[FType], args: list[Compiled], nodes: Sequence[Typed]) -> Compiled:
    if len(args) == 2:
        a, b = args
        return lambda s: ((a(s) or "") + (b(s) or "")) or None
    return lambda s: concat(*(arg(s) for arg in args))


#: arguments per concat() call (PostgreSQL takes at most 100, SQLite's functions 127)
_CONCAT_ARGS = 50


def _concat_sql(ctx: SqlContext, types: list[FType], args: list[SqlExpr], nodes: Sequence[Typed]) -> SqlExpr:
    # PostgreSQL's concat() takes blanks as empty text; SQLite gets the same as a function
    concat_sql = sa.func.concat if ctx.postgres else sa.func.rapport_concat
    parts = list(args)
    while len(parts) > _CONCAT_ARGS:  # a long chain: concat() of concat()s
        parts = [concat_sql(*parts[i:i + _CONCAT_ARGS], type_=sa.String())
                 for i in range(0, len(parts), _CONCAT_ARGS)]
    return sa.func.nullif(concat_sql(*parts, type_=sa.String()), "", type_=sa.String())


udf("concat", concat, (T,), T, loose=True, variadic=True)


register(Function(
    name="&", signature="a & b", summary="Joins text; blank text counts as empty.",
    examples=(('"Acme" & " " & "Ltd"', '"Acme Ltd"'), ('"A" & null', '"A"')), min_args=2, max_args=None,
    typer=_concat_type, python=_concat_python, sql=_concat_sql, group="Operators", operator=True))


# -- comparison -----------------------------------------------------------------------------

_COMPARISONS: dict[str, tuple[Callable[[Any, Any], bool], str]] = {
    "=": (operator.eq, "equal"), "!=": (operator.ne, "not equal"), "<": (operator.lt, "less than"),
    ">": (operator.gt, "greater than"), "<=": (operator.le, "less than or equal"),
    ">=": (operator.ge, "greater than or equal"),
}


def sql_operand(x: SqlExpr) -> SqlExpr:
    """``x`` as an operand of ``=`` or ``<``: SQLAlchemy turns ``a = NULL`` into ``a IS NULL`` (true
    for a blank ``a``, where the formula's answer is blank) and refuses ``a < NULL``."""
    return sa.type_coerce(x, sa.String()) if isinstance(x, sa.Null) else x


def _comparison(symbol: str) -> None:
    op, words = _COMPARISONS[symbol]
    ordering = symbol not in ("=", "!=")

    def typer(types: list[FType]) -> FType:
        a, b = types
        if not comparable(a, b):
            raise ArgumentError(f"'{symbol}' compares values of one type; got {a.noun} and {b.noun}")
        if ordering and not ({a, b} - {FType.NULL}) <= ORDERED:
            raise ArgumentError(f"'{symbol}' orders numbers, text, dates and times; got {a.noun}")
        return B

    def sql(ctx: SqlContext, types: list[FType], args: list[SqlExpr], nodes: Sequence[Typed]) -> SqlExpr:
        a, b = (sql_operand(x) for x in args)
        if ctx.postgres and ordering and {FType.TEXT, FType.PICKLIST} & set(types):
            a, b = sa.collate(a, "C"), sa.collate(b, "C")  # code-point order, as in Python
        return op(a, b)  # type: ignore[return-value]

    register(Function(
        name=symbol, signature=f"a {symbol} b", summary=f"Whether a is {words} b (blank if either is blank)."
        + (" `==` is the same as `=`." if symbol == "=" else " `<>` is the same as `!=`." if symbol == "!=" else ""),
        examples=(("2 " + symbol + " 3", str(op(2, 3)).lower()),), min_args=2, max_args=2,
        typer=typer, python=strict(op), sql=sql, group="Operators", operator=True))


for _symbol in _COMPARISONS:
    _comparison(_symbol)


# -- logic ----------------------------------------------------------------------------------

def kleene_and(args: list[Compiled]) -> Compiled:
    def run(s: Any) -> Any:
        unknown = False
        for arg in args:
            value = arg(s)
            if value is False:
                return False
            if value is None:
                unknown = True
        return None if unknown else True
    return run


def kleene_or(args: list[Compiled]) -> Compiled:
    def run(s: Any) -> Any:
        unknown = False
        for arg in args:
            value = arg(s)
            if value is True:
                return True
            if value is None:
                unknown = True
        return None if unknown else False
    return run


def booleans(name: str) -> Callable[[list[FType]], FType]:
    def typer(types: list[FType]) -> FType:
        for index, kind in enumerate(types):
            if not fits(kind, B):
                raise ArgumentError(f"{name} takes true/false conditions; got {kind.noun}", index)
        return B
    return typer


register(Function(
    name="&&", signature="a && b", summary="Both conditions hold (as AND).", examples=(("true && false", "false"),),
    min_args=2, max_args=2, typer=booleans("'&&'"), python=lambda t, args, n: kleene_and(args),
    sql=lambda ctx, t, args, n: sa.and_(*args), group="Operators", operator=True))
register(Function(
    name="||", signature="a || b", summary="At least one condition holds (as OR).",
    examples=(("true || false", "true"),), min_args=2, max_args=2, typer=booleans("'||'"),
    python=lambda t, args, n: kleene_or(args), sql=lambda ctx, t, args, n: sa.or_(*args),
    group="Operators", operator=True))
register(Function(
    name="!", signature="!a", summary="The condition does not hold (as NOT).", examples=(("!true", "false"),),
    min_args=1, max_args=1, typer=booleans("'!'"), python=strict(operator.not_),
    sql=lambda ctx, t, args, n: sa.not_(args[0]), group="Operators", operator=True))
