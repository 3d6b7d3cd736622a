"""The two compilers of the formula language agree, on SQLite and on PostgreSQL.

(a) The table of tests/unit/test_formula_language.py, through ``compile_sql``: every
    formula has the value the Python compiler gives (no value in Python is NULL in SQL).
(b) Hypothesis writes random well-typed formulas over random records and checks that both
    compilers give the same value.

Numbers read from SQLite are floats, so they agree within a relative 1e-9; so that the
discontinuous functions (FLOOR, ROUND, comparisons, TEXT…) see the same number on both sides,
the generator gives them only numbers that a float holds exactly on SQLite (see
:class:`Formulas`). PostgreSQL computes exactly, except SQRT and ``^``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rapport.platform.db import make_engine
from rapport.runtime.fields import FIELD_TYPES
from rapport.runtime.formula import (
    FormulaRuntimeError, FType, Scope, SqlContext, Typed, Use, check, compile_python, compile_sql,
)
from rapport.runtime.formula.registry import Compiled
from rapport.runtime.formula.typed import TCall, walk
from tests.unit.test_formula_language import (
    BUNDLE, CASES, DEAL, ENV, ERROR, RECORDS, RELATED, RELATED_FIELDS, Case, typed,
)

#: functions whose results are good to about 15 significant digits on every backend
INEXACT = frozenset({"SQRT", "^"})


# -- a table of the deal's fields, with the looked-up values as columns of their own ----------

@dataclass(repr=False)
class FormulaTable:
    """One row holding a record; formulas are evaluated as columns of a SELECT over it."""

    conn: sa.Connection
    table: sa.Table
    sqlite: bool

    def __repr__(self) -> str:
        return f"FormulaTable({self.conn.dialect.name})"

    def column(self, path: tuple[str, ...]) -> sa.ColumnElement[Any]:
        return self.table.c["__".join(path)]

    def evaluate(self, record: dict[str, Any], related: dict[str, Any],
                 formulas: Sequence[tuple[str, Typed]]) -> list[Any]:
        """The values of the (text, tree) ``formulas`` on the record, in one SELECT (then one each,
        to name the culprit when it fails)."""
        ctx = SqlContext(self.conn.dialect.name, ENV, self.column)
        row = {"id": 1, **record, **{path.replace(".", "__"): value for path, value in related.items()}}
        columns = []
        for i, (text, tree) in enumerate(formulas):
            try:
                columns.append(compile_sql(tree, ctx).label(f"f{i}"))
            except sa.exc.SQLAlchemyError as error:
                raise AssertionError(f"SQL cannot be made for {text!r}: {error}") from error
        try:
            return self._select(row, columns)
        except sa.exc.SQLAlchemyError:
            pass
        for column, (text, _) in zip(columns, formulas):
            try:
                self._select(row, [column])
            except sa.exc.SQLAlchemyError as error:
                raise AssertionError(f"SQL fails for {text!r}: {getattr(error, 'orig', error)}") from error
        raise AssertionError("the SELECT of all the formulas failed, yet each one alone works")

    def _select(self, row: dict[str, Any], columns: list[sa.Label[Any]]) -> list[Any]:
        with self.conn.begin() as transaction:
            self.conn.execute(self.table.insert(), [row])
            values = list(self.conn.execute(sa.select(*columns).where(self.table.c.id == 1)).one())
            transaction.rollback()
        return values


def _make_table(metadata: sa.MetaData) -> sa.Table:
    columns = [sa.Column("id", sa.Integer, primary_key=True)]
    for name in RECORDS["full"]:
        defn = DEAL.field(name)
        assert defn is not None
        columns.append(sa.Column(name, FIELD_TYPES[defn.type].column_type(defn)))
    account = BUNDLE.object("account")
    for path, type_name in RELATED_FIELDS.items():
        defn = account.field(path.rsplit(".", 1)[1])
        assert defn is not None and defn.type == type_name
        columns.append(sa.Column(path.replace(".", "__"), FIELD_TYPES[type_name].column_type(defn)))
    return sa.Table(f"formula_{uuid.uuid4().hex[:10]}", metadata, *columns)


@pytest.fixture
def database(backend: str, request: pytest.FixtureRequest) -> Iterator[FormulaTable]:
    url = request.getfixturevalue("postgres_url") if backend == "postgres" else "sqlite://"
    engine = make_engine(url)
    metadata = sa.MetaData()
    table = _make_table(metadata)
    with engine.begin() as conn:
        metadata.create_all(conn)
    try:
        with engine.connect() as conn:
            yield FormulaTable(conn, table, sqlite=backend == "sqlite")
    finally:
        with engine.begin() as conn:
            metadata.drop_all(conn)
        engine.dispose()


# -- agreeing -----------------------------------------------------------------------------------

def agrees(sql: Any, python: Any, *, sqlite: bool, inexact: bool) -> bool:
    """Whether the SQL value is the Python value (numbers within the backend's precision)."""
    if python is None or sql is None:
        return python is None and sql is None
    if type(sql) is not type(python):
        return False
    if isinstance(python, Decimal):
        if sqlite:  # floats, read back to ten decimal places
            return abs(sql - python) <= Decimal("1e-9") * max(1, abs(python))
        if inexact:
            return abs(sql - python) <= Decimal("1e-12") * max(1, abs(python))
        return bool(sql == python)
    return bool(sql == python)


def is_inexact(tree: Typed) -> bool:
    return any(isinstance(n, TCall) and n.fn.name in INEXACT for n in walk(tree))


# -- (a) the table of the unit test -------------------------------------------------------------

def test_sql_compiler_gives_the_answers_of_the_table(database: FormulaTable) -> None:
    wrong = []
    for record in RECORDS:
        cases: list[Case] = [c for c in CASES if c.record == record and (c.floats or not database.sqlite)]
        trees = [typed(c.expression) for c in cases]
        values = database.evaluate(RECORDS[record], RELATED[record], [(c.expression, t) for c, t in zip(cases, trees)])
        for case, tree, value in zip(cases, trees, values):
            expected = None if case.expected is ERROR else case.expected
            if not agrees(value, expected, sqlite=database.sqlite, inexact=is_inexact(tree)):
                wrong.append(f"{case}: SQL gives {value!r}, expected {expected!r}")
    assert wrong == []


# -- (b) random formulas --------------------------------------------------------------------------

#: how closely a number must be kept, from the strictest: exactly representable as a float on
#: SQLite (so float arithmetic is exact), short (a float's repr gives back the decimal), any
EXACT, SHORT, ANY = 0, 1, 2
TEXT_ALPHABET = "aBé 1.-"
REGEXES = ("a.*", "[a-zé ]*", "\\\\d+(\\\\.\\\\d+)?", "é|B", "", ".*B.*", "(a|B)+ ?")
DATE_TEXTS = ("2026-01-31", " 2024-02-29 ", "2026-02-30", "1900-13-01", "0000-01-01", "9999-12-31")
#: field names by formula type
FIELDS = {FType.TEXT: ("name", "code", "stage", "account.name"), FType.NUMBER: ("amount", "discount", "qty"),
          FType.DATE: ("close",), FType.DATETIME: ("at",), FType.BOOLEAN: ("flag",)}


class Formulas:
    """Random well-typed formulas: ``build(draw, kind, depth)`` is the text of a formula of ``kind``.

    On SQLite the native operators (``+ - * /``, comparisons, MIN, MAX, ABS) work on floats
    while the functions work on the decimals the floats stand for; a number fed to a function
    that jumps (FLOOR, ROUND, a comparison…) must then be one the float holds exactly, or the
    two sides may land on either side of a jump. Each number production says how exact its
    result is, and each consumer asks for what it needs.
    """

    def __init__(self, sqlite: bool) -> None:
        self.sqlite = sqlite

    # -- numbers ----------------------------------------------------------------------------------
    def literal(self, draw: st.DrawFn, level: int) -> str:
        if self.sqlite:  # halves (exact floats); short decimals where a float need not be exact
            value = Decimal(draw(st.integers(-200, 200))) / 2
            if level >= SHORT and draw(st.booleans()):
                value = draw(st.decimals(-100, 100, places=2))
        else:
            value = draw(st.one_of(st.integers(-20, 20).map(Decimal), decimals(12, places=4)))
        text = format(value, "f")
        return f"({text})" if value < 0 else text

    def number(self, draw: st.DrawFn, depth: int, level: int) -> str:
        leaves = ["literal", "field", "field", "null", "len", "find", "part", "days"]
        nodes = ["add", "add", "product", "neg", "abs", "minmax", "floor", "if", "case", "blank"]
        if level >= SHORT or not self.sqlite:  # decimals a float holds only approximately
            nodes += ["round", "mod", "value"]
        if level >= ANY or not self.sqlite:
            nodes += ["divide"]
        if level >= ANY:
            nodes += ["sqrt", "power", "moments"]
        choice = draw(st.sampled_from(leaves + nodes if depth > 0 else leaves))
        sub = depth - 1
        exact = EXACT if level < ANY else ANY  # what native float arithmetic may take
        if choice == "literal":
            return self.literal(draw, level)
        if choice == "field":
            return draw(st.sampled_from(FIELDS[FType.NUMBER]))
        if choice == "null":
            return "null"
        if choice == "len":
            return f"LEN({self.text(draw, max(sub, 0))})"
        if choice == "find":
            start = f", {self.count(draw, sub)}" if draw(st.booleans()) else ""
            return f"FIND({self.text(draw, max(sub, 0))}, {self.text(draw, max(sub, 0))}{start})"
        if choice == "part":
            part = draw(st.sampled_from(["YEAR", "MONTH", "DAY", "WEEKDAY"]))
            return f"{part}({self.day(draw, max(sub, 0))})"
        if choice == "days":
            return f"({self.day(draw, max(sub, 0))} - {self.day(draw, max(sub, 0))})"
        if choice == "add":
            op = draw(st.sampled_from(["+", "-", "*"]))
            return f"({self.number(draw, sub, exact)} {op} {self.number(draw, sub, exact)})"
        if choice == "product":  # long products outgrow 28 digits (Python's default precision)
            return "(" + " * ".join(self.number(draw, sub, exact) for _ in range(draw(st.integers(2, 4)))) + ")"
        if choice == "divide":
            return f"({self.number(draw, sub, exact)} / {self.number(draw, sub, exact)})"
        if choice == "neg":
            return f"{draw(st.sampled_from(['-', '+']))}{self.number(draw, sub, level)}"
        if choice == "abs":
            return f"ABS({self.number(draw, sub, level)})"
        if choice == "minmax":
            name = draw(st.sampled_from(["MIN", "MAX"]))
            args = [self.number(draw, sub, level) for _ in range(draw(st.integers(1, 3)))]
            return f"{name}({', '.join(args)})"
        if choice == "floor":
            return f"{draw(st.sampled_from(['FLOOR', 'CEILING']))}({self.number(draw, sub, SHORT)})"
        if choice == "round":
            digits = f", {self.count(draw, sub, low=-3, high=4)}" if draw(st.booleans()) else ""
            return f"ROUND({self.number(draw, sub, SHORT)}{digits})"
        if choice == "mod":
            return f"MOD({self.number(draw, sub, SHORT)}, {self.number(draw, sub, SHORT)})"
        if choice == "value":
            return f"VALUE({self.text(draw, sub)})"
        if choice == "sqrt":
            return f"SQRT({self.number(draw, sub, SHORT)})"
        if choice == "power":
            exponent = draw(st.sampled_from(["2", "3", "0", "(-1)", "0.5", "(-2)", "1.5"]))
            return f"({self.number(draw, sub, SHORT)} ^ {exponent})"
        if choice == "moments":
            return f"({self.moment(draw, sub)} - {self.moment(draw, sub)})"
        return self.shared(draw, choice, FType.NUMBER, depth, level)

    def count(self, draw: st.DrawFn, depth: int, low: int = -2, high: int = 8) -> str:
        """A count, position or number of digits: mostly small whole numbers."""
        if depth <= 0 or draw(st.integers(0, 3)):
            value = draw(st.integers(low, high))
            return f"({value})" if value < 0 else str(value)
        return self.number(draw, depth, SHORT)

    # -- the productions every type has ----------------------------------------------------------
    def shared(self, draw: st.DrawFn, choice: str, kind: FType, depth: int, level: int = ANY) -> str:
        sub = depth - 1
        same = lambda: self.build(draw, kind, sub, level)  # noqa: E731
        if choice == "if":
            return f"IF({self.boolean(draw, sub)}, {same()}, {same()})"
        if choice == "blank":
            name = draw(st.sampled_from(["BLANKVALUE", "NULLVALUE"]))
            return f"{name}({same()}, {same()})"
        assert choice == "case"
        subject_kind = draw(st.sampled_from([FType.NUMBER, FType.TEXT, FType.DATE, FType.BOOLEAN]))
        subject = lambda: self.build(draw, subject_kind, sub, SHORT)  # noqa: E731
        pairs = [f"{subject()}, {same()}" for _ in range(draw(st.integers(1, 2)))]
        return f"CASE({subject()}, {', '.join(pairs)}, {same()})"

    def build(self, draw: st.DrawFn, kind: FType, depth: int, level: int = ANY) -> str:
        if kind is FType.NUMBER:
            return self.number(draw, depth, level)
        return {FType.TEXT: self.text, FType.BOOLEAN: self.boolean, FType.DATE: self.day,
                FType.DATETIME: self.moment}[kind](draw, depth)

    # -- text --------------------------------------------------------------------------------------
    def text(self, draw: st.DrawFn, depth: int) -> str:
        leaves = ["literal", "field", "null", "user"]
        nodes = ["concat", "piece", "mid", "case_change", "substitute", "text", "if", "case", "blank"]
        choice = draw(st.sampled_from(leaves + nodes if depth > 0 else leaves))
        sub = depth - 1
        if choice == "literal":
            return '"' + draw(st.text(TEXT_ALPHABET, max_size=4)) + '"'
        if choice == "field":
            return draw(st.sampled_from(FIELDS[FType.TEXT]))
        if choice == "null":
            return "null"
        if choice == "user":
            return draw(st.sampled_from(["$User.name", "$Org.name", "$User.email"]))
        if choice == "concat":
            return f"({self.text(draw, sub)} & {self.text(draw, sub)})"
        if choice == "piece":
            name = draw(st.sampled_from(["LEFT", "RIGHT"]))
            return f"{name}({self.text(draw, sub)}, {self.count(draw, sub)})"
        if choice == "mid":
            return f"MID({self.text(draw, sub)}, {self.count(draw, sub)}, {self.count(draw, sub)})"
        if choice == "case_change":
            return f"{draw(st.sampled_from(['UPPER', 'LOWER', 'TRIM']))}({self.text(draw, sub)})"
        if choice == "substitute":
            return f"SUBSTITUTE({self.text(draw, sub)}, {self.text(draw, sub)}, {self.text(draw, sub)})"
        if choice == "text":
            of = draw(st.sampled_from([FType.NUMBER, FType.BOOLEAN, FType.DATE, FType.DATETIME, FType.TEXT]))
            return f"TEXT({self.build(draw, of, sub, SHORT)})"
        return self.shared(draw, choice, FType.TEXT, depth)

    # -- booleans ----------------------------------------------------------------------------------
    def boolean(self, draw: st.DrawFn, depth: int) -> str:
        leaves = ["field", "constant"]
        nodes = ["compare", "logic", "not", "many", "isblank", "isnumber", "contains", "pick", "regex",
                 "if", "blank"]
        choice = draw(st.sampled_from(leaves + nodes if depth > 0 else leaves))
        sub = depth - 1
        if choice == "field":
            return "flag"
        if choice == "constant":
            return draw(st.sampled_from(["true", "false", "null"]))
        if choice == "compare":
            kind = draw(st.sampled_from([FType.NUMBER, FType.TEXT, FType.DATE, FType.DATETIME, FType.BOOLEAN]))
            ops = ["=", "==", "!=", "<>"] if kind is FType.BOOLEAN else ["=", "==", "!=", "<>", "<", ">", "<=", ">="]
            op = draw(st.sampled_from(ops))
            return f"({self.build(draw, kind, sub, SHORT)} {op} {self.build(draw, kind, sub, SHORT)})"
        if choice == "logic":
            return f"({self.boolean(draw, sub)} {draw(st.sampled_from(['&&', '||']))} {self.boolean(draw, sub)})"
        if choice == "not":
            return f"{draw(st.sampled_from(['!', 'NOT']))}({self.boolean(draw, sub)})"
        if choice == "many":
            args = [self.boolean(draw, sub) for _ in range(draw(st.integers(1, 3)))]
            return f"{draw(st.sampled_from(['AND', 'OR']))}({', '.join(args)})"
        if choice == "isblank":
            kind = draw(st.sampled_from([FType.NUMBER, FType.TEXT, FType.DATE, FType.DATETIME, FType.BOOLEAN]))
            return f"ISBLANK({self.build(draw, kind, sub)})"
        if choice == "isnumber":
            return f"ISNUMBER({self.text(draw, sub)})"
        if choice == "contains":
            name = draw(st.sampled_from(["CONTAINS", "BEGINS"]))
            return f"{name}({self.text(draw, sub)}, {self.text(draw, sub)})"
        if choice == "pick":
            if draw(st.booleans()):
                return f'ISPICKVAL(stage, "{draw(st.sampled_from(["open", "won", "lost"]))}")'
            return f'INCLUDES(regions, "{draw(st.sampled_from(["emea", "apac", "amer"]))}")'
        if choice == "regex":
            return f'REGEX({self.text(draw, sub)}, "{draw(st.sampled_from(REGEXES))}")'
        return self.shared(draw, choice, FType.BOOLEAN, depth)

    # -- dates and date/times ------------------------------------------------------------------------
    def day(self, draw: st.DrawFn, depth: int) -> str:
        leaves = ["field", "today", "date"]
        nodes = ["shift", "months", "make", "datevalue", "minmax", "if", "case", "blank"]
        choice = draw(st.sampled_from(leaves + nodes if depth > 0 else leaves))
        sub = depth - 1
        if choice == "field":
            return "close"
        if choice == "today":
            return "TODAY()"
        if choice == "date":
            year, month, day = draw(st.integers(1, 9999)), draw(st.integers(0, 13)), draw(st.integers(0, 32))
            if draw(st.booleans()):
                year = draw(st.integers(1900, 2100))
            return f"DATE({year}, {month}, {day})"
        if choice == "shift":
            n = self.number(draw, sub, SHORT)
            return draw(st.sampled_from([f"({self.day(draw, sub)} + {n})", f"({n} + {self.day(draw, sub)})",
                                         f"({self.day(draw, sub)} - {n})"]))
        if choice == "months":
            return f"ADDMONTHS({self.day(draw, sub)}, {self.count(draw, sub, low=-30, high=30)})"
        if choice == "make":
            parts = [self.number(draw, sub, SHORT) for _ in range(3)]
            return f"DATE({', '.join(parts)})"
        if choice == "datevalue":
            source = draw(st.sampled_from(["text", "literal", "moment", "day"]))
            if source == "text":
                return f"DATEVALUE({self.text(draw, sub)})"
            if source == "literal":
                return f'DATEVALUE("{draw(st.sampled_from(DATE_TEXTS))}")'
            if source == "moment":
                return f"DATEVALUE({self.moment(draw, sub)})"
            return f"DATEVALUE(TEXT({self.day(draw, sub)}))"
        if choice == "minmax":
            return f"{draw(st.sampled_from(['MIN', 'MAX']))}({self.day(draw, sub)}, {self.day(draw, sub)})"
        return self.shared(draw, choice, FType.DATE, depth)

    def moment(self, draw: st.DrawFn, depth: int) -> str:
        leaves = ["field", "now"]
        nodes = ["shift", "from_day", "minmax", "if", "blank"]
        choice = draw(st.sampled_from(leaves + nodes if depth > 0 else leaves))
        sub = depth - 1
        if choice == "field":
            return "at"
        if choice == "from_day":  # any year, not only those near the record's
            return f"(NOW() + ({self.day(draw, sub)} - TODAY()))"
        if choice == "now":
            return "NOW()"
        if choice == "shift":
            return f"({self.moment(draw, sub)} {draw(st.sampled_from(['+', '-']))} {self.number(draw, sub, SHORT)})"
        if choice == "minmax":
            return f"{draw(st.sampled_from(['MIN', 'MAX']))}({self.moment(draw, sub)}, {self.moment(draw, sub)})"
        return self.shared(draw, choice, FType.DATETIME, depth)


def decimals(digits: int, places: int) -> st.SearchStrategy[Decimal]:
    """Decimals of up to ``digits`` digits, ``places`` of them after the point, of every magnitude."""
    scaled = st.integers(1, digits).flatmap(lambda n: st.integers(-10 ** n, 10 ** n))
    return scaled.map(lambda k: Decimal(k).scaleb(-places))


def records(sqlite: bool) -> st.SearchStrategy[tuple[dict[str, Any], dict[str, Any]]]:
    """A deal and its looked-up values; on SQLite numbers a float holds exactly."""
    def text() -> st.SearchStrategy[str | None]:
        return st.none() | st.text(TEXT_ALPHABET, min_size=1, max_size=6)

    if sqlite:
        amount = st.integers(-200, 200).map(lambda k: Decimal(k) / 2)
        discount = st.integers(-200, 200).map(lambda k: Decimal(k) / 2)
        qty = st.integers(-100, 100)
    else:
        amount, discount = decimals(11, places=2), decimals(9, places=4)
        qty = st.integers(-10 ** 6, 10 ** 6)
    record = st.fixed_dictionaries({
        "name": text(), "code": text() | st.sampled_from(["12", " 3.5 ", "-0.25", "2026-01-31", ".5"]),
        "amount": st.none() | amount, "discount": st.none() | discount, "qty": st.none() | qty,
        "stage": st.sampled_from([None, "open", "won", "lost"]),
        "regions": st.sampled_from([None, ";emea;", ";emea;apac;", ";amer;"]),
        "close": st.none() | st.dates(date(1900, 1, 1), date(2100, 12, 31)),
        "at": st.none() | st.datetimes(datetime(1900, 1, 1), datetime(2100, 12, 31), timezones=st.just(UTC)),
        "starts": st.none() | st.just(time(9, 30)),
        "flag": st.none() | st.booleans(), "account": st.none() | st.just("a-1"),
    })
    related = st.fixed_dictionaries({"account.name": text(), "account.revenue": st.none() | amount,
                                     "account.tier": st.sampled_from([None, "gold", "silver"]),
                                     "account.parent.name": text()})
    return st.tuples(record, related)


@st.composite
def examples(draw: st.DrawFn, sqlite: bool) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    formulas = Formulas(sqlite)
    texts = [formulas.number(draw, 3, ANY), formulas.text(draw, 3), formulas.boolean(draw, 3),
             formulas.day(draw, 3), formulas.moment(draw, 2)]
    record, related = draw(records(sqlite))
    return record, related, texts


def without_errors(node: Typed) -> Compiled:
    """The Python closure with SQL's reading of errors: a value with no answer is blank."""
    if not isinstance(node, TCall):
        run = compile_python(node)
    else:
        args = [without_errors(arg) for arg in node.args]
        run = node.fn.python([arg.type for arg in node.args], args, node.args)

    def guarded(scope: Scope) -> Any:
        try:
            return run(scope)
        except FormulaRuntimeError:
            return None
    return guarded


#: where a random formula is used: any value (``null`` too)
RANDOM = Use("random formula", frozenset({FType.TEXT, FType.NUMBER, FType.BOOLEAN, FType.DATE, FType.DATETIME}))


def python_value(tree: Typed, scope: Scope) -> Any:
    try:
        return compile_python(tree)(scope)
    except FormulaRuntimeError:
        return without_errors(tree)(scope)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data())
def test_both_compilers_agree_on_random_formulas(database: FormulaTable, data: st.DataObject) -> None:
    record, related, texts = data.draw(examples(database.sqlite))
    trees = [check(BUNDLE, DEAL, text, RANDOM) for text in texts]
    scope = Scope(record, None, related, ENV)
    sql_values = database.evaluate(record, related, list(zip(texts, trees)))
    for text, tree, sql in zip(texts, trees, sql_values):
        python = python_value(tree, scope)
        assert agrees(sql, python, sqlite=database.sqlite, inexact=is_inexact(tree)), (
            f"{text}\n  Python: {python!r}\n  SQL:    {sql!r}")

