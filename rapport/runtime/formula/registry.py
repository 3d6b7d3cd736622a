"""The one registry of formula functions and operators.

Each entry says how many arguments it takes, what types it accepts and returns (its
``typer``), and how to compute it twice: ``python`` builds a closure over compiled argument
closures, ``sql`` builds a SQLAlchemy expression from argument expressions. Operators are
entries too (``+``, ``=``, ``&``…). Most entries are made by :func:`simple` from a value
function of :mod:`.values`, a PostgreSQL expression and, for SQLite, the same value function
registered as a user-defined SQL function.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from collections.abc import Callable, Sequence

import sqlalchemy as sa

from rapport.runtime.formula.typed import Typed
from rapport.runtime.formula.types import FType, fits
from rapport.runtime.formula.values import FormulaRuntimeError

SqlExpr = sa.ColumnElement[Any]


Compiled = Callable[[Any], Any]  # python.Scope → value


class ArgumentError(Exception):
    """Arguments that do not fit; ``index`` names the argument (``None``: the call)."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.index = index


@dataclass
class SqlContext:
    """What SQL compilation needs besides the tree: the dialect and the global values.

    With ``env`` the globals and the clock are bound values; with ``env=None`` they are
    named parameters (:func:`env_parameters` gives their values), so that a statement can be
    built once and run for any user at any time.
    """

    dialect: str
    env: Any  # Env | None
    column: Callable[[tuple[str, ...]], SqlExpr]

    @property
    def postgres(self) -> bool:
        return self.dialect == "postgresql"

    def env_value(self, name: str, kind: FType) -> SqlExpr:
        """``$User.name`` is ``user_name``, ``TODAY()`` is ``today``…"""
        if self.env is None:
            return sa.bindparam(ENV_PARAMETER + name, type_=sql_type(kind))
        return literal(getattr(self.env, name), kind)


#: the prefix of the parameters that carry the globals and the clock (see SqlContext)
ENV_PARAMETER = "formula_env_"


Typer = Callable[[list[FType]], FType]
PythonBuilder = Callable[[list[FType], list[Compiled], Sequence[Typed]], Compiled]
SqlBuilder = Callable[[SqlContext, list[FType], list[SqlExpr], Sequence[Typed]], SqlExpr]


@dataclass(frozen=True)
class Function:
    name: str
    signature: str
    summary: str
    examples: tuple[tuple[str, str], ...]
    min_args: int
    max_args: int | None
    typer: Typer
    python: PythonBuilder
    sql: SqlBuilder
    #: reads the record before the write (ISNEW, ISCHANGED, PRIORVALUE)
    needs_prior: bool = False
    #: arguments that must be a field of the record itself (ISCHANGED(stage))
    field_args: frozenset[int] = frozenset()
    #: arguments that must be literal text (REGEX patterns, picklist values)
    literal_args: frozenset[int] = frozenset()
    #: the group the function reference lists it under
    group: str = ""
    operator: bool = False

    def arity(self) -> str:
        if self.max_args == self.min_args:
            return f"{self.min_args} argument{'s' if self.min_args != 1 else ''}"
        if self.max_args is None:
            return f"at least {self.min_args} argument{'s' if self.min_args != 1 else ''}"
        return f"{self.min_args} to {self.max_args} arguments"


FUNCTIONS: dict[str, Function] = {}


def register(fn: Function) -> Function:
    if fn.name in FUNCTIONS:
        raise ValueError(f"formula function {fn.name!r} is already registered")
    FUNCTIONS[fn.name] = fn
    return fn


# -- typers ---------------------------------------------------------------------------------

def fixed(*params: FType | tuple[FType, ...], result: FType) -> Typer:
    """Each argument fits its parameter (a tuple lists alternatives)."""

    def typer(args: list[FType]) -> FType:
        for index, (actual, wanted) in enumerate(zip(args, params)):
            choices = wanted if isinstance(wanted, tuple) else (wanted,)
            if not any(fits(actual, choice) for choice in choices):
                raise ArgumentError(f"expected {_nouns(choices)}, got {actual.noun}", index)
        return result

    return typer


def _nouns(types: Sequence[FType]) -> str:
    nouns = [t.noun for t in types]
    return nouns[0] if len(nouns) == 1 else ", ".join(nouns[:-1]) + " or " + nouns[-1]


# -- python builders ------------------------------------------------------------------------

def strict(fn: Callable[..., Any]) -> PythonBuilder:
    """A closure that is null when any argument is null, else ``fn(*values)``."""

    def build(types: list[FType], args: list[Compiled], nodes: Sequence[Typed]) -> Compiled:
        if len(args) == 1:
            (a,) = args

            def one(s: Any) -> Any:
                x = a(s)
                return None if x is None else fn(x)
            return one
        if len(args) == 2:
            a, b = args

            def two(s: Any) -> Any:
                x = a(s)
                if x is None:
                    return None
                y = b(s)
                return None if y is None else fn(x, y)
            return two

        def many(s: Any) -> Any:
            values = []
            for arg in args:
                value = arg(s)
                if value is None:
                    return None
                values.append(value)
            return fn(*values)
        return many

    return build


