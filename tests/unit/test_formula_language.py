"""The formula language without a database: parsing, type checking and the Python compiler.

:data:`CASES` is one table of formulas and the values they give on a filled-in deal
(``"full"``) and on a deal whose every field is blank (``"blank"``); it covers every entry of
the function registry, each with a blank argument. tests/integration/test_formula_compilers.py
runs the same table through the SQL compiler on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from decimal import Decimal
from functools import cache
from typing import Any

import pytest

from rapport.metadata import load_bundle
from rapport.metadata.model import FieldDef
from rapport.platform.errors import ValidationFailed
from rapport.runtime.fields import FIELD_TYPES
from rapport.runtime.formula import (
    FUNCTIONS, Env, FormulaInvalid, FormulaRuntimeError, FormulaSyntaxError, FType, Scope, Typed, Use, check,
    check_formula_field, compile_python, parse,
)
from rapport.runtime.formula.syntax import Call, FieldRef, GlobalRef, Literal, Node
from rapport.runtime.formula.typed import TCall, walk
from rapport.runtime.loading import load


def _picklist(*names: str) -> list[dict[str, str]]:
    return [{"value": n, "label": n.title()} for n in names]


BUNDLE_DATA: dict[str, Any] = {"objects": [
    {"name": "account", "label": "Account", "fields": [
        {"name": "name", "label": "Name", "type": "text"},
        {"name": "revenue", "label": "Revenue", "type": "currency"},
        {"name": "tier", "label": "Tier", "type": "picklist", "values": _picklist("gold", "silver")},
        {"name": "parent", "label": "Parent", "type": "lookup", "target": "account"},
        {"name": "big", "label": "Big", "type": "formula", "return_type": "boolean",
         "expression": "revenue > 1000000"},
    ]},
    {"name": "deal", "label": "Deal", "fields": [
        {"name": "name", "label": "Name", "type": "text"},
        {"name": "code", "label": "Code", "type": "text"},
        {"name": "amount", "label": "Amount", "type": "currency"},
        {"name": "discount", "label": "Discount", "type": "number", "scale": 4},
        {"name": "qty", "label": "Quantity", "type": "integer"},
        {"name": "stage", "label": "Stage", "type": "picklist", "values": _picklist("open", "won", "lost")},
        {"name": "regions", "label": "Regions", "type": "multipicklist", "values": _picklist("emea", "apac", "amer")},
        {"name": "close", "label": "Close", "type": "date"},
        {"name": "at", "label": "At", "type": "datetime"},
        {"name": "starts", "label": "Starts", "type": "time"},
        {"name": "flag", "label": "Flag", "type": "boolean"},
        {"name": "account", "label": "Account", "type": "lookup", "target": "account"},
        {"name": "weighted", "label": "Weighted", "type": "formula", "return_type": "currency",
         "expression": "amount * 2"},
        {"name": "band", "label": "Band", "type": "formula", "expression": 'IF(amount > 1000, "big", "small")'},
    ]},
]}
BUNDLE = load(BUNDLE_DATA)
DEAL = BUNDLE.object("deal")
ENV = Env(user_id="u-1", user_name="Ann", user_email="ann@example.com", org_id="o-1", org_name="acme",
          now=datetime(2026, 12, 1, 9, 30, tzinfo=UTC))
AT = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)

#: the records a case runs on: the deal's own fields, and its looked-up values by path
RECORDS: dict[str, dict[str, Any]] = {
    "full": {"name": "Acme Widget", "code": " 42.5 ", "amount": Decimal("1234.50"), "discount": Decimal("-2.5"),
             "qty": 7, "stage": "won", "regions": ";emea;apac;", "close": date(2026, 1, 31), "at": AT,
             "starts": time(9, 30), "flag": True, "account": "a-1"},
    "blank": {name: None for name in ("name", "code", "amount", "discount", "qty", "stage", "regions", "close",
                                      "at", "starts", "flag", "account")},
}
RELATED: dict[str, dict[str, Any]] = {
    "full": {"account.name": "Globex", "account.revenue": Decimal("5000000.00"), "account.tier": "gold",
             "account.parent.name": "Initech"},
    "blank": {"account.name": None, "account.revenue": None, "account.tier": None, "account.parent.name": None},
}
#: the type of each looked-up path, for the SQL test's table
RELATED_FIELDS = {"account.name": "text", "account.revenue": "currency", "account.tier": "picklist",
                  "account.parent.name": "text"}


class _Error:
    """The expected outcome of a formula with no value: FormulaRuntimeError in Python, NULL in SQL."""

    def __repr__(self) -> str:
        return "ERROR"


ERROR: Any = _Error()


@dataclass(frozen=True)
class Case:
    expression: str
    expected: Any
    record: str = "full"
    #: whether SQLite, whose numbers are floats (15 significant digits), can give the value
    floats: bool = True

    def __str__(self) -> str:
        return f"{self.record}: {self.expression}"


def _cases(record: str, rows: list[tuple[str, Any]], *, floats: bool = True) -> list[Case]:
    return [Case(expression, expected, record, floats) for expression, expected in rows]


D = Decimal
CASES: list[Case] = _cases("full", [
    # -- arithmetic ----------------------------------------------------------------------------
    ("1 + 2", D(3)), ("30 + close", date(2026, 3, 2)), ("amount + qty", D("1241.50")), ("close + 30", date(2026, 3, 2)),
    ("DATE(9999, 12, 31) + 1", ERROR), ("close + -1.5", date(2026, 1, 30)), ("close + 0.9", date(2026, 1, 31)),
    ("DATE(1000, 1, 1) - 3000000", ERROR), ("at + 1.5", datetime(2026, 3, 5, 17, 6, 7, tzinfo=UTC)),
    ("close + 2912412", date(9999, 12, 31)), ("close + 4000000", ERROR), ("close - 3000000", ERROR),
    ("NOW() + 100000000000000000000", ERROR), ("close + 2912413", ERROR), ("close - 739646", date(1, 1, 1)),
    ("NOW() - 3000000", ERROR), ("at + 100000000000000000000", ERROR), ("at + 3600000", ERROR), ("at - 3000000", ERROR),
    ("DATE(YEAR(close), 1, 1000000000000)", ERROR), ("close + 100000000000000000000", ERROR), ("5 - 7", D(-2)),
    ("DATE(qty, 1000000000000, 1)", ERROR), ("close - 31", date(2025, 12, 31)),
    ("at - 0.5", datetime(2026, 3, 3, 17, 6, 7, tzinfo=UTC)), ("close - DATE(2025, 12, 25)", D(37)),
    ("NOW() - (TODAY() - DATE(1, 1, 1))", ERROR), ("(at + 0.25) - at", D("0.25")),
    ("NOW() - (TODAY() - DATE(1, 1, 2))", datetime(1, 1, 2, 9, 30, tzinfo=UTC)), ("DATE(1, 1, 1) - 1", ERROR),
    ("NOW() + (DATE(9999, 12, 31) - TODAY())", ERROR), ("at - at", D(0)), ("3 * 1.5", D("4.5")),
    # + - * and signs are exact, past the 28 digits of Python's default precision
    ("12345678901234.5678 * 98765432109876.5432", D("1219326311370217943225118122.21002896")),
    ("amount * amount * amount * amount * amount", D("2867183385246354.6562500000")),
    ("0.1234567890123456789012345678901 + 1000", D("1000.1234567890123456789012345678901")),
    ("1000 - 0.1234567890123456789012345678901", D("999.8765432109876543210987654321099")),
    ("-1234567890.12345678901234567890123", D("-1234567890.12345678901234567890123")),
    ("+1234567890.12345678901234567890123", D("1234567890.12345678901234567890123")),
    ("ABS(-1234567890.12345678901234567890123)", D("1234567890.12345678901234567890123")),
    ("-2 / 3", D("-0.66666666666666666666")), ("amount * qty", D("8641.50")), ("discount * discount", D("6.25")),
    ("1 / 0", None), ("1 / 3", D("0.33333333333333333333")), ("10 / 4", D("2.5")), ("-2 ^ 2", D(-4)),
    ("2 ^ -1", D("0.5")), ("amount / qty", D("176.35714285714285714285")), ("qty / (qty - 7)", None),
    ("(-1.5) ^ 0", D(1)), ("(-2) ^ 3", D(-8)), ("2 ^ 10", D(1024)), ("2 ^ 3 ^ 2", D(512)), ("4 ^ 0.5", D(2)),
    ("(-8) ^ 0.5", ERROR), ("0 ^ -1", ERROR), ("0 ^ 0", D(1)), ("0 ^ 2", D(0)), ("2 ^ 1001", ERROR),
    ("+discount", D("-2.5")), ("+qty", D(7)), ("- -3", D(3)), ("-amount", D("-1234.50")),
    # -- text and comparison -------------------------------------------------------------------
    ("qty = 7", True), ('"" & ""', None), ('name & "!"', "Acme Widget!"), ('stage & "/" & TEXT(qty)', "won/7"),
    ("close = DATE(2026, 1, 31)", True), ("qty == 7", True), ("stage = \"won\"", True), ('"a" = "b"', False),
    ("flag = true", True), ("null = qty", None), ("null >= close", None), ("qty != null", None), ("qty = null", None),
    ("qty != 7", False), ("qty < null", None), ("qty <> 8", True), ('name != "x"', True), ('name = TEXT(null)', None),
    ("close < DATE(2026, 2, 1)", True), ("starts < starts", False), ('"B" < "a"', True), ('"a" < "é"', True),
    ("amount > 1000", True), ("amount >= 1234.5", True), ("at > NOW()", False), ('"b" > "ab"', True),
    ("at >= NOW()", False), ("false && null", False), ("qty <= 6.5", False), ("starts <= starts", True),
    ("false || null", None), ("flag && qty > 5", True), ("flag || false", True), ("true && null", None),
    ("!!flag", True), ("!flag", False), ("!null", None), ("true || null", True),
    # -- dates -----------------------------------------------------------------------------------
    ("DATE(2024, 2, 29)", date(2024, 2, 29)), ("NOW()", ENV.now), ("TODAY()", date(2026, 12, 1)),
    ("DATE(0, 1, 1)", ERROR), ("DATE(2026, 2, 28)", date(2026, 2, 28)), ("DATE(2026, 2, 30)", ERROR),
    ("DATE(2026, 13, 1)", ERROR), ("DATE(2026.9, 2.9, 28.9)", date(2026, 2, 28)),
    ('DATEVALUE(" 2026-01-31 ")', date(2026, 1, 31)), ('DATEVALUE("2026-01-31")', date(2026, 1, 31)),
    ("DATEVALUE(at)", date(2026, 3, 4)), ('DATEVALUE("2026-02-30")', ERROR), ('DATEVALUE("31/01/2026")', ERROR),
    ("DATEVALUE(close)", date(2026, 1, 31)), ("DATEVALUE(stage)", ERROR), ("DAY(close)", D(31)), ("MONTH(close)", D(1)),
    ("WEEKDAY(DATE(2026, 12, 1))", D(3)), ("WEEKDAY(DATE(2026, 2, 1))", D(1)), ("YEAR(close)", D(2026)),
    ("ADDMONTHS(DATE(2026, 2, 28), 1)", date(2026, 3, 31)), ("WEEKDAY(close)", D(7)),
    ("ADDMONTHS(DATE(2026, 1, 15), -2)", date(2025, 11, 15)), ("ADDMONTHS(close, 1)", date(2026, 2, 28)),
    ("ADDMONTHS(DATE(2026, 1, 30), 1)", date(2026, 2, 28)), ("ADDMONTHS(DATE(9999, 12, 1), 1)", ERROR),
    ("ADDMONTHS(DATE(100, 1, 1), -100000)", ERROR), ("ADDMONTHS(close, 1.9)", date(2026, 2, 28)),
    ("ADDMONTHS(close, -100000)", ERROR), ("ADDMONTHS(close, 1000000000000000)", ERROR),
    ("ADDMONTHS(close, -24300)", date(1, 1, 31)), ("ADDMONTHS(close, -24301)", ERROR),
    ("ADDMONTHS(close, 95687)", date(9999, 12, 31)), ("ADDMONTHS(close, 95688)", ERROR),
    # -- logic -----------------------------------------------------------------------------------
    ("IF(flag, close, null)", date(2026, 1, 31)), ("IF(null, 1, 2)", D(2)),
    ("IF(ISNUMBER(code), VALUE(code), 0)", D("42.5")), ('IF(amount > 1000, "big", "small")', "big"),
    ("IF(ISNUMBER(name), VALUE(name), 0)", D(0)), ('CASE(qty, 1, "one", 7, "seven", "many")', "seven"),
    ("CASE(null, null, 1, 2)", D(2)), ("CASE(qty, null, 1, 2)", D(2)), ('CASE(stage, "won", 1, "lost", 0, 0.5)', D(1)),
    ("CASE(close, TODAY(), 1, DATE(2026, 1, 31), 2, 3)", D(2)), ('CASE(qty, 1, "one", "many")', "many"),
    ("AND(amount > 1000, flag)", True), ("AND(false, null)", False), ('CASE(TEXT(null), name, 1, 2)', D(2)),
    ("AND(flag)", True), ("AND(true, null)", None), ("OR(amount < 0, !flag, qty = 7)", True), ("OR(false, null)", None),
    ("ISBLANK(!flag)", False), ("NOT(amount < 0)", True), ("NOT(flag)", False), ("OR(true, null)", True),
    ("ISBLANK(1 / 0)", True), ("ISBLANK(NOT(flag))", False), ("ISBLANK(name)", False), ("ISBLANK(null)", True),
    ("BLANKVALUE(1 / 0, 9)", D(9)), ("BLANKVALUE(name, \"x\")", "Acme Widget"), ('ISBLANK("")', True),
    ("NULLVALUE(null, close)", date(2026, 1, 31)), ("NULLVALUE(qty, 0)", D(7)), ('BLANKVALUE("", "x")', "x"),
    ('INCLUDES(regions, "amer")', False), ('ISPICKVAL(stage, "open")', False), ('ISPICKVAL(stage, "won")', True),
    ('INCLUDES(regions, "emea")', True),
    # -- math ------------------------------------------------------------------------------------
    ("ROUND(-2.5)", D(-3)), ("ROUND(1234, -2)", D(1200)), ("ROUND(2.345, 2)", D("2.35")), ("ROUND(2.5)", D(3)),
    ("ROUND(1, 101)", ERROR), ("ROUND(1.26, 1.9)", D("1.3")), ("ROUND(amount / 7, 3)", D("176.357")),
    ("CEILING(-2.1)", D(-2)), ("CEILING(2.1)", D(3)), ("FLOOR(-2.5)", D(-3)), ("ROUND(amount, 1000000000000)", ERROR),
    ("ABS(-4.5)", D("4.5")), ("ABS(qty)", D(7)), ("FLOOR(2.5)", D(2)), ("MOD(-7, 3)", D(-1)), ("MOD(7, 0)", None),
    ("MOD(7, 3)", D(1)), ("MOD(7.5, 2)", D("1.5")), ("SQRT(-1)", ERROR), ("SQRT(16)", D(4)), ("SQRT(2)", D(2).sqrt()),
    ("MAX(3, qty, 9)", D(9)), ("MIN(1, null)", None), ("MIN(3, qty, 9)", D(3)), ("MIN(5)", D(5)),
    ("MAX(at, NOW())", ENV.now), ("MAX(discount, -3)", D("-2.5")), ("MIN(close, TODAY())", date(2026, 1, 31)),
    # -- text ------------------------------------------------------------------------------------
    ("TEXT(-0.250)", "-0.25"), ("TEXT(1.50)", "1.5"), ("TEXT(100)", "100"), ("TEXT(amount)", "1234.5"),
    ("TEXT(!flag)", "false"), ("TEXT(0.000)", "0"), ("TEXT(close)", "2026-01-31"), ("TEXT(flag)", "true"),
    ("TEXT(NOW() - (TODAY() - DATE(5, 1, 2)))", "0005-01-02T09:30:00Z"), ("TEXT(at)", "2026-03-04T05:06:07Z"),
    ("TEXT(at + 0.00001)", "2026-03-04T05:06:07Z"), ("TEXT(regions)", "emea;apac"), ("TEXT(starts)", "09:30:00"),
    ("TEXT(name)", "Acme Widget"), ("TEXT(null)", None), ("TEXT(qty / 4)", "1.75"), ("TEXT(stage)", "won"),
    ("VALUE(code)", D("42.5")), ('VALUE(" -3 ")', D(-3)), ('VALUE(".5")', D("0.5")), ('VALUE("42.5")', D("42.5")),
    ("ISNUMBER(code)", True), ('VALUE("1 2")', ERROR), ('VALUE("1e5")', ERROR), ('VALUE("abc")', ERROR),
    ("LEN(name)", D(11)), ('ISNUMBER("+.5")', True), ('ISNUMBER("12.5")', True), ('ISNUMBER("12a")', False),
    ("LEFT(name, -1)", None), ("LEFT(name, 0)", None), ('LEN("Rapport")', D(7)), ('LEN("é")', D(1)),
    ("LEFT(name, 2.9)", "Ac"), ("LEFT(name, 4)", "Acme"), ("LEFT(name, 99)", "Acme Widget"), ("RIGHT(name, 0)", None),
    ("RIGHT(name, -2)", None), ("RIGHT(name, 30)", "Acme Widget"), ("RIGHT(name, 6)", "Widget"),
    ("MID(name, 0, 2)", "Ac"), ("MID(name, 2, 3)", "cme"), ("MID(name, 20, 2)", None), ("MID(name, 6, -1)", None),
    ('FIND("", name)', D(0)), ('FIND("Wid", name)', D(6)), ('FIND("e", name, 5)', D(10)), ('FIND("x", name)', D(0)),
    ('CONTAINS(name, "")', True), ('FIND("A", name, 2)', D(0)), ('FIND("e", name, 0)', D(4)),
    ('BEGINS(name, "")', True), ('CONTAINS(name, "Wid")', True), ('CONTAINS(name, "wid")', False),
    ('BEGINS(name, "Acme")', True), ('BEGINS(name, "Widget")', False), ('LOWER("ÉCOLE Ab")', "école ab"),
    ("TRIM(code)", "42.5"), ('TRIM("   ")', None), ('TRIM("  Acme  ")', "Acme"), ('UPPER("école Ab")', "ÉCOLE AB"),
    ('SUBSTITUTE("a-b-c", "-", "")', "abc"), ('SUBSTITUTE(name, "Widget", "Gadget")', "Acme Gadget"),
    ('SUBSTITUTE("aaa", "a", "")', None), ('SUBSTITUTE(name, "", "x")', "Acme Widget"),
    ('REGEX(code, " *[0-9.]+ *")', True), ('REGEX(name, "Acme")', False), ('REGEX(name, "[A-Z][a-z]+ W.*")', True),
    ('REGEX(name, "a|Acme Widget")', True),
    # -- globals, cross-object values and formula fields ----------------------------------------
    ("$Org.id", "o-1"), ("$User.email", "ann@example.com"), ("$User.id", "u-1"), ("$user.NAME", "Ann"),
    ("$ORG.name", "acme"), ("account.name", "Globex"), ("account.parent.name", "Initech"), ("account.big", True),
    ("account.revenue / 1000", D(5000)), ('ISPICKVAL(account.tier, "gold")', True), ("Account.Name", "Globex"),
    ("account", "a-1"), ("band", "big"), ("weighted", D("2469.00")),
]) + _cases("blank", [
    ("1 + close", None), ("amount + 1", None), ("at + 1", None), ("close + 1", None), ("close + qty", None),
    ("amount - 1", None), ("at - 1", None), ("at - NOW()", None), ("close - 1", None), ("close - close", None),
    ("2 / amount", None), ("2 ^ qty", None), ("amount * 2", None), ("amount / 2", None), ("amount ^ 2", None),
    ("+amount", None), ("-amount", None), ("name & name", None), ('"x" & stage', "x"), ('name & "x"', "x"),
    ("amount = 1", None), ("at <= NOW()", None), ("close > TODAY()", None), ("qty < 1", None), ('name != "a"', None),
    ("CASE(qty, null, 1, 2)", D(2)), ("null = null", None), ("starts < starts", None), ('name >= ""', None),
    ("flag && false", False), ("qty != null", None), ("qty = null", None), ('CASE(name, TEXT(null), 1, 2)', D(2)),
    ("!flag", None), ("flag && true", None), ("flag || false", None), ("flag || true", True),
    ("DATE(2026, qty, 1)", None), ("DATE(qty, 1, 1)", None), ("DATEVALUE(at)", None), ("DATEVALUE(name)", None),
    ("DAY(close)", None), ("MONTH(close)", None), ("WEEKDAY(close)", None), ("YEAR(close)", None),
    ("ADDMONTHS(DATE(2026, 1, 1), qty)", None), ("ADDMONTHS(close, 1)", None), ("IF(flag, 1, 2)", D(2)),
    ("AND(flag, true)", None), ("IF(flag, 1, amount)", None), ('CASE(stage, "won", 1, 0)', D(0)),
    ("AND(flag, false)", False), ("CASE(1, qty, 2, 3)", D(3)), ("CASE(qty, 7, amount, 1)", D(1)), ("NOT(flag)", None),
    ("ISBLANK(!(qty > 1))", True), ("ISBLANK(!flag)", True), ("OR(flag, false)", None), ("OR(flag, true)", True),
    ("ISBLANK(amount)", True), ("ISBLANK(close)", True), ("ISBLANK(name)", True), ("ISBLANK(regions)", True),
    ("BLANKVALUE(amount, 0)", D(0)), ("BLANKVALUE(flag, true)", True), ('BLANKVALUE(name, "none")', "none"),
    ("BLANKVALUE(amount, qty)", None), ("NULLVALUE(close, DATE(2026, 1, 1))", date(2026, 1, 1)),
    ("FLOOR(amount)", None), ('INCLUDES(regions, "emea")', False), ('ISPICKVAL(stage, "won")', False),
    ("ABS(amount)", None), ("ROUND(1.25, qty)", None), ("ROUND(amount)", None), ("ROUND(amount, 1)", None),
    ("CEILING(amount)", None), ("MAX(1, amount)", None), ("MOD(7, qty)", None), ("MOD(amount, 2)", None),
    ("MAX(close, TODAY())", None), ("MIN(amount, 1)", None), ("SQRT(amount)", None), ("TEXT(amount)", None),
    ("TEXT(at)", None), ("TEXT(close)", None), ("TEXT(flag)", None), ("TEXT(regions)", None), ("TEXT(starts)", None),
    ("ISNUMBER(name)", False), ("LEFT(name, 2)", None), ("LEN(name)", D(0)), ("TEXT(stage)", None),
    ("MID(name, 1, 2)", None), ("RIGHT(name, 2)", None), ("VALUE(name)", None), ('LEFT("abc", qty)', None),
    ('FIND("a", name)', D(0)), ('FIND(name, "abc")', D(0)), ('MID("abc", qty, 1)', None), ('RIGHT("abc", qty)', None),
    ('CONTAINS("abc", name)', True), ('CONTAINS(name, "a")', False), ('FIND("b", "abc", qty)', D(2)),
    ("LOWER(name)", None), ("UPPER(name)", None), ('BEGINS("abc", name)', True), ('BEGINS(name, "a")', False),
    ("TRIM(name)", None), ('SUBSTITUTE("abc", name, "x")', "abc"), ('SUBSTITUTE(name, "a", "b")', None),
    ("+null", None), ('REGEX(name, "")', True), ('REGEX(name, "a+")', False), ('SUBSTITUTE("abc", "b", name)', "ac"),
    ("-null", None), ("WEEKDAY(null)", None), ("at + null", None), ("close + null", None), ("null + null", None),
    ("YEAR(null)", None), ("close - null", None), ("null + close", None), ("null ^ 2", None),
    ("ADDMONTHS(close, null)", None), ("ADDMONTHS(null, 1)", None), ("ROUND(1.5, null)", None),
    ("DATE(null, 1, 1)", None), ("ROUND(null, 2)", None), ('FIND("b", "abc", null)', D(2)), ('LEFT("abc", null)', None),
    ("DATEVALUE(null)", None), ("IF(flag, null, null) + 1", None), ("SQRT(null)", None), ('MID("abc", null, 1)', None),
    ("AND(IF(flag, null, null), true)", None), ("TEXT(null)", None),
    ("CASE(false, IF(flag, null, true && null), 1, 2)", D(2)), ("IF(ISBLANK(flag), true, IF(flag, null, null))", True),
    ("IF(flag, null, null) = 1", None), ("BLANKVALUE(null, false || null) = flag", None),
    ("IF(flag, true && null, null) = true", None), ("DATEVALUE(null) + 1", None), ("NOT(BLANKVALUE(null, null))", None),
    ('CASE(qty, 7, null, null) & "x"', "x"), ("ABS(null)", None), ("FLOOR(null)", None), ("LEFT(TEXT(null), 1)", None),
    ("YEAR(DATEVALUE(null))", None), ("LEN(null)", D(0)), ("MAX(null)", None), ("MIN(null, null)", None),
    ("MOD(null, 2)", None), ("account.big", False), ("account", None), ("account.name", None),
    ("account.revenue + 1", None), ("band", "small"), ("weighted", None), ('ISPICKVAL(account.tier, "gold")', False),
]) + _cases("full", [
    # digits past a float's: exact in Python and PostgreSQL
    ("MOD(12345678901234567890123456789012345, 97)", D(50)), ("ROUND(10 ^ 300, 2) = 10 ^ 300", True),
    ("TEXT((10000000000000000000000000000000000000000 + 1) / 7)",
     "1428571428571428571428571428571428571428.71428571428571428571"),
    ("TEXT(12345678901234.5678 * 98765432109876.5432)", "1219326311370217943225118122.21002896"),
    ("0.1 + 0.2 = 0.3", True), ("ROUND(0.285 * 100)", D(29)),
], floats=False)


@cache
def typed(expression: str, allow_prior: bool = False) -> Typed:
    return check(BUNDLE, DEAL, expression, Use("test formula", None, allow_prior=allow_prior))


def scope(record: str, prior: dict[str, Any] | None = None) -> Scope:
    return Scope(RECORDS[record], prior, RELATED[record], ENV)


def run_python(expression: str, record: str = "full", prior: dict[str, Any] | None = None) -> Any:
    """The formula's value on the record, or :data:`ERROR` when it has none."""
    try:
        return compile_python(typed(expression, allow_prior=prior is not None))(scope(record, prior))
    except FormulaRuntimeError:
        return ERROR


