"""Text-like types: text, textarea, email, phone, url."""

from __future__ import annotations

import re
from typing import Any, ClassVar

import sqlalchemy as sa

from rapport.metadata.model import FieldDef
from rapport.runtime.fields.base import (
    EQUALITY_OPERATORS, ORDER_OPERATORS, TEXT_OPERATORS, Converted, FieldType, FieldValueError,
    check_text, describe_value,
)

TEXT_LIKE = frozenset({"text", "textarea", "email", "phone", "url", "picklist"})
SCALARS = frozenset({"integer", "number", "currency", "percent", "boolean", "date", "datetime",
                     "time", "multipicklist", "autonumber"})


class TextType(FieldType):
    name = "text"
    widget = "text"
    defaults = {"max_length": 255}
    operators = {**EQUALITY_OPERATORS, **ORDER_OPERATORS, **TEXT_OPERATORS}
    converts_from = TEXT_LIKE | SCALARS
    hard_limit: ClassVar[int] = 255

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine[Any]:
        return sa.String(self.max_length(field))

    def max_length(self, field: FieldDef) -> int:
        return field.max_length or self.hard_limit

    def describe(self, field: FieldDef) -> dict[str, Any]:
        return {"max_length": self.max_length(field)}

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        return {"type": ["string", "null"], "maxLength": self.max_length(field)}

    def coerce(self, value: Any, field: FieldDef) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise FieldValueError("records.wrong_type",
                                  f"expected text, got {type(value).__name__} {describe_value(value)}")
        text = str(value)
        if text == "":
            return None
        limit = self.max_length(field)
        if len(text) > limit:
            raise FieldValueError("records.too_long",
                                  f"text is {len(text)} characters long; at most {limit} are allowed")
        return self.check_format(check_text(text))

    def check_format(self, text: str) -> str:
        return text

    def convert(self, value: Any, old: FieldDef, new: FieldDef, old_type: FieldType) -> Converted:
        if old_type is not self:
            value = old_type.to_text(value, old)
        if isinstance(value, str) and len(value) > self.max_length(new):
            return Converted(self.check_format(value[: self.max_length(new)]), lossy=True)
        return Converted(self.coerce(value, new))

    def needs_data_check(self, old: FieldDef, new: FieldDef) -> bool:
        return self.max_length(new) < self.max_length(old)


class TextareaType(TextType):
    name = "textarea"
    widget = "textarea"
    defaults = {"max_length": 32768}
    hard_limit = 131072

    def column_type(self, field: FieldDef) -> sa.types.TypeEngine[Any]:
        return sa.Text()


class _FormattedText(TextType):
    pattern: ClassVar[re.Pattern[str]]
    #: ``pattern`` as a JSON Schema (ECMA 262) regular expression
    json_pattern: ClassVar[str]
    what: ClassVar[str]
    defaults = {}
    converts_from = TEXT_LIKE

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        return {**super().value_schema(field), "pattern": f"^(?:{self.json_pattern})$"}

    def check_format(self, text: str) -> str:
        text = text.strip()
        if not self.pattern.fullmatch(text):
            raise FieldValueError("records.bad_format", f"{describe_value(text)} is not a valid {self.what}")
        return text


class EmailType(_FormattedText):
    name = "email"
    widget = "email"
    what = "email address (like name@example.com)"
    pattern = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
    json_pattern = pattern.pattern


class PhoneType(_FormattedText):
    name = "phone"
    widget = "tel"
    what = "phone number (digits, spaces and + ( ) - . / x, at least 3 digits)"
    pattern = re.compile(r"(?=(?:\D*\d){3})[0-9+()\-./ x]{3,40}")
    json_pattern = pattern.pattern


class UrlType(_FormattedText):
    name = "url"
    widget = "url"
    what = "URL (http:// or https:// followed by a host)"
    pattern = re.compile(r"https?://[^\s/$.?#][^\s]*", re.IGNORECASE)
    json_pattern = r"[hH][tT][tT][pP][sS]?://[^\s/$.?#][^\s]*"  # JSON Schema regexes have no flags
