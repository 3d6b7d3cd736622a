"""Date functions. Dates are calendar days; date/times are instants, shown and split in UTC.
A date outside the years 1–9999 has no value (an error in a rule, blank in a formula field)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from rapport.runtime.formula import values as v
from rapport.runtime.formula.operators import pg_whole
from rapport.runtime.formula.registry import (
    ArgumentError, Function, PerType, SqlExpr, by_argument_type, register, simple,
)
from rapport.runtime.formula.types import FType, fits

N, D, DT, T = FType.NUMBER, FType.DATE, FType.DATETIME, FType.TEXT
GROUP = "Dates"


def _now(name: str, kind: FType, summary: str, example: str) -> None:
    attribute = name.lower()  # Env.today, Env.now
    register(Function(
        name=name, signature=f"{name}()", summary=summary, examples=((f"{name}()", example),),
        min_args=0, max_args=0, typer=lambda types: kind,
        python=lambda t, a, n: (lambda s: getattr(s.env, attribute)),
        sql=lambda ctx, t, a, n: ctx.env_value(attribute, kind), group=GROUP))


_now("TODAY", D, "Today's date (in UTC).", "2026-12-01")
_now("NOW", DT, "The current date and time.", "2026-12-01T09:30:00Z")


def pg_make_date(year: SqlExpr, month: SqlExpr, day: SqlExpr) -> SqlExpr:
    y, m, d = sa.func.trunc(year), sa.func.trunc(month), sa.func.trunc(day)
    as_int = [pg_whole(x, 100_000) for x in (y, m, d)]
    first = sa.func.make_date(as_int[0], as_int[1], 1)
    last_day = sa.func.extract("day", first + sa.text("interval '1 month - 1 day'"))
    in_month = sa.case((sa.and_(d >= 1, d <= last_day), sa.func.make_date(*as_int)), else_=sa.null())
    return sa.type_coerce(sa.case((sa.and_(y.between(1, 9999), m.between(1, 12)), in_month), else_=sa.null()),
                          sa.Date())


simple("DATE", [N, N, N], D, v.make_date, pg_make_date, signature="DATE(year, month, day)",
       summary="The date of the year, month and day; an error if there is no such day.",
       examples=[("DATE(2026, 2, 28)", "2026-02-28"), ("DATE(2026, 2, 30)", "an error")], group=GROUP)


def _pg_date_value_of_text(text: SqlExpr) -> SqlExpr:
    trimmed = sa.func.btrim(text, " ")
    parts = [sa.cast(sa.func.substr(trimmed, start, size), sa.Numeric()) for start, size in ((1, 4), (6, 2), (9, 2))]
    shaped = text.op("~")(r"^ *[0-9]{4}-[0-9]{2}-[0-9]{2} *$")
    return sa.type_coerce(sa.case((shaped, pg_make_date(*parts)), else_=sa.null()), sa.Date())


_DATEVALUE: PerType = {
    T: (v.date_value, _pg_date_value_of_text),
    FType.PICKLIST: (v.date_value, _pg_date_value_of_text),
    DT: (v.utc_date, lambda x: sa.type_coerce(sa.cast(sa.func.timezone("UTC", x), sa.Date()), sa.Date())),
    D: (lambda d: d, None),
}
_DATEVALUE_PYTHON, _DATEVALUE_SQL = by_argument_type("datevalue", _DATEVALUE, D)


def _datevalue_type(types: list[FType]) -> FType:
    if not any(fits(types[0], kind) for kind in _DATEVALUE):
        raise ArgumentError(f"DATEVALUE takes text like \"2026-01-31\" or a date/time, got {types[0].noun}", 0)
    return D


register(Function(
    name="DATEVALUE", signature="DATEVALUE(text_or_datetime)",
    summary="The date written in the text (2026-01-31), or the date (in UTC) of a date/time; "
            "an error for text that is not a date.",
    examples=(('DATEVALUE("2026-01-31")', "2026-01-31"), ("DATEVALUE(created_at)", "the day it was created")),
    min_args=1, max_args=1, typer=_datevalue_type, python=_DATEVALUE_PYTHON, sql=_DATEVALUE_SQL, group=GROUP))


def _part(name: str, fn: Any, field: str, summary: str, example: tuple[str, str]) -> None:
    simple(name, [D], N, fn, lambda d: sa.cast(sa.func.extract(field, d), sa.Numeric()),
           signature=f"{name}(date)", summary=summary, examples=[example], group=GROUP)


_part("YEAR", lambda d: v.Decimal(d.year), "year", "The year of the date.", ("YEAR(DATE(2026, 3, 9))", "2026"))
_part("MONTH", lambda d: v.Decimal(d.month), "month", "The month of the date (1–12).",
      ("MONTH(DATE(2026, 3, 9))", "3"))
_part("DAY", lambda d: v.Decimal(d.day), "day", "The day of the month (1–31).", ("DAY(DATE(2026, 3, 9))", "9"))
simple("WEEKDAY", [D], N, v.weekday, lambda d: sa.cast(sa.func.extract("dow", d) + 1, sa.Numeric()),
       signature="WEEKDAY(date)", summary="The day of the week: 1 for Sunday, 2 for Monday … 7 for Saturday.",
       examples=[("WEEKDAY(DATE(2026, 12, 1))", "3 (a Tuesday)")], group=GROUP)


def _pg_add_months(day: SqlExpr, count: SqlExpr) -> SqlExpr:
    months = pg_whole(count, 12 * 10_000)
    start = sa.func.date_trunc("month", day)
    end_of_month = sa.cast(start + sa.text("interval '1 month - 1 day'"), sa.Date())
    to_last = start + sa.func.make_interval(0, months + 1) - sa.text("interval '1 day'")
    same_day = day + sa.func.make_interval(0, months)
    shifted = sa.cast(sa.case((day == end_of_month, to_last), else_=same_day), sa.Date())
    # the month it lands in, counted from year 0, asked first: shifting first may leave
    # PostgreSQL's range (4713 BC) and fail
    month = sa.func.extract("year", day) * 12 + sa.func.extract("month", day) - 1 + sa.func.trunc(count)
    return sa.case((month.between(12, 9999 * 12 + 11), shifted), else_=sa.null())


simple("ADDMONTHS", [D, N], D, v.add_months, _pg_add_months, signature="ADDMONTHS(date, months)",
       summary="The date that many months later (earlier if negative); the last day of a month stays the "
               "last day, and a day the new month lacks becomes its last day.",
       examples=[("ADDMONTHS(DATE(2026, 1, 31), 1)", "2026-02-28"), ("ADDMONTHS(DATE(2026, 2, 28), 1)", "2026-03-31")],
       group=GROUP)