def same(actual: Any, expected: Any) -> bool:
    """Equal, and of the same kind (True is not 1; a date is not a date/time)."""
    return type(actual) is type(expected) and actual == expected


# -- the Python compiler: the table ------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=str)
def test_python_compiler(case: Case) -> None:
    assert same(run_python(case.expression, case.record), case.expected)


#: formulas that see the record before the write: (formula, record, prior, value)
PRIOR_CASES: list[tuple[str, str, dict[str, Any] | None, Any]] = [
    ("ISNEW()", "full", None, True), ("ISNEW()", "full", RECORDS["full"], False),
    ("ISCHANGED(stage)", "full", {**RECORDS["full"], "stage": "open"}, True),
    ("ISCHANGED(stage)", "full", RECORDS["full"], False), ("ISCHANGED(stage)", "full", None, False),
    ("ISCHANGED(stage)", "blank", RECORDS["full"], True), ("ISCHANGED(stage)", "blank", RECORDS["blank"], False),
    ("PRIORVALUE(amount)", "full", {**RECORDS["full"], "amount": Decimal("1000")}, D(1000)),
    ("PRIORVALUE(amount)", "full", None, None), ("PRIORVALUE(amount)", "full", RECORDS["blank"], None),
    ("PRIORVALUE(amount)", "blank", RECORDS["full"], D("1234.50")),
    ("PRIORVALUE(qty) + 1", "full", RECORDS["full"], D(8)), ("PRIORVALUE(name)", "full", {"name": ""}, None),
    ('PRIORVALUE(stage) = "won" && ISCHANGED(stage)', "full", {**RECORDS["full"], "stage": "won"}, False),
    ("amount - PRIORVALUE(amount)", "full", {**RECORDS["full"], "amount": Decimal("1000")}, D("234.50")),
]


