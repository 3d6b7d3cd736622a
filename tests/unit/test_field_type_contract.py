"""Every registered field type honours the same contract (parametrized over the registry)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from rapport.metadata import schema
from rapport.runtime.fields import FIELD_TYPES, FieldType, FieldValueError
from rapport.runtime.loading import load
from tests.support.field_samples import SAMPLES, sample_bundle

TYPES = sorted(FIELD_TYPES)
DIALECTS = [sqlite.dialect(), postgresql.dialect()]


def field_of(type_name: str) -> Any:
    return load(sample_bundle()).object("sampled").field(f"f_{type_name}")  # type: ignore[union-attr]


def test_every_registered_type_has_a_sample_and_a_schema() -> None:
    field_schema = schema("field")
    assert sorted(field_schema["properties"]["type"]["enum"]) == TYPES
    assert sorted(field_schema["$defs"]).__contains__("text")
    for name in TYPES:
        assert name in field_schema["$defs"], f"field.json has no $defs/{name}"
        assert name in SAMPLES, f"tests/support/field_samples.py has no sample for {name}"


@pytest.mark.parametrize("type_name", TYPES)
def test_type_identity_and_widget(type_name: str) -> None:
    field_type = FIELD_TYPES[type_name]
    assert isinstance(field_type, FieldType)
    assert field_type.name == type_name
    assert isinstance(field_type.widget, str) and field_type.widget


@pytest.mark.parametrize("type_name", TYPES)
@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_stored_types_have_a_column_type(type_name: str, dialect: sa.Dialect) -> None:
    field_type, defn = FIELD_TYPES[type_name], field_of(type_name)
    if not field_type.stored:
        return
    assert field_type.column_type(defn).compile(dialect=dialect)


@pytest.mark.parametrize("type_name", TYPES)
def test_good_values_round_trip_through_json(type_name: str) -> None:
    field_type, defn = FIELD_TYPES[type_name], field_of(type_name)
    for given, expected in SAMPLES[type_name].good:
        stored = field_type.coerce(given, defn)
        assert field_type.to_json(stored, defn) == expected
        # what we serialise, we accept back unchanged
        assert field_type.coerce(field_type.to_json(stored, defn), defn) == stored


@pytest.mark.parametrize("type_name", TYPES)
def test_bad_values_are_refused_with_a_stable_code(type_name: str) -> None:
    field_type, defn = FIELD_TYPES[type_name], field_of(type_name)
    for given, code in SAMPLES[type_name].bad:
        with pytest.raises(FieldValueError) as caught:
            field_type.coerce(given, defn)
        assert caught.value.code == code, given
        assert caught.value.message


@pytest.mark.parametrize("type_name", TYPES)
@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_every_operator_builds_sql(type_name: str, dialect: sa.Dialect) -> None:
    field_type, defn = FIELD_TYPES[type_name], field_of(type_name)
    if not field_type.stored:
        return
    column = sa.Column("c", field_type.column_type(defn))
    sa.Table("t", sa.MetaData(), column)
    operand = SAMPLES[type_name].operand
    for op, build in field_type.operators.items():
        value = field_type.coerce_operand(op, [operand] if op in ("in", "not_in") else operand, defn)
        expression = build(column, value)
        assert str(expression.compile(dialect=dialect))


@pytest.mark.parametrize("type_name", TYPES)
def test_describe_is_json_ready(type_name: str) -> None:
    import json

    json.dumps(FIELD_TYPES[type_name].describe(field_of(type_name)))


def test_numbers_keep_every_digit_in_json() -> None:
    number = FIELD_TYPES["number"]
    wide = load({"objects": [{"name": "o", "label": "O", "fields": [
        {"name": "n", "label": "N", "type": "number", "precision": 38, "scale": 8}]}]}).object("o").field("n")
    big = number.coerce("123456789012345678901234567890.12345678", wide)
    assert number.to_json(big, wide) == "123456789012345678901234567890.12345678"
    assert number.coerce(number.to_json(big, wide), wide) == big
    assert number.to_json(number.coerce("12.5", wide), wide) == 12.5


@pytest.mark.parametrize("type_name", TYPES)
def test_value_schema_describes_the_json_of_values(type_name: str) -> None:
    """``value_schema`` is a valid JSON Schema that every value's JSON fits: the good samples,
    a new record's value (empty for most types) and a filter operand's value."""
    import json

    import jsonschema

    from rapport.runtime.api.http import dumps

    field_type, defn = FIELD_TYPES[type_name], field_of(type_name)
    value_schema = field_type.value_schema(defn)
    jsonschema.Draft202012Validator.check_schema(value_schema)
    validator = jsonschema.Draft202012Validator(value_schema, format_checker=jsonschema.FormatChecker())
    stored = [field_type.coerce(given, defn) for given, _ in SAMPLES[type_name].good]
    stored.append(field_type.default_value(defn))
    operand = SAMPLES[type_name].operand
    if operand is not None:
        stored.append(field_type.coerce_operand("eq", operand, defn))
    for value in stored:
        sent = json.loads(dumps(field_type.to_json(value, defn)))
        errors = [e.message for e in validator.iter_errors(sent)]
        assert not errors, f"{type_name}: {sent!r} does not fit {value_schema}: {errors}"


def test_value_schema_of_numbers_takes_exact_decimal_text() -> None:
    import jsonschema

    number = FIELD_TYPES["number"]
    wide = load({"objects": [{"name": "o", "label": "O", "fields": [
        {"name": "n", "label": "N", "type": "number", "precision": 38, "scale": 8}]}]}).object("o").field("n")
    validator = jsonschema.Draft202012Validator(number.value_schema(wide))
    big = number.to_json(number.coerce("123456789012345678901234567890.12345678", wide), wide)
    assert isinstance(big, str) and validator.is_valid(big)
    assert not validator.is_valid("12.5")  # text always has every digit of the scale
    assert validator.is_valid(12.5)
