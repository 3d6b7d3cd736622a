"""Date and time types: date, datetime (always stored in UTC), time."""

from __future__ import annotations

from functools import lru_cache
from datetime import date, datetime, time, UTC
from typing import Any

import sqlalchemy as sa

from rapport.metadata.model import FieldDef
from rapport.platform.sqltypes import UtcDateTime
from rapport.runtime.fields.base import Converted, FieldType, FieldValueError, describe_value


class DateType(FieldType):
    aggregates = frozenset({"count", "min", "max"})
    name = "date"
    formula_value = "date"
    widget = "date"
    converts_from = frozenset({"datetime", "text"})

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine[Any]:
        return sa.Date()

    def coerce(self, value: Any, field: FieldDef) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise FieldValueError("records.wrong_type", f"expected a date like 2026-01-31, got {describe_value(value)}")

    def to_json(self, value: Any, field: FieldDef) -> Any:
        return None if value is None else value.isoformat()

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        return {"type": ["string", "null"], "format": "date"}

    def convert(self, value: Any, old: FieldDef, new: FieldDef, old_type: FieldType) -> Converted:
        if isinstance(value, datetime):
            return Converted(value.date(), lossy=value.timetz().replace(tzinfo=None) != time())
        return super().convert(value, old, new, old_type)


class DateTimeType(FieldType):
    aggregates = frozenset({"count", "min", "max"})
    name = "datetime"
    formula_value = "datetime"
    widget = "datetime"
    converts_from = frozenset({"date", "text"})

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine[Any]:
        return UtcDateTime()

    def coerce(self, value: Any, field: FieldDef) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, date):
            parsed = datetime(value.year, value.month, value.day, tzinfo=UTC)
        elif isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                raise FieldValueError(
                    "records.wrong_type",
                    f"expected an ISO 8601 date-time like 2026-01-31T09:30:00Z, got {describe_value(value)}",
                ) from None
        else:
            raise FieldValueError("records.wrong_type", f"expected a date-time, got {describe_value(value)}")
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise FieldValueError("records.out_of_range",
                                  f"{describe_value(value)} is outside the years 1 to 9999 in UTC") from None

    def to_json(self, value: Any, field: FieldDef) -> Any:
        return None if value is None else utc_iso(value)

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        return {"type": ["string", "null"], "format": "date-time"}


@lru_cache(maxsize=1024)  # the records of one write share their created/updated stamps
def utc_iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class TimeType(FieldType):
    aggregates = frozenset({"count", "min", "max"})
    name = "time"
    formula_value = "time"
    widget = "time"
    converts_from = frozenset({"text"})

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine[Any]:
        return sa.Time()

    def coerce(self, value: Any, field: FieldDef) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, time):
            return value
        if isinstance(value, str):
            try:
                return time.fromisoformat(value.strip())
            except ValueError:
                pass
        raise FieldValueError("records.wrong_type",
                              f"expected a time like 14:30 or 14:30:00, got {describe_value(value)}")

    def to_json(self, value: Any, field: FieldDef) -> Any:
        return None if value is None else value.isoformat()

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        # not JSON Schema's "time" format: that one needs a UTC offset, and these times have none
        return {"type": ["string", "null"],
                "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"}
