"""One sample per registered field type: its options, good inputs with their JSON, bad inputs.

The contract tests run every registered type through these; a new type without a sample
fails them, so it cannot be registered untested.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Sample:
    options: dict[str, Any] = field(default_factory=dict)
    good: tuple[tuple[Any, Any], ...] = ()  # (input, expected JSON)
    bad: tuple[tuple[Any, str], ...] = ()  # (input, error code)
    operand: Any = None  # a value for the eq filter


PICKS = {"values": [{"value": "red", "label": "Red"}, {"value": "green", "label": "Green"},
                    {"value": "old", "label": "Old", "active": False}]}

SAMPLES: dict[str, Sample] = {
    "text": Sample({"max_length": 10}, (("hello", "hello"), ("", None), (12, "12")),
                   (("x" * 11, "records.too_long"), ({"a": 1}, "records.wrong_type"), (True, "records.wrong_type"),
                    ("nul\x00", "records.bad_character"), ("\ud800", "records.bad_character")),
                   "hello"),
    "textarea": Sample({}, (("line 1\nline 2", "line 1\nline 2"),), (([1], "records.wrong_type"),), "x"),
    "email": Sample({}, (("ann@example.com", "ann@example.com"), (" bo@x.io ", "bo@x.io")),
                    (("not-an-email", "records.bad_format"),), "ann@example.com"),
    "phone": Sample({}, (("+44 20 7946 0958", "+44 20 7946 0958"),), (("call me", "records.bad_format"),), "123"),
    "url": Sample({}, (("https://example.com/a", "https://example.com/a"),),
                  (("ftp://x", "records.bad_format"), ("example.com", "records.bad_format")), "https://x.io"),
    "integer": Sample({"min": 0, "max": 1000}, ((5, 5), ("7", 7), (3.0, 3)),
                      ((1.5, "records.not_whole"), (-1, "records.out_of_range"), ("abc", "records.wrong_type"),
                       (True, "records.wrong_type"), (float("inf"), "records.wrong_type"),
                       ("1e99999999", "records.out_of_range")), 5),
    "number": Sample({"precision": 10, "scale": 3}, ((1.2345, 1.235), ("2.5", 2.5), (7, 7.0)),
                     (("x", "records.wrong_type"), (10**8, "records.out_of_range"), ("NaN", "records.wrong_type"),
                      ("1e30", "records.out_of_range"), (1e308, "records.out_of_range"),
                      (float("nan"), "records.wrong_type")),
                     2.5),
    "currency": Sample({}, ((19.99, 19.99), ("1,000.50", 1000.5)), (("$5", "records.wrong_type"),), 19.99),
    "percent": Sample({}, ((12.5, 12.5),), (("12%", "records.wrong_type"),), 12.5),
    "boolean": Sample({}, ((True, True), ("false", False), (None, False), (1, True)),
                      (("maybe", "records.wrong_type"), (2, "records.wrong_type")), True),
    "date": Sample({}, (("2026-01-31", "2026-01-31"),),
                   (("31/01/2026", "records.wrong_type"), (5, "records.wrong_type")),
                   "2026-01-31"),
    "datetime": Sample({}, (("2026-01-31T09:30:00Z", "2026-01-31T09:30:00Z"),
                            ("2026-01-31T10:30:00+01:00", "2026-01-31T09:30:00Z")),
                       (("yesterday", "records.wrong_type"), ("9999-12-31T23:59:59-10:00", "records.out_of_range")),
                       "2026-01-31T09:30:00Z"),
    "time": Sample({}, (("14:30", "14:30:00"), ("09:05:10", "09:05:10")), (("25:00", "records.wrong_type"),), "14:30"),
    "picklist": Sample(PICKS, (("red", "red"), ("", None)),
                       (("blue", "records.not_in_picklist"), ("old", "records.not_in_picklist"),
                        (3, "records.wrong_type")), "red"),
    "multipicklist": Sample(PICKS, ((["green", "red"], ["red", "green"]), ("red;green", ["red", "green"]), ([], [])),
                            ((["red", "blue"], "records.not_in_picklist"), (5, "records.wrong_type")), "red"),
    "lookup": Sample({"target": "target"}, (), ((5, "records.wrong_type"), ("\ud800", "records.wrong_type")), "x"),
    "master_detail": Sample({"target": "target"}, (), ((["a"], "records.wrong_type"),), "x"),
    "formula": Sample({"return_type": "number", "expression": "1 + 1"}, (), ((1, "records.read_only"),)),
    "rollup": Sample({"child_object": "child", "relationship_field": "parent", "function": "count"}, (),
                     (("many", "records.wrong_type"),), 3),
    "autonumber": Sample({"format": "INV-{0000}"}, (), ((5, "records.wrong_type"),), "INV-0001"),
}


def sample_bundle() -> dict[str, Any]:
    """A bundle with one field of every type on object ``sampled``."""
    fields = []
    for type_name, sample in SAMPLES.items():
        fields.append({"name": f"f_{type_name}", "label": type_name, "type": type_name, **sample.options})
    rollup = next(f for f in fields if f["type"] == "rollup")
    rollup["child_object"] = "child"
    return {"objects": [
        {"name": "target", "label": "Target", "fields": [{"name": "name", "label": "Name", "type": "text"}]},
        {"name": "sampled", "label": "Sampled", "fields": fields},
        {"name": "child", "label": "Child", "fields": [
            {"name": "parent", "label": "Parent", "type": "lookup", "target": "sampled"}]},
    ]}
