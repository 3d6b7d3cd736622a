"""Roll-up definitions as the runtime loads them: derived return types, filters, chains."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from rapport.platform.errors import ValidationFailed
from rapport.runtime.fields import FIELD_TYPES
from rapport.runtime.loading import load
from rapport.runtime.rollup_definitions import MAX_CHAIN, chain_levels
from tests.support.bundles import make_object, minimal


def problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as caught:
        load(data)
    return [(p.pointer, p.code) for p in caught.value.problems]


def rollup(name: str, function: str, field: str | None = None, **options: Any) -> dict[str, Any]:
    defn = {"name": name, "label": name, "type": "rollup", "child_object": "line", "relationship_field": "order",
            "function": function, **options}
    if field:
        defn["field"] = field
    return defn


def orders(*rollups: dict[str, Any], line_fields: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    line = make_object("line", {"name": "order", "label": "O", "type": "master_detail", "target": "order"},
                       {"name": "qty", "label": "Q", "type": "integer"},
                       {"name": "price", "label": "P", "type": "currency"},
                       {"name": "rate", "label": "R", "type": "number", "precision": 10, "scale": 4},
                       {"name": "shipped", "label": "S", "type": "date"},
                       {"name": "at", "label": "A", "type": "datetime"},
                       {"name": "note", "label": "N", "type": "text"},
                       {"name": "twice", "label": "T", "type": "formula", "return_type": "number",
                        "expression": "qty * 2"},
                       *line_fields)
    return minimal(make_object("order", *rollups), line)


def test_return_types_follow_what_is_summarised() -> None:
    bundle = load(orders(rollup("n", "count"), rollup("q", "sum", "qty"), rollup("p", "sum", "price"),
                         rollup("r", "max", "rate"), rollup("d", "min", "shipped"), rollup("t", "max", "at"),
                         rollup("c", "count", "note")))
    order = bundle.object("order")
    assert order is not None
    found = {f.name: (f.return_type, f.scale) for f in order.fields}
    assert found == {"n": ("integer", None), "q": ("number", 0), "p": ("currency", 2), "r": ("number", 4),
                     "d": ("date", None), "t": ("datetime", None), "c": ("integer", None)}
    columns = {f.name: FIELD_TYPES[f.type].column_type(f) for f in order.fields}
    assert isinstance(columns["n"], sa.BigInteger) and isinstance(columns["d"], sa.Date)
    assert (columns["p"].precision, columns["p"].scale) == (38, 2)  # type: ignore[attr-defined]
    # filled in, not written out: a stored bundle says only what its author said
    assert "return_type" not in order.field("p").to_dict()  # type: ignore[union-attr]
    rollup_type, p = FIELD_TYPES["rollup"], order.field("p")
    assert rollup_type.to_json(rollup_type.coerce("12.50", p), p) == 12.5  # type: ignore[arg-type]
    d = order.field("d")
    assert rollup_type.to_json(rollup_type.coerce("2026-01-31", d), d) == "2026-01-31"  # type: ignore[arg-type]
    assert rollup_type.default_value(p) == 0 and rollup_type.default_value(d) is None  # type: ignore[arg-type]


def test_a_given_return_type_must_agree() -> None:
    assert load(orders(rollup("q", "sum", "price", return_type="currency", scale=2))).object("order")\
        .field("q").to_dict()["return_type"] == "currency"  # type: ignore[union-attr]
    assert problems(orders(rollup("q", "sum", "price", return_type="integer"), rollup("n", "count", scale=2))) == [
        ("/objects/0/fields/0/return_type", "metadata.invalid"), ("/objects/0/fields/1/scale", "metadata.invalid")]
    with pytest.raises(ValidationFailed) as caught:
        load(orders(rollup("q", "sum", "price", return_type="integer")))
    assert caught.value.problems[0].message == (
        "roll-up 'order.q' takes the sum of 'line.price', so its return_type is 'currency', not 'integer'; "
        "leave return_type out and it is filled in")


def test_filters_name_only_stored_fields_of_the_child_itself() -> None:
    dotted = rollup("n", "count", filter={"and": [{"field": "qty", "op": "gt", "value": 0},
                                                  {"field": "order.id", "op": "eq", "value": "x"}]})
    formula = rollup("m", "count", filter={"not": {"field": "twice", "op": "is_null", "value": True}})
    assert problems(orders(dotted, formula, rollup("s", "count", "twice"))) == [
        ("/objects/0/fields/0/filter/and/1/field", "metadata.invalid"),
        ("/objects/0/fields/1/filter/not/field", "metadata.invalid"),
        ("/objects/0/fields/2/field", "metadata.invalid")]
    with pytest.raises(ValidationFailed) as caught:
        load(orders(dotted))
    assert caught.value.problems[0].message == (
        "the filter of roll-up 'order.n' can name only fields of 'line' itself, not 'order.id': a change there "
        "is no write of a 'line' record, so the roll-up would go stale")


def test_roll_ups_of_roll_ups_are_typed_by_the_inner_one_and_must_fit_it() -> None:
    line = make_object("line", {"name": "order", "label": "O", "type": "master_detail", "target": "order"},
                       {"name": "day", "label": "D", "type": "date"})
    order = make_object("order", {"name": "customer", "label": "C", "type": "lookup", "target": "customer"},
                        rollup("first", "min", "day"), rollup("lines", "count"))
    customer = make_object("customer", {"name": "first", "label": "F", "type": "rollup", "child_object": "order",
                                        "relationship_field": "customer", "function": "min", "field": "first"},
                           {"name": "lines", "label": "L", "type": "rollup", "child_object": "order",
                            "relationship_field": "customer", "function": "sum", "field": "lines"})
    bundle = load(minimal(customer, order, line))
    assert [(f.name, f.return_type) for f in bundle.object("customer").fields] == [  # type: ignore[union-attr]
        ("first", "date"), ("lines", "number")]  # a sum of counts: numeric(38, 0)
    assert chain_levels(bundle) == {("customer", "first"): 2, ("customer", "lines"): 2, ("order", "first"): 1,
                                    ("order", "lines"): 1}
    customer["fields"][0]["function"] = "sum"  # a sum of dates
    assert problems(minimal(customer, order, line)) == [("/objects/0/fields/0/function", "metadata.invalid")]


def test_circles_and_too_deep_chains_are_refused() -> None:
    a = make_object("a", {"name": "b", "label": "B", "type": "lookup", "target": "b"},
                    {"name": "n", "label": "N", "type": "rollup", "child_object": "b", "relationship_field": "a",
                     "function": "count", "filter": {"field": "n", "op": "gt", "value": 0}})
    b = make_object("b", {"name": "a", "label": "A", "type": "lookup", "target": "a"},
                    {"name": "n", "label": "N", "type": "rollup", "child_object": "a", "relationship_field": "b",
                     "function": "sum", "field": "n"})
    found = problems(minimal(a, b))
    assert ("metadata.rollup_cycle" in {code for _, code in found})
    objects = [make_object(f"o{i}", {"name": "up", "label": "U", "type": "lookup", "target": f"o{i + 1}"},
                           {"name": "v", "label": "V", "type": "integer"} if i == 0 else
                           {"name": "v", "label": "V", "type": "rollup", "child_object": f"o{i - 1}",
                            "relationship_field": "up", "function": "sum", "field": "v"})
               for i in range(MAX_CHAIN + 2)]
    objects[-1]["fields"] = objects[-1]["fields"][1:]  # the top has no parent
    found = problems(minimal(*objects))
    assert ("metadata.rollup_too_deep" in {code for _, code in found})
    objects = objects[:MAX_CHAIN + 1]
    objects[-1]["fields"] = objects[-1]["fields"][1:]
    assert max(chain_levels(load(minimal(*objects))).values()) == MAX_CHAIN