def loose(fn: Callable[..., Any]) -> PythonBuilder:
    """A closure that passes nulls to ``fn`` (which decides what blank means)."""

    def build(types: list[FType], args: list[Compiled], nodes: Sequence[Typed]) -> Compiled:
        if len(args) == 1:
            (a,) = args
            return lambda s: fn(a(s))
        if len(args) == 2:
            a, b = args
            return lambda s: fn(a(s), b(s))
        return lambda s: fn(*(arg(s) for arg in args))

    return build


# -- sql builders ---------------------------------------------------------------------------

PgExpr = Callable[..., SqlExpr]


def native(pg: PgExpr, sqlite: PgExpr | None = None) -> SqlBuilder:
    """``pg(*args)`` on PostgreSQL, ``sqlite(*args)`` (default: the same) on SQLite."""
    return lambda ctx, types, args, nodes: (pg if ctx.postgres or sqlite is None else sqlite)(*args)


def on_sqlite_udf(pg: PgExpr, udf: str, result: FType) -> SqlBuilder:
    """``pg(*args)`` on PostgreSQL; the user-defined function ``udf`` on SQLite."""

    def build(ctx: SqlContext, types: list[FType], args: list[SqlExpr], nodes: Sequence[Typed]) -> SqlExpr:
        if ctx.postgres:
            return pg(*args)
        return getattr(sa.func, "rapport_" + udf)(*args, type_=sql_type(result))

    return build


class ExactNumber(sa.TypeDecorator[Decimal]):
    """A formula's number, read back as a Decimal: exact from PostgreSQL, and from SQLite's
    64-bit floats by their shortest decimal form (``0.1``, not ``0.1000000000000000055``), so
    no digits are cut (SQLAlchemy's Numeric reads SQLite floats to 10 places)."""

    impl = sa.Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        return dialect.type_descriptor(sa.Float() if dialect.name == "sqlite" else sa.Numeric(asdecimal=True))

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Decimal | None:
        if value is None or isinstance(value, Decimal):
            return value
        if isinstance(value, float):  # past a float's range SQLite says inf: no number, so blank
            return Decimal(repr(value)) if math.isfinite(value) else None
        return Decimal(value)


def sql_type(kind: FType) -> sa.types.TypeEngine[Any]:
    from rapport.platform.sqltypes import UtcDateTime

    types: dict[FType, sa.types.TypeEngine[Any]] = {
        FType.NUMBER: ExactNumber(), FType.BOOLEAN: sa.Boolean(), FType.DATE: sa.Date(),
        FType.DATETIME: UtcDateTime(), FType.TIME: sa.Time(),
    }
    return types.get(kind, sa.String())


def typed_null(arg: SqlExpr, kind: FType, param: FType) -> SqlExpr:
    """``arg`` cast to ``param``'s column type when its formula type is null: PostgreSQL cannot
    choose among overloads (``trunc(numeric)``, ``trunc(double precision)``, ``- x``) for an
    untyped NULL."""
    return sa.cast(arg, sql_type(param)) if kind is FType.NULL else arg


def with_typed_nulls(build: SqlBuilder, params: Sequence[FType]) -> SqlBuilder:
    def typed(ctx: SqlContext, types: list[FType], args: list[SqlExpr], nodes: Sequence[Typed]) -> SqlExpr:
        return build(ctx, types, [typed_null(a, t, p) for a, t, p in zip(args, types, params)], nodes)
    return typed


def literal(value: Any, kind: FType) -> SqlExpr:
    if value is None:  # typed, so PostgreSQL knows what a blank is (a blank text, a blank date…)
        return sa.null() if kind is FType.NULL else sa.cast(sa.null(), sql_type(kind))
    if kind is FType.BOOLEAN:
        return sa.true() if value else sa.false()
    return sa.literal(value, sql_type(kind))


# -- SQLite user-defined functions ----------------------------------------------------------

@dataclass(frozen=True)
class Udf:
    name: str
    fn: Callable[..., Any]
    params: tuple[FType, ...]
    result: FType
    #: null arguments reach ``fn`` (else a null argument gives null)
    loose: bool = False
    variadic: bool = False

    def __call__(self, *raw: Any) -> Any:
        params = self.params if not self.variadic else self.params * len(raw)
        values = [from_sqlite(v, t) for v, t in zip(raw, params)]
        if not self.loose and any(v is None for v in values):
            return None
        try:
            return to_sqlite(self.fn(*values))
        except (FormulaRuntimeError, ArithmeticError, ValueError, OverflowError):
            return None


UDFS: dict[str, Udf] = {}


def udf(name: str, fn: Callable[..., Any], params: Sequence[FType], result: FType, *, loose: bool = False,
        variadic: bool = False) -> None:
    UDFS[name] = Udf(name, fn, tuple(params), result, loose, variadic)


