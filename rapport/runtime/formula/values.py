"""What the formula functions do to values, in Python.

One implementation, used twice: by the Python compiler (rules, defaults) and, wrapped as
user-defined SQL functions, by SQLite, which lacks most of these built in (PostgreSQL gets
native SQL written to the same rules in :mod:`.functions`). Values are the stored Python
values: ``str`` (never empty: blank text is ``None``), ``Decimal``, ``bool``, ``date``,
aware UTC ``datetime``. A value that has no answer (``VALUE("abc")``, ``SQRT(-1)``, a
date past year 9999) raises :class:`FormulaRuntimeError`; in SQL that value is null.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, timedelta
from decimal import (
    MAX_EMAX, MAX_PREC, MIN_EMIN, ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal, InvalidOperation,
    localcontext,
)
from functools import lru_cache
from typing import Any

#: digits after the point that a quotient keeps (the rest is cut off, on every backend)
DIVISION_SCALE = 20
#: the largest exponent of ``^`` (beyond it numbers outgrow every column)
MAX_EXPONENT = 1000
#: the most digits a power may have before the point (PostgreSQL's numbers end at 131,072)
MAX_POWER_DIGITS = 1000
#: the longest text VALUE reads as a number
MAX_NUMBER_TEXT = 100
#: the largest count of days that can be added to a date (about 10,000 years)
MAX_DAYS = 3_652_059
#: text and counts are clamped to this many characters
MAX_CHARS = 1_000_000
#: the date/times date/time arithmetic gives: a day short of Python's limits, so that the
#: value still fits a datetime when read in any time zone (as PostgreSQL computes it)
FIRST_MOMENT = datetime(1, 1, 2, tzinfo=UTC)
LAST_MOMENT = datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC)
NUMBER_TEXT = re.compile(r" *[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+) *")
_SCALE = Decimal(10) ** DIVISION_SCALE


class FormulaRuntimeError(ValueError):
    """A formula has no value for this record; the message says why."""


def blank_text(text: str | None) -> str | None:
    return text if text else None


# -- numbers -----------------------------------------------------------------------------

#: ``+ - *``, signs, rounding, remainders and (cut) quotients keep every digit, as PostgreSQL's
#: numeric does (Python's default context rounds to 28 significant digits); these results
#: are exact, so the unbounded precision costs only the digits they have
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
add, subtract, multiply = _EXACT.add, _EXACT.subtract, _EXACT.multiply
negate, plus, absolute = _EXACT.minus, _EXACT.plus, _EXACT.abs


def divide(a: Decimal, b: Decimal) -> Decimal | None:
    """``a / b``, cut (toward zero) to :data:`DIVISION_SCALE` places; ``None`` for ``b = 0``."""
    if b == 0:
        return None
    with localcontext(_EXACT):
        return ((a * _SCALE) // b).scaleb(-DIVISION_SCALE)


def power(base: Decimal, exponent: Decimal) -> Decimal:
    if abs(exponent) > MAX_EXPONENT:
        raise FormulaRuntimeError(f"the exponent {exponent} is beyond ±{MAX_EXPONENT}")
    if base < 0 and exponent != exponent.to_integral_value():
        raise FormulaRuntimeError(f"a negative number ({base}) has no real power {exponent}")
    if base == 0 and exponent < 0:
        raise FormulaRuntimeError("zero has no negative power")
    if exponent == 0:  # 0 ^ 0 too, as in PostgreSQL (Decimal finds 0 ** 0 undefined)
        return Decimal(1)
    if exponent < 0:  # a negative power divides, exact to DIVISION_SCALE places like "/"
        return divide(Decimal(1), power(base, -exponent)) or Decimal(0)
    if base != 0 and exponent * abs(base).log10() > MAX_POWER_DIGITS:
        raise FormulaRuntimeError(f"{base} ^ {exponent} has more than {MAX_POWER_DIGITS} digits")
    try:
        if exponent == exponent.to_integral_value():
            with localcontext(_EXACT):
                return base ** exponent
        return base ** exponent
    except (InvalidOperation, ArithmeticError) as error:
        raise FormulaRuntimeError(f"{base} ^ {exponent} is out of range") from error


def modulo(a: Decimal, b: Decimal) -> Decimal | None:
    """The remainder with the sign of ``a`` (as in Salesforce); ``None`` for ``b = 0``."""
    if b == 0:
        return None
    with localcontext(_EXACT):
        return a % b


def square_root(x: Decimal) -> Decimal:
    if x < 0:
        raise FormulaRuntimeError(f"a negative number ({x}) has no square root")
    return x.sqrt()


def round_to(x: Decimal, digits: Decimal) -> Decimal:
    """Half away from zero, as in spreadsheets; negative ``digits`` round to tens, hundreds…"""
    places = int(digits)
    if abs(places) > 100:
        raise FormulaRuntimeError(f"ROUND takes -100 to 100 digits, got {digits}")
    with localcontext(_EXACT):
        return x.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def floor(x: Decimal) -> Decimal:
    return x.to_integral_value(rounding=ROUND_FLOOR)


def ceiling(x: Decimal) -> Decimal:
    return x.to_integral_value(rounding=ROUND_CEILING)


def number_text(x: Decimal) -> str:
    """Plain digits, no exponent, no trailing zeros: ``1.5``, ``100``, ``-0.25``."""
    if x == 0:
        return "0"
    text = format(x, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def text_value(text: str) -> Decimal:
    if not is_number_text(text):
        raise FormulaRuntimeError(f"{_shown(text)} is not a number")
    return Decimal(text.strip(" "))


def is_number_text(text: str | None) -> bool:
    """Digits with a sign and a point, at most :data:`MAX_NUMBER_TEXT` characters."""
    return text is not None and len(text) <= MAX_NUMBER_TEXT and NUMBER_TEXT.fullmatch(text) is not None


def whole(x: Decimal, *, low: int = 0, high: int = MAX_CHARS) -> int:
    """A count argument: cut to a whole number and kept within ``low``…``high``."""
    return max(low, min(high, int(x)))


# -- text -----------------------------------------------------------------------------------

def left(text: str, count: Decimal) -> str | None:
    return blank_text(text[: whole(count)])


def right(text: str, count: Decimal) -> str | None:
    n = whole(count)
    return blank_text(text[max(0, len(text) - n):] if n else "")


def mid(text: str, start: Decimal, count: Decimal) -> str | None:
    first = whole(start, low=1) - 1
    return blank_text(text[first: first + whole(count)])


def find(search: str | None, text: str | None, start: Decimal | None = None) -> Decimal:
    """1-based position of ``search`` in ``text`` from ``start``; 0 when absent or blank."""
    if not search or not text:
        return Decimal(0)
    first = 0 if start is None else whole(start, low=1) - 1
    return Decimal(text.find(search, first) + 1)


def contains(text: str | None, part: str | None) -> bool:
    return not part or (text is not None and part in text)


def begins(text: str | None, part: str | None) -> bool:
    return not part or (text is not None and text.startswith(part))


def substitute(text: str | None, old: str | None, new: str | None) -> str | None:
    if text is None:
        return None
    return text if not old else blank_text(text.replace(old, new or ""))


def lower(text: str) -> str:
    """Character by character (simple case mapping), as PostgreSQL does: ``Σ`` → ``σ`` everywhere,
    ``İ`` → ``i`` (the one letter whose full lower case is two characters)."""
    return "".join(c.lower()[0] for c in text)


def upper(text: str) -> str:
    """Character by character, as PostgreSQL does: ``ß`` stays ``ß`` (not ``SS``)."""
    return "".join(c if len(up := c.upper()) != 1 else up for c in text)


@lru_cache(maxsize=256)
def pattern(regex: str) -> re.Pattern[str]:
    # PostgreSQL's "." matches a line break too
    return re.compile(regex, re.DOTALL)


def regex_match(text: str | None, regex: str | None) -> bool:
    """Blank text is matched as empty text, and a blank pattern ("") matches only that."""
    return pattern(regex or "").fullmatch(text or "") is not None


# -- dates ----------------------------------------------------------------------------------

def make_date(year: Decimal, month: Decimal, day: Decimal) -> date:
    try:
        return date(int(year), int(month), int(day))
    except (ValueError, OverflowError):
        raise FormulaRuntimeError(f"{_num(year)}-{_num(month)}-{_num(day)} is not a date") from None


def date_value(text: str) -> date:
    match = re.fullmatch(r" *([0-9]{4})-([0-9]{2})-([0-9]{2}) *", text)
    if not match:
        raise FormulaRuntimeError(f"{_shown(text)} is not a date like 2026-01-31")
    return make_date(*(Decimal(g) for g in match.groups()))


def add_days(day: date, count: Decimal) -> date:
    try:
        return day + timedelta(days=_days(count))
    except OverflowError:
        raise FormulaRuntimeError(f"{day.isoformat()} + {_num(count)} days is beyond the years 1–9999") from None


def add_time(moment: datetime, days: Decimal) -> datetime:
    _days(days)
    try:
        shifted = moment + timedelta(microseconds=int((days * 86_400_000_000).to_integral_value(ROUND_HALF_UP)))
    except OverflowError:
        shifted = None
    if shifted is None or not FIRST_MOMENT <= shifted <= LAST_MOMENT:
        raise FormulaRuntimeError(f"{moment.isoformat()} + {_num(days)} days is beyond the years 1–9999")
    return shifted


def days_between(a: date, b: date) -> Decimal:
    return Decimal((a - b).days)


def days_between_times(a: datetime, b: datetime) -> Decimal:
    delta = a - b
    microseconds = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return divide(Decimal(microseconds), Decimal(86_400_000_000)) or Decimal(0)


def add_months(day: date, count: Decimal) -> date:
    """Same day of the month; the last day of a month stays the last day (Jan 31 → Feb 28)."""
    months = day.year * 12 + day.month - 1 + int(count)
    year, month = divmod(months, 12)
    if not 1 <= year <= 9999:
        raise FormulaRuntimeError(f"{day.isoformat()} + {_num(count)} months is beyond the years 1–9999")
    last = calendar.monthrange(year, month + 1)[1]
    is_last = day.day == calendar.monthrange(day.year, day.month)[1]
    return date(year, month + 1, last if is_last else min(day.day, last))


def weekday(day: date) -> Decimal:
    """1 for Sunday … 7 for Saturday."""
    return Decimal(day.isoweekday() % 7 + 1)


def utc_date(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def datetime_text(moment: datetime) -> str:
    # isoformat, not strftime: %Y leaves the years before 1000 unpadded
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _days(count: Decimal) -> int:
    if abs(count) > MAX_DAYS:
        raise FormulaRuntimeError(f"{_num(count)} days is beyond ±{MAX_DAYS}")
    return int(count)


def _num(x: Any) -> str:
    return number_text(x) if isinstance(x, Decimal) else str(x)


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")