@pytest.mark.parametrize(("expression", "record", "prior", "expected"), PRIOR_CASES)
def test_prior_record(expression: str, record: str, prior: dict[str, Any] | None, expected: Any) -> None:
    typed_tree = typed(expression, allow_prior=True)
    assert same(compile_python(typed_tree)(scope(record, prior)), expected)


def _called(tree: Typed) -> set[str]:
    return {n.fn.name for n in walk(tree) if isinstance(n, TCall)}


def _blank_argument_calls(tree: Typed, run_scope: Scope) -> set[str]:
    """The functions called in ``tree`` with at least one argument that is blank on ``run_scope``."""
    found = set()
    for node in walk(tree):
        if isinstance(node, TCall):
            for arg in node.args:
                try:
                    if compile_python(arg)(run_scope) is None:
                        found.add(node.fn.name)
                except FormulaRuntimeError:
                    pass
    return found


def _all_runs() -> list[tuple[Typed, Scope]]:
    runs = [(typed(c.expression), scope(c.record)) for c in CASES]
    return runs + [(typed(e, allow_prior=True), scope(r, p)) for e, r, p, _ in PRIOR_CASES]


def test_every_registered_function_and_operator_has_cases() -> None:
    covered = set().union(*(_called(tree) for tree, _ in _all_runs()))
    assert sorted(set(FUNCTIONS) - covered) == []