def from_sqlite(value: Any, kind: FType) -> Any:
    if value is None:
        return None
    if kind is FType.NUMBER:
        if isinstance(value, float):
            return Decimal(repr(value)) if value == value and abs(value) != float("inf") else None
        return Decimal(value)
    if kind is FType.DATE:
        return date.fromisoformat(str(value)[:10])
    if kind is FType.DATETIME:
        return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
    if kind is FType.TIME:  # SQLite keeps times as text: 09:30:00.000000
        return time.fromisoformat(str(value))
    if kind is FType.BOOLEAN:
        return bool(value)
    return value if isinstance(value, str) else str(value)


def to_sqlite(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal):
        if value == value.to_integral_value() and abs(value) < 2 ** 63:
            return int(value)
        return float(value)
    if isinstance(value, datetime):
        # as SQLAlchemy stores them (strftime's %Y leaves years before 1000 unpadded)
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def simple(name: str, params: Sequence[FType | tuple[FType, ...]], result: FType, fn: Callable[..., Any],
           pg: PgExpr, *, signature: str, summary: str, examples: Sequence[tuple[str, str]], group: str,
           nulls: str = "propagate", sqlite: PgExpr | None = None, min_args: int | None = None,
           sql: SqlBuilder | None = None) -> Function:
    """A function of fixed parameters: ``fn`` on values in Python and as a SQLite UDF,
    ``pg`` on PostgreSQL (or ``sqlite`` natively on SQLite, when given). ``sql``, when given,
    builds the SQL itself and may fall back on the default builder it receives last.

    ``nulls="propagate"``: a null argument makes the result null; ``"pass"``: ``fn`` sees nulls.
    """
    udf_params = tuple(p[0] if isinstance(p, tuple) else p for p in params)
    udf_name = name.lower()
    udf(udf_name, fn, udf_params, result, loose=nulls == "pass")
    default = native(pg, sqlite) if sqlite is not None else on_sqlite_udf(pg, udf_name, result)
    if sql is not None:
        default = _preferring(sql, default)
    sql = with_typed_nulls(default, udf_params)
    return register(Function(
        name=name, signature=signature, summary=summary, examples=tuple(examples),
        min_args=len(params) if min_args is None else min_args, max_args=len(params),
        typer=fixed(*params, result=result), python=(strict if nulls == "propagate" else loose)(fn),
        sql=sql, group=group))


PerType = dict[FType, tuple[Callable[[Any], Any], "PgExpr | None"]]


def by_argument_type(name: str, table: PerType, result: FType) -> tuple[PythonBuilder, SqlBuilder]:
    """The builders of a one-argument function that converts each argument type its own way.

    ``table`` maps a type to (the Python conversion, the PostgreSQL expression, or ``None``
    for the value as it is); SQLite gets each Python conversion as a user-defined function.
    A null argument gives null.
    """
    for kind, (fn, pg) in table.items():
        if pg is not None:
            udf(f"{name}_{kind.value}", fn, (kind,), result)

    def python(types: list[FType], args: list[Compiled], nodes: Sequence[Typed]) -> Compiled:
        if types[0] is FType.NULL:
            return lambda s: None
        convert = table[types[0]][0]
        (a,) = args
        return lambda s: None if (x := a(s)) is None else convert(x)

    def sql(ctx: SqlContext, types: list[FType], args: list[SqlExpr], nodes: Sequence[Typed]) -> SqlExpr:
        kind = types[0]
        if kind is FType.NULL:  # typed, for PostgreSQL (extract() of a date, text in a CASE…)
            return sa.cast(sa.null(), sql_type(result))
        pg = table[kind][1]
        if pg is None:
            return args[0]
        if ctx.postgres:
            return pg(args[0])
        return getattr(sa.func, f"rapport_{name}_{kind.value}")(args[0], type_=sql_type(result))

    return python, sql


def _preferring(own: SqlBuilder, default: SqlBuilder) -> SqlBuilder:
    """``own``, which returns ``None`` where ``default`` should build the expression."""
    def build(ctx: SqlContext, types: list[FType], args: list[SqlExpr], nodes: Sequence[Typed]) -> SqlExpr:
        built = own(ctx, types, args, nodes)
        return default(ctx, types, args, nodes) if built is None else built
    return build


@dataclass
class Env:
    """The values of ``$User``, ``$Org``, ``TODAY()`` and ``NOW()`` for one evaluation."""

    user_id: str | None = None
    user_name: str | None = None
    user_email: str | None = None
    org_id: str | None = None
    org_name: str | None = None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def today(self) -> date:
        return self.now.date()


def env_parameters(env: Env) -> dict[str, Any]:
    """The values of the parameters a statement built with ``SqlContext(env=None)`` takes."""
    names = ("user_id", "user_name", "user_email", "org_id", "org_name", "now", "today")
    return {ENV_PARAMETER + name: getattr(env, name) for name in names}
