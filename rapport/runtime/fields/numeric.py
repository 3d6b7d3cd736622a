"""Number types: integer, number, currency, percent."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any
from collections.abc import Iterable

import sqlalchemy as sa

from rapport.metadata.model import Bundle, FieldDef, ObjectDef
from rapport.platform.errors import Problem
from rapport.runtime.fields.base import Converted, FieldType, FieldValueError, describe_value

NUMERIC_TYPES = frozenset({"integer", "number", "currency", "percent"})
INT64 = (-(2**63), 2**63 - 1)


#: numbers are exact to 38 digits (PostgreSQL numeric up to precision 38) with room to spare
DECIMAL_CONTEXT = Context(prec=80, rounding=ROUND_HALF_UP)
#: beyond this many digits before the point no field can hold a number (precision ≤ 38)
MAX_MAGNITUDE = 40


def parse_number(value: Any) -> Decimal:
    """A finite Decimal of sane size, or a coded error (never NaN, infinity or 1e99999999)."""
    if isinstance(value, bool) or value is None or not isinstance(value, (int, float, Decimal, str)):
        raise FieldValueError("records.wrong_type", f"expected a number, got {describe_value(value)}")
    try:
        if isinstance(value, float):
            number = Decimal(repr(value))
        elif isinstance(value, str):
            number = Decimal(value.strip().replace(",", ""))
        else:
            number = Decimal(value)
    except (InvalidOperation, ValueError):
        raise FieldValueError("records.wrong_type", f"expected a number, got {describe_value(value)}") from None
    if not number.is_finite():
        raise FieldValueError("records.wrong_type", f"expected a finite number, got {describe_value(value)}")
    if number and number.adjusted() >= MAX_MAGNITUDE:
        raise FieldValueError("records.out_of_range", f"{describe_value(value)} is too large for any number field")
    if number and number.adjusted() < -MAX_MAGNITUDE:
        number = Decimal(0)  # far below any scale a field can have
    return number


def exact_json(number: Decimal, scale: int) -> Any:
    """JSON for a stored number: an int or float when exact, else its decimal text."""
    if scale == 0 and number == number.to_integral_value():
        return int(number)
    as_float = float(number)
    return as_float if Decimal(repr(as_float)) == number else f"{number:.{scale}f}"


def _check_bounds(number: Decimal, field: FieldDef) -> None:
    if field.min is not None and number < Decimal(str(field.min)):
        raise FieldValueError("records.out_of_range", f"{number} is below the minimum {field.min}")
    if field.max is not None and number > Decimal(str(field.max)):
        raise FieldValueError("records.out_of_range", f"{number} is above the maximum {field.max}")


class IntegerType(FieldType):
    name = "integer"
    formula_value = "number"
    sum_type = "number"  # many whole numbers add up past a bigint: numeric(38, 0)
    widget = "number"
    aggregates = frozenset({"count", "sum", "min", "max"})
    converts_from = NUMERIC_TYPES | {"text", "picklist", "boolean"}

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine[Any]:
        return sa.BigInteger()

    def describe(self, field: FieldDef) -> dict[str, Any]:
        return {k: v for k, v in (("min", field.min), ("max", field.max)) if v is not None}

    def check_options(self, field: FieldDef, obj: ObjectDef, bundle: Bundle, at: str) -> Iterable[Problem]:
        if field.min is not None and field.max is not None and field.min > field.max:
            yield Problem(at + "/min", "metadata.out_of_range", f"min {field.min} is above max {field.max}")

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        low, high = INT64
        return {"type": ["integer", "null"],
                "minimum": max(low, math.ceil(field.min)) if field.min is not None else low,
                "maximum": min(high, math.floor(field.max)) if field.max is not None else high}

    def coerce(self, value: Any, field: FieldDef) -> Any:
        if value is None or value == "":
            return None
        number = parse_number(value)
        if number != number.to_integral_value():
            raise FieldValueError("records.not_whole", f"{describe_value(value)} is not a whole number")
        whole = int(number)
        if not INT64[0] <= whole <= INT64[1]:
            raise FieldValueError("records.out_of_range", f"{whole} does not fit a 64-bit integer")
        _check_bounds(number, field)
        return whole

    def convert(self, value: Any, old: FieldDef, new: FieldDef, old_type: FieldType) -> Converted:
        if isinstance(value, bool):
            return Converted(int(value))
        if old_type is not self and value is not None and not isinstance(value, str):
            number = parse_number(value)
            rounded = number.to_integral_value(ROUND_HALF_UP, context=DECIMAL_CONTEXT)
            return Converted(self.coerce(rounded, new), lossy=rounded != number)
        return Converted(self.coerce(value, new))

    def needs_data_check(self, old: FieldDef, new: FieldDef) -> bool:
        return (new.min is not None and new.min != old.min) or (new.max is not None and new.max != old.max)


class NumberType(FieldType):
    name = "number"
    formula_value = "number"
    widget = "number"
    aggregates = frozenset({"count", "sum", "min", "max"})
    defaults = {"precision": 18, "scale": 0}
    converts_from = NUMERIC_TYPES | {"text", "picklist"}

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine[Any]:
        return sa.Numeric(field.precision, field.scale, asdecimal=True)

    def describe(self, field: FieldDef) -> dict[str, Any]:
        return {"precision": field.precision, "scale": field.scale}

    def check_options(self, field: FieldDef, obj: ObjectDef, bundle: Bundle, at: str) -> Iterable[Problem]:
        if field.precision is not None and field.scale is not None and field.scale > field.precision:
            yield Problem(at + "/scale", "metadata.out_of_range",
                          f"scale {field.scale} is above precision {field.precision}")

    def _fit(self, number: Decimal, field: FieldDef) -> tuple[Decimal, bool]:
        scale = field.scale or 0
        quantum = Decimal(1).scaleb(-scale)
        rounded = number.quantize(quantum, context=DECIMAL_CONTEXT)
        digits_left = (field.precision or 18) - scale
        if abs(rounded) >= Decimal(10) ** digits_left:
            raise FieldValueError(
                "records.out_of_range",
                f"{number} has more than {digits_left} digits before the decimal point",
            )
        return rounded, rounded != number

    def coerce(self, value: Any, field: FieldDef) -> Any:
        if value is None or value == "":
            return None
        number, _ = self._fit(parse_number(value), field)
        _check_bounds(number, field)
        return number

    def to_json(self, value: Any, field: FieldDef) -> Any:
        if value is None:
            return None
        return exact_json(Decimal(value), field.scale or 0)

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        """As :func:`exact_json` writes them: whole numbers without a scale; with one, a JSON
        number when it is exact, else decimal text with ``scale`` digits after the point."""
        scale = field.scale or 0
        bound = 10 ** ((field.precision or 18) - scale)
        limits: dict[str, Any] = {"exclusiveMinimum": -bound, "exclusiveMaximum": bound}
        if field.min is not None:
            limits["minimum"] = field.min
        if field.max is not None:
            limits["maximum"] = field.max
        if scale == 0:
            return {"type": ["integer", "null"], **limits}
        return {"type": ["number", "string", "null"], "pattern": rf"^-?[0-9]+\.[0-9]{{{scale}}}$", **limits}

    def to_text(self, value: Any, field: FieldDef) -> str | None:
        return None if value is None else f"{Decimal(value):.{field.scale or 0}f}"

    def convert(self, value: Any, old: FieldDef, new: FieldDef, old_type: FieldType) -> Converted:
        if value is None:
            return Converted(None)
        number, lossy = self._fit(parse_number(value), new)
        return Converted(number, lossy)

    def needs_data_check(self, old: FieldDef, new: FieldDef) -> bool:
        return (new.precision or 0) < (old.precision or 0) or (new.scale or 0) < (old.scale or 0)


class CurrencyType(NumberType):
    name = "currency"
    widget = "currency"
    defaults = {"precision": 18, "scale": 2}


class PercentType(NumberType):
    name = "percent"
    widget = "percent"
    defaults = {"precision": 5, "scale": 2}