def test_every_function_with_arguments_has_a_case_with_a_blank_argument() -> None:
    with_blanks = set().union(*(_blank_argument_calls(tree, run_scope) for tree, run_scope in _all_runs()))
    takes_arguments = {name for name, fn in FUNCTIONS.items() if fn.max_args != 0}
    assert sorted(takes_arguments - with_blanks) == []


def test_every_case_type_checks_and_has_an_outcome_of_its_type() -> None:
    kinds = {FType.NUMBER: Decimal, FType.TEXT: str, FType.PICKLIST: str, FType.BOOLEAN: bool, FType.DATE: date,
             FType.DATETIME: datetime}
    for case in CASES:
        kind = typed(case.expression).type
        if case.expected is not None and case.expected is not ERROR and kind is not FType.NULL:
            assert isinstance(case.expected, kinds[kind]), case


# -- the Python compiler: beyond the table -----------------------------------------------------

def test_if_case_and_blankvalue_evaluate_only_the_branch_they_return() -> None:
    assert run_python('IF(ISNUMBER(name), VALUE(name), 0)') == D(0)
    assert run_python('IF(false, VALUE("x"), 1)') == D(1)
    assert run_python('IF(true, VALUE("x"), 1)') is ERROR
    assert run_python('CASE(qty, 7, 1, VALUE("x"))') == D(1)
    assert run_python('BLANKVALUE(qty, SQRT(-1))') == D(7)
    assert run_python('AND(false, VALUE("x") > 1)') is False
    assert run_python('OR(true, VALUE("x") > 1)') is True
    for unsafe in ('IF(ISNUMBER(name), VALUE(name), 0)', 'IF(ISNUMBER(code), VALUE(code), -1)'):
        for record in RECORDS:
            assert run_python(unsafe, record) is not ERROR


