"""Text functions. Blank text is null: a function whose result would be empty text
returns blank, and ``LEN`` of blank text is 0. Positions and counts are whole numbers
(fractions are cut off); a negative count is 0, a start before 1 is 1."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from rapport.runtime.formula import values as v
from rapport.runtime.formula.registry import (
    ArgumentError, Compiled, Function, SqlExpr, by_argument_type, on_sqlite_udf, register, simple, udf,
)
from rapport.runtime.formula.typed import Typed
from rapport.runtime.formula.types import FType, fits

T, N, B = FType.TEXT, FType.NUMBER, FType.BOOLEAN
GROUP = "Text"
_PG_NUMBER = r"^ *[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+) *$"


def _pg_is_number(t: SqlExpr) -> SqlExpr:
    """As :func:`values.is_number_text` (no longer than MAX_NUMBER_TEXT, which the cast fits)."""
    return sa.and_(sa.func.char_length(t) <= v.MAX_NUMBER_TEXT, t.op("~", is_comparison=True)(_PG_NUMBER))


def pg_count(n: SqlExpr, low: int = 0) -> SqlExpr:
    """A count or position argument, as :func:`values.whole` makes it (blank stays blank:
    GREATEST and LEAST skip nulls)."""
    clamped = sa.cast(sa.func.least(sa.func.greatest(sa.func.trunc(n), low), v.MAX_CHARS), sa.Integer)
    return sa.case((n.is_(None), sa.null()), else_=clamped)


def _nonblank(expr: SqlExpr) -> SqlExpr:
    return sa.func.nullif(expr, "", type_=sa.String())


# -- TEXT: any value as text ------------------------------------------------------------------

_TEXT_PYTHON, _TEXT_SQL = by_argument_type("text", {
    # type: (Python value → text, PostgreSQL expression)
    FType.NUMBER: (v.number_text, lambda x: sa.cast(sa.func.trim_scale(x), sa.String)),
    FType.BOOLEAN: (lambda b: "true" if b else "false", lambda x: sa.case((x, "true"), (sa.not_(x), "false"))),
    FType.DATE: (lambda d: d.isoformat(), lambda x: sa.func.to_char(x, "YYYY-MM-DD")),
    FType.DATETIME: (v.datetime_text,
                     lambda x: sa.func.to_char(sa.func.timezone("UTC", x), 'YYYY-MM-DD"T"HH24:MI:SS"Z"')),
    FType.TIME: (lambda t: t.strftime("%H:%M:%S"), lambda x: sa.func.to_char(x, "HH24:MI:SS")),
    FType.MULTIPICKLIST: (lambda m: v.blank_text(m.strip(";")), lambda x: _nonblank(sa.func.btrim(x, ";"))),
    FType.TEXT: (lambda t: t, None),
    FType.PICKLIST: (lambda t: t, None),
}, T)


register(Function(
    name="TEXT", signature="TEXT(value)",
    summary="Any value as text: numbers without trailing zeros or exponent, dates as 2026-01-31, "
            "date/times as 2026-01-31T09:30:00Z (UTC), booleans as true/false, multi-select values joined by ';'.",
    examples=(("TEXT(1.50)", '"1.5"'), ("TEXT(DATE(2026, 1, 31))", '"2026-01-31"'), ("TEXT(stage)", '"won"')),
    min_args=1, max_args=1, typer=lambda types: T, python=_TEXT_PYTHON, sql=_TEXT_SQL, group=GROUP))


# -- numbers in text ----------------------------------------------------------------------------

simple("VALUE", [T], N, v.text_value,
       lambda t: sa.case((_pg_is_number(t), sa.cast(sa.func.btrim(t, " "), sa.Numeric())), else_=sa.null()),
       signature="VALUE(text)", summary="The number written in the text; an error when the text is not a number "
       "(a validation error in a rule, blank in a formula field).",
       examples=[('VALUE("42.5")', "42.5"), ('VALUE(" -3 ")', "-3")], group=GROUP)
simple("ISNUMBER", [T], B, v.is_number_text,
       lambda t: sa.func.coalesce(_pg_is_number(t), sa.false()),
       signature="ISNUMBER(text)", summary="Whether the text is a number VALUE can read (digits, an optional sign "
       "and decimal point, surrounding spaces).",
       examples=[('ISNUMBER("12.5")', "true"), ('ISNUMBER("12a")', "false")], group=GROUP, nulls="pass")


# -- length, pieces, search -------------------------------------------------------------------

simple("LEN", [T], N, lambda t: v.Decimal(len(t or "")),
       lambda t: sa.cast(sa.func.coalesce(sa.func.char_length(t), 0), sa.Numeric()),
       sqlite=lambda t: sa.func.coalesce(sa.func.length(t), 0),
       signature="LEN(text)", summary="The number of characters (0 for blank text).",
       examples=[('LEN("Rapport")', "7")], group=GROUP, nulls="pass")
simple("LEFT", [T, N], T, v.left, lambda t, n: _nonblank(sa.func.left(t, pg_count(n))),
       signature="LEFT(text, count)", summary="The first count characters.",
       examples=[('LEFT("Rapport", 3)', '"Rap"')], group=GROUP)
simple("RIGHT", [T, N], T, v.right, lambda t, n: _nonblank(sa.func.right(t, pg_count(n))),
       signature="RIGHT(text, count)", summary="The last count characters.",
       examples=[('RIGHT("Rapport", 4)', '"port"')], group=GROUP)
simple("MID", [T, N, N], T, v.mid, lambda t, start, n: _nonblank(sa.func.substr(t, pg_count(start, 1), pg_count(n))),
       signature="MID(text, start, count)", summary="count characters from position start (the first is 1).",
       examples=[('MID("Rapport", 2, 3)', '"app"')], group=GROUP)


def _pg_find(search: SqlExpr, text: SqlExpr, start: SqlExpr | None = None) -> SqlExpr:
    blank = sa.or_(search.is_(None), search == "", text.is_(None), text == "")
    found: SqlExpr
    if start is None:
        found = sa.func.strpos(text, search)
    else:
        first = pg_count(sa.func.coalesce(start, 1), 1)  # a blank start is the first character
        position = sa.func.strpos(sa.func.substr(text, first), search)
        found = sa.case((position == 0, 0), else_=position + first - 1)
    return sa.case((blank, 0), else_=sa.cast(found, sa.Numeric()))


simple("FIND", [T, T, N], N, v.find, _pg_find, min_args=2, nulls="pass",
       signature="FIND(search, text[, start])",
       summary="The position of search in text (the first character is 1), looking from start; 0 if absent.",
       examples=[('FIND("port", "Rapport")', "4"), ('FIND("x", "Rapport")', "0")], group=GROUP)
simple("CONTAINS", [T, T], B, v.contains,
       lambda t, part: sa.case((sa.func.coalesce(part, "") == "", sa.true()),
                               else_=sa.func.coalesce(sa.func.strpos(t, part) > 0, sa.false())),
       signature="CONTAINS(text, part)", summary="Whether text contains part (case-sensitive; blank part: true).",
       examples=[('CONTAINS("Rapport", "app")', "true")], group=GROUP, nulls="pass")
simple("BEGINS", [T, T], B, v.begins,
       lambda t, part: sa.case((sa.func.coalesce(part, "") == "", sa.true()),
                               else_=sa.func.coalesce(sa.func.left(t, sa.func.char_length(part)) == part,
                                                      sa.false())),
       signature="BEGINS(text, start)", summary="Whether text begins with start (case-sensitive).",
       examples=[('BEGINS("Rapport", "Rap")', "true")], group=GROUP, nulls="pass")


# -- changing text ------------------------------------------------------------------------------

simple("LOWER", [T], T, v.lower, sa.func.lower,
       signature="LOWER(text)", summary="The text in lower case.", examples=[('LOWER("ACME")', '"acme"')],
       group=GROUP)
simple("UPPER", [T], T, v.upper, sa.func.upper,
       signature="UPPER(text)", summary="The text in upper case.", examples=[('UPPER("acme")', '"ACME"')],
       group=GROUP)
simple("TRIM", [T], T, lambda t: v.blank_text(t.strip(" ")), lambda t: _nonblank(sa.func.btrim(t, " ")),
       sqlite=lambda t: _nonblank(sa.func.trim(t, " ")),
       signature="TRIM(text)", summary="The text without leading and trailing spaces.",
       examples=[('TRIM("  Acme ")', '"Acme"')], group=GROUP)
simple("SUBSTITUTE", [T, T, T], T, v.substitute,
       lambda t, old, new: sa.case(
           (sa.func.coalesce(old, "") == "", t),
           else_=_nonblank(sa.func.replace(t, old, sa.func.coalesce(new, "")))),
       nulls="pass", signature="SUBSTITUTE(text, old, new)",
       summary="The text with every occurrence of old replaced by new.",
       examples=[('SUBSTITUTE("a-b-c", "-", "/")', '"a/b/c"')], group=GROUP)


# -- REGEX --------------------------------------------------------------------------------------

def _regex_type(types: list[FType]) -> FType:
    for index, kind in enumerate(types):
        if not fits(kind, T):
            raise ArgumentError(f"REGEX takes text, got {kind.noun}", index)
    return B


def _regex_python(types: list[FType], args: list[Compiled], nodes: Sequence[Typed]) -> Compiled:
    text, regex = args
    return lambda s: v.regex_match(text(s), regex(s))


udf("regex", v.regex_match, (T, T), B, loose=True)
register(Function(
    name="REGEX", signature='REGEX(text, "pattern")',
    summary="Whether the whole text matches the regular expression (blank text is matched as empty text). "
            "Use the syntax Python and PostgreSQL share: classes like [0-9], \\d, \\s, \\w, groups, | and "
            "quantifiers.",
    examples=(('REGEX(phone, "[0-9]{3}-[0-9]{4}")', 'true for "555-1234"'),), min_args=2, max_args=2,
    typer=_regex_type, python=_regex_python, literal_args=frozenset({1}),
    sql=on_sqlite_udf(lambda t, r: sa.func.coalesce(t, "").op("~", is_comparison=True)(
        sa.literal("^(?:").op("||")(sa.func.coalesce(r, "")).op("||")(sa.literal(")$"))), "regex", B),
    group=GROUP))
