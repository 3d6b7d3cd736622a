"""Checks only the runtime can make when metadata is saved: filters, roll-ups, formulas, defaults."""

from __future__ import annotations

from typing import Any

import pytest

from rapport.platform.errors import ValidationFailed
from rapport.runtime.loading import load
from tests.support.bundles import make_object, minimal, sales_bundle


def problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as caught:
        load(data)
    assert caught.value.code == "metadata.invalid"
    return [(p.pointer, p.code) for p in caught.value.problems]


def test_list_view_filters_are_compiled_when_saved() -> None:
    bundle = sales_bundle()
    bundle["list_views"][0]["filter"] = {"and": [{"field": "no_such_field", "op": "eq", "value": 1},
                                                 {"field": "amount", "op": "between", "value": 1}]}
    assert problems(bundle) == [("/list_views/0/filter/and/0/field", "query.unknown_field"),
                                ("/list_views/0/filter/and/1/op", "query.bad_operator")]
    bundle["list_views"][0]["filter"] = {"field": "account.industry", "op": "eq", "value": "retail"}
    assert load(bundle).list_views[0].filter["field"] == "account.industry"


def test_roll_ups_summarise_fields_that_can_be_summarised() -> None:
    child = make_object("line", {"name": "order", "label": "O", "type": "master_detail", "target": "order"},
                        {"name": "note", "label": "N", "type": "text"},
                        {"name": "qty", "label": "Q", "type": "integer"})
    rollup = {"name": "total", "label": "T", "type": "rollup", "child_object": "line", "relationship_field": "order",
              "function": "sum", "field": "note"}
    data = minimal(make_object("order", rollup), child)
    assert problems(data) == [("/objects/0/fields/0/function", "metadata.invalid")]
    rollup.update(field="qty", filter={"field": "qty", "op": "gt", "value": "many"})
    assert problems(data) == [("/objects/0/fields/0/filter/value", "query.bad_operand")]
    rollup["filter"] = {"field": "qty", "op": "gt", "value": 0}
    assert load(data).object("order").field("total").function == "sum"


def test_formulas_are_computed_so_they_take_no_storage_flags() -> None:
    formula = {"name": "f", "label": "F", "type": "formula", "return_type": "number", "expression": "1",
               "unique": True, "required": True}
    assert sorted(problems(minimal(make_object("t", formula)))) == [
        ("/objects/0/fields/0/required", "metadata.invalid"), ("/objects/0/fields/0/unique", "metadata.invalid")]


def test_picklist_defaults_must_be_active_and_usable() -> None:
    values = [{"value": "open", "label": "Open", "default": True, "active": False}, {"value": "won", "label": "Won"}]
    picklist = {"name": "stage", "label": "Stage", "type": "picklist", "values": values}
    assert problems(minimal(make_object("deal", picklist))) == [
        ("/objects/0/fields/0/values/0/default", "metadata.invalid")]
    several = [{"value": "a", "label": "A", "default": True}, {"value": "b", "label": "B", "default": True}]
    multi = load(minimal(make_object("t", {"name": "m", "label": "M", "type": "multipicklist", "values": several})))
    from rapport.runtime.fields import FIELD_TYPES

    field = multi.object("t").field("m")
    assert FIELD_TYPES["multipicklist"].default_value(field) == ";a;b;"


def test_autonumber_start_is_bounded() -> None:
    number = {"name": "n", "label": "N", "type": "autonumber", "format": "X-{0}", "start": 10**20}
    assert problems(minimal(make_object("t", number))) == [("/objects/0/fields/0/start", "metadata.out_of_range")]