def test_runtime_errors_say_why() -> None:
    closure = compile_python(typed('VALUE("abc")'))
    with pytest.raises(FormulaRuntimeError, match="^'abc' is not a number$"):
        closure(scope("full"))
    with pytest.raises(FormulaRuntimeError, match="^2026-2-30 is not a date$"):
        compile_python(typed("DATE(2026, 2, 30)"))(scope("full"))
    with pytest.raises(FormulaRuntimeError, match=r"^a negative number \(-1\) has no square root$"):
        compile_python(typed("SQRT(-1)"))(scope("full"))


def test_today_and_now_come_from_the_env() -> None:
    later = Env(now=datetime(2030, 1, 2, 23, 59, tzinfo=UTC))
    assert compile_python(typed("TODAY()"))(Scope({}, env=later)) == date(2030, 1, 2)
    assert compile_python(typed("NOW()"))(Scope({}, env=later)) == later.now
    assert compile_python(typed("TODAY() - close"))(Scope({"close": date(2030, 1, 1)}, env=later)) == D(1)


def test_globals_come_from_the_env() -> None:
    tree = typed('$User.name & "@" & $Org.name')
    assert compile_python(tree)(Scope({}, env=ENV)) == "Ann@acme"
    assert compile_python(tree)(Scope({}, env=Env(org_name="beta"))) == "@beta"
    assert compile_python(typed("ISBLANK($User.email)"))(Scope({}, env=Env())) is True


def test_cross_object_values_come_from_the_related_values() -> None:
    tree = typed('account.name & " / " & account.parent.name')
    assert tree.type is FType.TEXT
    related = {"account.name": "Globex", "account.parent.name": ""}
    assert compile_python(tree)(Scope({}, related=related, env=ENV)) == "Globex / "
    money = compile_python(typed("account.revenue * 2"))
    assert money(Scope({}, related={"account.revenue": 7}, env=ENV)) == D(14)
    assert money(Scope({}, related={"account.revenue": 0.5}, env=ENV)) == D(1)


def test_record_values_are_read_as_formula_values() -> None:
    read = compile_python(typed("qty / 2"))
    assert read(Scope({"qty": 7})) == D("3.5")
    assert compile_python(typed("amount"))(Scope({"amount": 1.1})) == D("1.1")  # a float from SQLite
    assert compile_python(typed("ISBLANK(name)"))(Scope({"name": ""})) is True
    assert compile_python(typed("name"))(Scope({})) is None


# -- parsing -----------------------------------------------------------------------------------

def shape(node: Node) -> str:
    """The tree as an s-expression: ``(+ 1 (* 2 3))``."""
    if isinstance(node, Literal):
        return repr(node.value) if isinstance(node.value, str) else str(node.value)
    if isinstance(node, FieldRef):
        return node.dotted
    if isinstance(node, GlobalRef):
        return f"{node.scope}.{node.name}"
    assert isinstance(node, Call)
    return "(" + " ".join([node.name, *(shape(a) for a in node.args)]) + ")"


@pytest.mark.parametrize(("text", "tree"), [
    ("1 + 2 * 3", "(+ 1 (* 2 3))"),
    ("(1 + 2) * 3", "(* (+ 1 2) 3)"),
    ("1 - 2 - 3", "(- (- 1 2) 3)"),
    ("8 / 4 / 2", "(/ (/ 8 4) 2)"),
    ("-2^2", "(NEG (^ 2 2))"),
    ("2^3^2", "(^ 2 (^ 3 2))"),
    ("2^-1", "(^ 2 (NEG 1))"),
    ("-a * b", "(* (NEG a) b)"),
    ("+a", "(POS a)"),
    ('"a" & b + c', "(& 'a' (+ b c))"),
    ('a & b = "x"', "(= (& a b) 'x')"),
    ("a + 1 > b * 2", "(> (+ a 1) (* b 2))"),
    ("a = 1 && b = 2 || c", "(|| (&& (= a 1) (= b 2)) c)"),
    ("a || b && c", "(|| a (&& b c))"),
    ("!a && b", "(&& (! a) b)"),
    ("!!a", "(! (! a))"),
    ("a == b", "(= a b)"),
    ("a <> b", "(!= a b)"),
    ("a != b", "(!= a b)"),
    ("a <= b", "(<= a b)"),
    ("a >= b", "(>= a b)"),
    ("a < b", "(< a b)"),
    ("if(TRUE, Null, false)", "(IF True None False)"),
    ("Left(Name, 2)", "(LEFT name 2)"),
    ("NOW()", "(NOW)"),
    ("Account.Parent.Name", "account.parent.name"),
    ("$user.Name", "$user.name"),
    ("$ORG.id", "$org.id"),
    ("1.50", "1.50"),
    (".5", "0.5"),
    ("7.", "7"),
    (r'"a\"b\\c\nd\te\'f"', repr("a\"b\\c\nd\te'f")),
    (r"'it\'s' & 'say \"hi\"'", "(& \"it's\" 'say \"hi\"')"),
    ('"é É"', "'é É'"),
    ("1 /* one */ + /* two\nlines */ 2", "(+ 1 2)"),
    ("/* leading */ a", "a"),
    ("  a\n\t+\n b  ", "(+ a b)"),
])
def test_parse(text: str, tree: str) -> None:
    assert shape(parse(text)) == tree


