"""Every registered field type, through the database on SQLite and PostgreSQL: a value written
by the record service reads back as the same JSON, and every filter operator of the type
finds (or leaves out) that record as it should."""

from __future__ import annotations

from typing import Any

import pytest

from rapport.runtime.fields import FIELD_TYPES
from rapport.runtime.query import QuerySpec
from tests.support.field_samples import SAMPLES, sample_bundle

#: what each operator should say about a record when given that record's own value
SAME_VALUE_MATCHES = {"eq": True, "ne": False, "lt": False, "gt": False, "lte": True, "gte": True,
                      "in": True, "not_in": False, "contains": True, "starts_with": True, "not_contains": False}


@pytest.fixture
def sampled(org: Any) -> tuple[Any, dict[str, Any]]:
    org.metadata.apply(sample_bundle(), author="t")
    target = org.records().create("target", {"name": "T"})
    values: dict[str, Any] = {}
    for type_name, sample in SAMPLES.items():
        field_type = FIELD_TYPES[type_name]
        if not field_type.writable:
            continue
        if sample.options.get("target"):
            values[f"f_{type_name}"] = target["id"]
        else:
            values[f"f_{type_name}"] = next(given for given, expected in sample.good if expected not in (None, []))
    record = org.records().create("sampled", values)
    return org, record


def expected_json(type_name: str, record: dict[str, Any]) -> Any:
    sample = SAMPLES[type_name]
    if sample.options.get("target"):
        return record[f"f_{type_name}"]
    return next(expected for _, expected in sample.good if expected not in (None, []))


@pytest.mark.parametrize("type_name", [t for t in sorted(FIELD_TYPES) if FIELD_TYPES[t].writable])
def test_a_written_value_reads_back_as_the_same_json(sampled: tuple[Any, dict[str, Any]], type_name: str) -> None:
    org, record = sampled
    assert record[f"f_{type_name}"] == expected_json(type_name, record)
    stored = org.records().get("sampled", record["id"])
    assert stored[f"f_{type_name}"] == expected_json(type_name, record)
    listed = org.query(QuerySpec("sampled", fields=(f"f_{type_name}",))).records[0]
    assert listed[f"f_{type_name}"] == expected_json(type_name, record)


@pytest.mark.parametrize("type_name", [t for t in sorted(FIELD_TYPES)
                                       if FIELD_TYPES[t].stored and FIELD_TYPES[t].writable])
def test_every_operator_finds_what_it_should(sampled: tuple[Any, dict[str, Any]], type_name: str) -> None:
    org, record = sampled
    path, value = f"f_{type_name}", record[f"f_{type_name}"]
    for op in FIELD_TYPES[type_name].operators:
        operand: Any = value
        if op in ("in", "not_in"):
            operand = [value]
        elif op in ("contains", "not_contains") and isinstance(value, list):
            operand = value[0]
        found = org.query(QuerySpec("sampled", filter={"field": path, "op": op, "value": operand})).records
        assert bool(found) is SAME_VALUE_MATCHES[op], (type_name, op, operand)
    for blank, matches in ((True, False), (False, True)):
        found = org.query(QuerySpec("sampled", filter={"field": path, "op": "is_null", "value": blank})).records
        assert bool(found) is matches, (type_name, "is_null", blank)