def test_parse_keeps_positions() -> None:
    node = parse("amount +\n  LEFT(name, 2)")
    assert isinstance(node, Call) and (node.pos.line, node.pos.column) == (1, 8)
    left = node.args[1]
    assert isinstance(left, Call) and (left.pos.line, left.pos.column) == (2, 3)
    assert str(left.args[0].pos) == "line 2, column 8"


def test_true_false_and_null_are_not_the_start_of_a_field_name() -> None:
    assert shape(parse("trueish")) == "trueish"
    assert shape(parse("nullable && falsey")) == "(&& nullable falsey)"


@pytest.mark.parametrize(("text", "line", "column", "message"), [
    ('"abc', 1, 1, "this text is missing its closing quote"),
    ("name & 'abc", 1, 8, "this text is missing its closing quote"),
    ('LEFT("a", 1', 1, 11, "the formula ends too early; expected ')' or ','"),
    ("(1 + 2", 1, 6, "the formula ends too early; expected ')'"),
    ("1 +", 1, 3, "the formula ends too early; expected a value, a field, a function or an operator"),
    ("1 + 2 *", 1, 7, "the formula ends too early; expected a value, a field, a function or an operator"),
    ("", 1, 1, "the formula is empty"),
    ("  \n\t ", 1, 1, "the formula is empty"),
    ("/* only a comment */", 1, 1, "the formula is empty"),
    ("IF(amount > 0,\n   amount * ,\n   0)", 2, 13,
     "unexpected ','; expected a value, a field, a function or an operator"),
    ("1 +\n2 *", 2, 3, "the formula ends too early; expected a value, a field, a function or an operator"),
    ("1 @ 2", 1, 3, "unexpected character '@'"),
    ("1 2", 1, 3, "unexpected '2'; expected a value, a field, a function or an operator"),
    ("LEFT(name 2)", 1, 11, "unexpected '2'; expected a value, a field, a function or an operator"),
    ("a.", 1, 2, "the formula ends too early; expected a name"),
    (r'"a\qb"', 1, 3, "unknown escape '\\q' in text; use \\\" \\' \\\\ \\n or \\t"),
    ("x" * 10_001, 1, 1, "a formula holds at most 10000 characters, got 10001"),
])
def test_syntax_errors_name_the_line_and_column(text: str, line: int, column: int, message: str) -> None:
    with pytest.raises(FormulaSyntaxError) as caught:
        parse(text)
    assert (caught.value.pos.line, caught.value.pos.column, caught.value.message) == (line, column, message)
    assert str(caught.value) == f"line {line}, column {column}: {message}"


def test_deep_nesting_is_a_syntax_error_not_a_crash() -> None:
    assert shape(parse("(" * 3000 + "1" + ")" * 3000)) == "1"  # parentheses alone add no depth
    with pytest.raises(FormulaSyntaxError) as caught:
        parse("-" * 2000 + "1")
    assert (caught.value.pos.line, caught.value.pos.column, caught.value.message) == (
        1, 1, "the formula nests too deeply")


def test_a_syntax_error_is_a_problem_of_the_check() -> None:
    with pytest.raises(FormulaInvalid) as caught:
        typed("amount +")
    [problem] = caught.value.problems
    assert (problem.code, problem.pos.line, problem.pos.column) == ("formula.syntax_error", 1, 8)


# -- type checking -----------------------------------------------------------------------------

DEAL_FIELDS = ("account, amount, at, band, close, code, created_at, created_by, discount, flag, id, name, owner, "
               "qty, regions, stage, starts, updated_at, updated_by, version, weighted")


def problems_of(text: str, use: Use | None = None) -> list[tuple[int, int, str, str]]:
    with pytest.raises(FormulaInvalid) as caught:
        check(BUNDLE, DEAL, text, use or Use("formula field 'x'", None))
    return [(p.pos.line, p.pos.column, p.code, p.message) for p in caught.value.problems]


@pytest.mark.parametrize(("text", "problem"), [
    ("amout", (1, 1, "formula.unknown_field",
               f"object 'deal' has no field 'amout'; did you mean 'amount'? (fields: {DEAL_FIELDS})")),
    ("1 +\n  colse", (2, 3, "formula.unknown_field",
                      f"object 'deal' has no field 'colse'; did you mean 'close'? (fields: {DEAL_FIELDS})")),
    ("account.nme", (1, 1, "formula.unknown_field",
                     "object 'account' has no field 'nme'; did you mean 'name'? (fields: big, created_at, "
                     "created_by, id, name, owner, parent, revenue, tier, updated_at, updated_by, version)")),
    ("zzz", (1, 1, "formula.unknown_field", f"object 'deal' has no field 'zzz' (fields: {DEAL_FIELDS})")),
    ("LEFTT(name, 1)", (1, 1, "formula.unknown_function", "there is no function LEFTT; did you mean LEFT?")),
    ("datevalu(name)", (1, 1, "formula.unknown_function", "there is no function DATEVALU; did you mean DATEVALUE?")),
    ("FROB(1)", (1, 1, "formula.unknown_function", "there is no function FROB")),
    ("LEFT(name)", (1, 1, "formula.wrong_arguments", "LEFT takes 2 arguments, got 1: LEFT(text, count)")),
    ("ROUND()", (1, 1, "formula.wrong_arguments", "ROUND takes 1 to 2 arguments, got 0: ROUND(number[, digits])")),
    ("AND()", (1, 1, "formula.wrong_arguments",
               "AND takes at least 1 argument, got 0: AND(condition1, condition2, ...)")),
    ("TODAY(1)", (1, 1, "formula.wrong_arguments", "TODAY takes 0 arguments, got 1: TODAY()")),
    ("NOT(flag, flag)", (1, 1, "formula.wrong_arguments", "NOT takes 1 argument, got 2: NOT(condition)")),
    ("LEFT(1, 2)", (1, 6, "formula.wrong_type", "LEFT argument 1: expected text, got a number")),
    ("MID(name, 1, \"2\")", (1, 14, "formula.wrong_type", "MID argument 3: expected a number, got text")),
    ("IF(amount, 1, 2)", (1, 4, "formula.wrong_type",
                          "IF argument 1: the condition must be true/false, got a number")),
    ('IF(flag, 1, "one")', (1, 13, "formula.wrong_type",
                            "IF argument 3: the two results of IF must all have one type; got a number and text")),
    ("qty & name", (1, 1, "formula.wrong_type",
                    "'&' argument 1: '&' joins text; got a number (use TEXT() to turn it into text)")),
    ('"a" = 1', (1, 5, "formula.wrong_type", "'=' compares values of one type; got text and a number")),
    ("flag < flag", (1, 6, "formula.wrong_type",
                     "'<' orders numbers, text, dates and times; got a boolean (true/false)")),
    ("close + close", (1, 7, "formula.wrong_type",
                       "'+' cannot combine a date and a date; it takes a number + a number; a date + a number; "
                       "a number + a date; a date/time + a number")),
    ("name * 2", (1, 6, "formula.wrong_type",
                  "'*' cannot combine text and a number; it takes a number * a number")),
    ("-name", (1, 2, "formula.wrong_type", "'-' argument 1: '-' takes a number, got text")),
    ("+name", (1, 2, "formula.wrong_type", "'+' argument 1: '+' takes a number, got text")),
    ("!qty", (1, 2, "formula.wrong_type", "'!' argument 1: '!' takes true/false conditions; got a number")),
    ("AND(flag, qty)", (1, 11, "formula.wrong_type", "AND argument 2: AND takes true/false conditions; got a number")),
    ("CASE(stage, 1, 2, 3)", (1, 13, "formula.wrong_type",
                              "CASE argument 2: CASE compares with values of the expression's type (a picklist); "
                              "got a number")),
    ("CASE(stage, \"won\", 1, 2, 3)", (1, 1, "formula.wrong_type",
                                       "CASE takes an expression, then pairs of value and result, then the else "
                                       "result (an even number of arguments); got 5")),
    ("MIN(1, close)", (1, 8, "formula.wrong_type",
                       "MIN argument 2: the arguments of MIN must have one type; got a number and a date")),
    ("MAX(name)", (1, 5, "formula.wrong_type",
                   "MAX argument 1: MAX takes numbers, dates or date/times; got text")),
    ('ISPICKVAL(name, "x")', (1, 11, "formula.wrong_type",
                              "ISPICKVAL argument 1: ISPICKVAL takes a picklist field first, got text")),
    ("ISPICKVAL(stage, name)", (1, 18, "formula.wrong_arguments", "ISPICKVAL takes text in quotes here")),
    ("ISPICKVAL(stage, null)", (1, 18, "formula.wrong_arguments", "ISPICKVAL takes text in quotes here")),
    ("DATEVALUE(1)", (1, 11, "formula.wrong_type",
                      'DATEVALUE argument 1: DATEVALUE takes text like "2026-01-31" or a date/time, got a number')),
    ("regions = regions", (1, 9, "formula.wrong_type",
                           "'=' compares values of one type; got a multi-select picklist and a multi-select "
                           "picklist")),
    ("$User.nme", (1, 1, "formula.unknown_field", "$User has no 'nme'; it has $User.id, $User.name, $User.email")),
    ("$Foo.x", (1, 1, "formula.unknown_field", "there is no global '$foo'; globals are $User and $Org")),
    ('REGEX(name, "[a-")', (1, 13, "formula.bad_pattern",
                            "REGEX: not a valid regular expression (unterminated character set at position 0)")),
    ("REGEX(name, code)", (1, 13, "formula.wrong_arguments", "REGEX takes text in quotes here")),
    ('ISPICKVAL(stage, "closed")', (1, 18, "formula.unknown_value",
                                    "'closed' is not a value of picklist 'stage' ('open', 'won', 'lost')")),
    ('INCLUDES(regions, "asia")', (1, 19, "formula.unknown_value",
                                   "'asia' is not a value of picklist 'regions' ('emea', 'apac', 'amer')")),
    ('ISPICKVAL(account.tier, "bronze")', (1, 25, "formula.unknown_value",
                                           "'bronze' is not a value of picklist 'account.tier' ('gold', 'silver')")),
    ("name.first", (1, 1, "formula.unknown_field",
                    "field 'name' of object 'deal' is not a lookup, so 'name.first' cannot go through it")),
    ("account.revenue.value", (1, 1, "formula.unknown_field",
                               "field 'revenue' of object 'account' is not a lookup, so 'account.revenue.value' "
                               "cannot go through it")),
    ("account.parent.parent.parent.parent.parent.name", (
        1, 1, "formula.too_deep", "'account.parent.parent.parent.parent.parent.name' follows 6 lookups; a formula "
        "may follow at most 5, counting those of the formula fields it uses")),
    ("starts", (1, 1, "formula.wrong_type", "the formula must give text, a number, a boolean, a date or a "
                "date/time; it gives a time of day")),
])
def test_type_errors(text: str, problem: tuple[int, int, str, str]) -> None:
    assert problems_of(text) == [problem]


def test_five_lookups_are_allowed() -> None:
    assert typed("account.parent.parent.parent.parent.name").type is FType.TEXT


def test_every_problem_of_a_formula_is_reported() -> None:
    assert [p[:3] for p in problems_of("LEFTT(1) + amout +\n  LEFT(1, 2)")] == [
        (1, 1, "formula.unknown_function"), (1, 12, "formula.unknown_field"), (2, 8, "formula.wrong_type")]


@pytest.mark.parametrize(("use", "text", "message"), [
    (Use("formula field 'margin'", frozenset({FType.NUMBER})), 'name & "x"',
     "the formula must give a number; it gives text"),
    (Use("formula field 'due'", frozenset({FType.DATE})), "at", "the formula must give a date; it gives a date/time"),
    (Use("validation rule 'amount_positive'", frozenset({FType.BOOLEAN}), allow_prior=True), "amount",
     "the formula must give a boolean (true/false); it gives a number"),
    (Use("default formula", frozenset({FType.TEXT, FType.NUMBER})), "close",
     "the formula must give a number or text; it gives a date"),
])
def test_the_result_must_fit_where_the_formula_is_used(use: Use, text: str, message: str) -> None:
    assert problems_of(text, use) == [(1, 1, "formula.wrong_type", message)]  # at the start of the formula


def test_a_picklist_fits_where_text_is_expected_and_null_fits_everything() -> None:
    check(BUNDLE, DEAL, "stage", Use("formula field 'x'", frozenset({FType.TEXT})))
    check(BUNDLE, DEAL, "null", Use("formula field 'x'", frozenset({FType.DATE})))


@pytest.mark.parametrize("text", ["ISNEW()", "ISCHANGED(stage)", "PRIORVALUE(amount)", "1 + PRIORVALUE(qty)"])
def test_prior_record_functions_are_refused_outside_rules(text: str) -> None:
    name = text.split("(")[0].split("+ ")[-1]
    column = text.index(name) + 1
    assert problems_of(text) == [(1, column, "formula.not_allowed",
                                  f"{name} sees the record before a write; it can be used in validation rules and "
                                  "workflow conditions, not in formula field 'x'")]
    check(BUNDLE, DEAL, text, Use("validation rule 'r'", None, allow_prior=True))


@pytest.mark.parametrize(("text", "column"), [
    ("ISCHANGED(account.name)", 11), ("PRIORVALUE(account.revenue)", 12), ("ISCHANGED(1)", 11),
])
def test_prior_record_functions_take_a_field_of_the_record_itself(text: str, column: int) -> None:
    rule = Use("validation rule 'r'", None, allow_prior=True)
    name = text.split("(")[0]
    assert problems_of(text, rule) == [(1, column, "formula.wrong_arguments", f"{name} takes a field of the record "
                                                                              "itself")]


def test_prior_record_functions_take_a_stored_field() -> None:
    rule = Use("validation rule 'r'", None, allow_prior=True)
    assert problems_of("ISCHANGED(weighted)", rule) == [
        (1, 11, "formula.wrong_arguments", "ISCHANGED takes a stored field; 'weighted' is computed")]


def test_formula_fields_are_expanded_into_the_tree() -> None:
    tree = typed("weighted")
    assert tree.type is FType.NUMBER
    assert {"ROUND", "*"} <= _called(tree)
    assert typed("account.big").type is FType.BOOLEAN


def _circular_bundle() -> Any:
    return load_bundle({"objects": [{"name": "t", "label": "T", "fields": [
        {"name": "a", "label": "A", "type": "formula", "return_type": "number", "expression": "b + 1"},
        {"name": "b", "label": "B", "type": "formula", "return_type": "number", "expression": "c * 2"},
        {"name": "c", "label": "C", "type": "formula", "return_type": "number", "expression": "1 +\n a"},
        {"name": "d", "label": "D", "type": "formula", "return_type": "number", "expression": "d"},
    ]}]}, field_types=FIELD_TYPES)


def test_circular_formula_fields_are_refused() -> None:
    bundle = _circular_bundle()
    table = bundle.object("t")
    with pytest.raises(FormulaInvalid) as caught:
        check(bundle, table, "a", Use("formula field 'x'", None))
    assert [(p.pos.line, p.pos.column, p.code, p.message) for p in caught.value.problems] == [
        (1, 1, "formula.circular", "formula fields refer to each other in a circle: t.a → t.b → t.c → t.a")]
    with pytest.raises(FormulaInvalid, match=r"in a circle: t.d → t.d"):
        check(bundle, table, "d + 1", Use("formula field 'x'", None))


def test_loading_a_bundle_reports_formula_problems_with_the_line() -> None:
    with pytest.raises(ValidationFailed) as caught:
        load({"objects": [{"name": "t", "label": "T", "fields": [
            {"name": "a", "label": "A", "type": "formula", "return_type": "number", "expression": "a + 1"},
            {"name": "n", "label": "N", "type": "number"},
            {"name": "m", "label": "M", "type": "formula", "return_type": "number", "expression": "n +\n  nn"},
        ]}]})
    found = {(p.pointer, p.code, p.message) for p in caught.value.problems}
    assert ("/objects/0/fields/0/expression", "formula.circular",
            "formula field 't.a': line 1, column 1: formula fields refer to each other in a circle: t.a → t.a") in found
    assert any(pointer == "/objects/0/fields/2/expression" and code == "formula.unknown_field"
               and message.startswith("formula field 't.m': line 2, column 3: object 't' has no field 'nn'; "
                                      "did you mean 'n'?") for pointer, code, message in found)


# -- limits, shared syntax and blank text -------------------------------------------------------

def test_operator_names_are_not_functions() -> None:
    assert problems_of("NEG(1)") == [(1, 1, "formula.unknown_function", "there is no function NEG")]
    assert run_python("-(1)") == Decimal(-1)


def test_empty_text_in_quotes_is_blank_text() -> None:
    assert run_python('ISBLANK("")') is True
    assert run_python('IF(flag, "", "x")') is None
    assert run_python('"" & name') == run_python("name")


def test_a_chain_of_ampersands_is_one_flat_call() -> None:
    tree = typed(" & ".join(["name"] * 300))
    assert isinstance(tree, TCall) and tree.fn.name == "&" and len(tree.args) == 300


def test_formulas_nested_too_deep_for_the_compilers_are_refused() -> None:
    assert problems_of("ABS(" * 31 + "amount" + ")" * 31) == [(1, 1, "formula.too_complex", (
        "the formula nests 32 levels deep, counting the formula fields it uses; at most 30 are allowed: split it "
        "into formula fields or simplify it"))]


def test_formula_fields_whose_sql_would_be_huge_are_refused() -> None:
    # ADDMONTHS repeats its date in SQL, so nesting it multiplies the statement
    defn = FieldDef("later", "formula", "Later", expression="ADDMONTHS(" * 4 + "close" + ", 1)" * 4)
    with pytest.raises(FormulaInvalid) as caught:
        check_formula_field(BUNDLE, DEAL, defn)
    ((problem),) = caught.value.problems
    assert (problem.pos.line, problem.pos.column, problem.code) == (1, 1, "formula.too_complex")
    assert problem.message.startswith("the formula would compile to ")
    assert problem.message.endswith(" SQL terms, counting the formula fields it uses; at most 10,000 are allowed: "
                                    "use fewer nested date functions (ADDMONTHS, date arithmetic, MIN/MAX) or "
                                    "simplify it")
    check_formula_field(BUNDLE, DEAL, replace(defn, expression="ADDMONTHS(ADDMONTHS(close, 1), 1)"))


def test_nesting_within_the_limit_checks() -> None:
    assert run_python("ABS(" * 29 + "amount" + ")" * 29) == run_python("amount")


@pytest.mark.parametrize("pattern", ["(?i)abc", "(?P<n>a)", "a(?=b)", ".*\\\\b.*", "\\\\Z", "[[:digit:]]", "a{,3}"])
def test_regex_syntax_the_databases_read_differently_is_refused(pattern: str) -> None:
    ((line, column, code, message),) = problems_of(f'REGEX(name, "{pattern}")', Use("rule", None))
    assert (line, column, code) == (1, 13, "formula.bad_pattern")
    assert "mean different things in the databases formulas run on" in message


def test_lower_and_upper_map_each_character_as_postgresql_does() -> None:
    assert run_python('UPPER("straße")') == "STRAßE"
    assert run_python('LOWER("İSTANBUL ΟΔΟΣ")') == "istanbul οδοσ"


@pytest.mark.parametrize("pattern", ["[^<>]{0,500}", "a{256}", "x{300,}", "a*+b", "a{2}+"])
def test_regex_syntax_postgresql_refuses_is_refused(pattern: str) -> None:
    ((_, _, code, _),) = problems_of(f'REGEX(name, "{pattern}")', Use("rule", None))
    assert code == "formula.bad_pattern"


def test_negative_powers_divide_and_huge_powers_have_no_value() -> None:
    assert run_python("10 ^ -17 > 0") is True  # exact to 20 places, like "/"
    assert run_python("2 ^ -2") == Decimal("0.25")
    assert run_python("10 ^ -30") == 0
    assert run_python("(10 ^ 600) ^ 2") is ERROR  # more than 1000 digits


def test_value_reads_at_most_a_hundred_characters() -> None:
    long_number = "0." + "0" * 200 + "1"
    assert run_python(f'ISNUMBER("{long_number}")') is False
    assert run_python(f'VALUE("{long_number}")') is ERROR
