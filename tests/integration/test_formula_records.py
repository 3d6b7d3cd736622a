"""Formulas in use, on SQLite and PostgreSQL: formula fields in records and queries,
validation rules and default formulas in the record pipeline, and formula errors at apply."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from rapport.platform.actor import Actor
from rapport.platform.errors import ValidationFailed
from rapport.runtime.query import QuerySpec
from tests.support.bundles import field, obj, sales_bundle

ANN = Actor("u-ann", "Ann")


def formula_bundle() -> dict[str, Any]:
    bundle = sales_bundle()
    obj(bundle, "account")["soft_delete"] = True
    obj(bundle, "deal")["fields"] += [
        {"name": "weighted", "type": "formula", "return_type": "currency",
         "expression": "amount * probability / 100"},
        {"name": "size", "type": "formula", "expression": 'IF(weighted >= 10000, "large", "small")'},
        {"name": "account_label", "type": "formula",
         "expression": 'account.name & " (" & TEXT(account.industry) & ")"'},
        {"name": "contact_account", "type": "formula", "expression": "primary_contact.account.name"},
        {"name": "overdue", "type": "formula", "expression": "close_date < DATE(2026, 1, 1)"},
        {"name": "pipeline_share", "type": "formula", "scale": 1,
         "expression": "amount / account.open_pipeline * 100"},
        {"name": "reference", "type": "text", "default_formula": '"D-" & TEXT(YEAR(TODAY())) & "-" & $User.name'},
    ]
    field(bundle, "deal", "close_date")["default_formula"] = "TODAY() + 30"
    field(bundle, "deal", "account").update(required=False, on_delete="set_null")
    bundle["validation_rules"] = [
        {"object": "deal", "name": "amount_positive", "error_condition": "amount < 0",
         "message": "Amount must not be negative", "field": "amount"},
        {"object": "deal", "name": "won_needs_amount",
         "error_condition": 'ISPICKVAL(stage, "closed_won") && ISBLANK(amount)',
         "message": "A won deal needs an amount"},
        {"object": "deal", "name": "no_reopen",
         "error_condition": 'ISCHANGED(stage) && PRIORVALUE(stage) = "closed_lost"',
         "message": "A lost deal cannot be reopened", "field": "stage"},
        {"object": "deal", "name": "retail_cap",
         "error_condition": 'TEXT(account.industry) = "retail" && amount > 1000000',
         "message": "Retail deals are capped at 1,000,000", "field": "amount"},
        {"object": "deal", "name": "step_is_number", "error_condition": "ISNEW() && VALUE(next_step) > 100",
         "message": "Next step too far", "field": "next_step", "active": True},
        {"object": "deal", "name": "switched_off", "error_condition": "true", "message": "never", "active": False},
    ]
    return bundle


@pytest.fixture
def sales(org: Any) -> Any:
    org.metadata.apply(formula_bundle(), author="test")
    return org


@pytest.fixture
def acme(sales: Any) -> dict[str, Any]:
    return sales.records(ANN).create("account", {"name": "Acme", "industry": "retail"})


def problems(error: Any) -> list[tuple[str, str, str]]:
    return [(p.pointer, p.code, p.message) for p in error.problems]


# -- formula fields ----------------------------------------------------------------------------

def test_formula_fields_come_back_from_create_get_update_and_lists(sales: Any, acme: dict[str, Any]) -> None:
    records = sales.records(ANN)
    deal = records.create("deal", {"name": "Big", "account": acme["id"], "amount": 50000, "probability": 25})
    assert deal["weighted"] == 12500 and deal["size"] == "large"
    assert deal["account_label"] == "Acme (retail)"
    assert records.get("deal", deal["id"]) == deal
    updated = records.update("deal", deal["id"], {"probability": 10})
    assert updated["weighted"] == 5000 and updated["size"] == "small"
    (listed,) = sales.query(QuerySpec("deal")).records
    assert listed["weighted"] == 5000 and listed["account_label"] == "Acme (retail)"


def test_formula_fields_follow_lookups_two_levels_and_blank_lookups(sales: Any, acme: dict[str, Any]) -> None:
    records = sales.records(ANN)
    contact = records.create("contact", {"last_name": "Lee", "account": acme["id"]})
    with_contact = records.create("deal", {"name": "A", "primary_contact": contact["id"]})
    alone = records.create("deal", {"name": "B"})
    assert with_contact["contact_account"] == "Acme"
    assert alone["contact_account"] is None and alone["account_label"] == " ()"  # blank text joins as empty
    assert alone["weighted"] is None  # blank numbers give a blank result
    records.delete("account", acme["id"])  # soft delete: the looked-up record is gone
    assert records.get("deal", with_contact["id"])["contact_account"] is None


def test_formula_fields_filter_and_sort_in_the_database(sales: Any) -> None:
    records = sales.records(ANN)
    for name, amount in (("a", 100), ("b", 40000), ("c", 90000), ("d", None)):
        records.create("deal", {"name": name, "amount": amount, "probability": 50})
    spec = QuerySpec("deal", fields=("name", "weighted", "size"), sort=("-weighted",),
                     filter={"field": "weighted", "op": "gte", "value": 50})
    result = sales.query(spec)
    assert [(r["name"], r["weighted"], r["size"]) for r in result.records] == [
        ("c", 45000, "large"), ("b", 20000, "large"), ("a", 50, "small")]
    by_text = sales.query(QuerySpec("deal", fields=("name",), filter={"field": "size", "op": "eq", "value": "small"},
                                    sort=("name",)))
    assert [r["name"] for r in by_text.records] == ["a", "d"]
    first = sales.query(QuerySpec("deal", fields=("name",), sort=("weighted",), limit=2))
    second = sales.query(QuerySpec("deal", fields=("name",), sort=("weighted",), limit=2, cursor=first.next_cursor))
    assert [r["name"] for r in first.records + second.records] == ["a", "b", "c", "d"]  # blank sorts last


def test_globals_in_formula_fields_are_the_reading_user(org: Any) -> None:
    bundle = {"objects": [{"name": "note", "label": "Note", "fields": [
        {"name": "body", "type": "text"},
        {"name": "mine", "type": "formula", "expression": "owner = $User.id"},
        {"name": "org_name", "type": "formula", "expression": "$Org.name"}]}]}
    org.metadata.apply(bundle, author="test")
    org.records(ANN).create("note", {"body": "x"})
    assert org.query(QuerySpec("note"), actor=ANN).records[0]["mine"] is True
    other = org.query(QuerySpec("note"), actor=Actor("u-bob", "Bob")).records[0]
    assert other["mine"] is False and other["org_name"] == org.name


def test_formulas_read_roll_ups_of_looked_up_records(sales: Any, acme: dict[str, Any]) -> None:
    records = sales.records(ANN)
    first = records.create("deal", {"name": "a", "account": acme["id"], "amount": 300, "stage": "proposal"})
    assert first["pipeline_share"] == 100
    records.create("deal", {"name": "b", "account": acme["id"], "amount": 600, "stage": "proposal"})
    assert records.get("deal", first["id"])["pipeline_share"] == 33.3  # the roll-up moved; the formula follows
    assert records.create("deal", {"name": "c", "amount": 5})["pipeline_share"] is None  # no account


# -- validation rules ----------------------------------------------------------------------------

def test_a_failing_rule_stops_the_write_at_its_field(sales: Any) -> None:
    records = sales.records(ANN)
    with pytest.raises(ValidationFailed) as caught:
        records.create("deal", {"name": "Bad", "amount": -5})
    assert caught.value.code == "records.validation_failed"
    assert problems(caught.value) == [("/amount", "records.rule_failed", "Amount must not be negative")]
    assert caught.value.problems[0].hint == "validation rule 'amount_positive'"
    assert sales.query(QuerySpec("deal", count=True)).total == 0


def test_every_failing_rule_and_system_error_comes_back_together(sales: Any) -> None:
    records = sales.records(ANN)
    with pytest.raises(ValidationFailed) as caught:
        records.create_many("deal", [
            {"name": "ok", "amount": 10},
            {"amount": -1, "stage": "closed_won"},
            {"name": "won", "stage": "closed_won"},
        ])
    assert [(p, c) for p, c, _ in problems(caught.value)] == [
        ("/1/name", "records.required"),
        ("/1/amount", "records.rule_failed"),
        ("/2", "records.rule_failed"),
    ]
    assert problems(caught.value)[2][2] == "A won deal needs an amount"
    assert sales.query(QuerySpec("deal", count=True)).total == 0


def test_rules_see_the_prior_record_on_update(sales: Any) -> None:
    records = sales.records(ANN)
    deal = records.create("deal", {"name": "x", "stage": "closed_lost"})
    with pytest.raises(ValidationFailed) as caught:
        records.update("deal", deal["id"], {"stage": "prospecting"})
    assert problems(caught.value) == [("/stage", "records.rule_failed", "A lost deal cannot be reopened")]
    assert records.update("deal", deal["id"], {"name": "renamed"})["name"] == "renamed"  # stage unchanged


def test_rules_read_looked_up_records(sales: Any, acme: dict[str, Any]) -> None:
    records = sales.records(ANN)
    other = records.create("account", {"name": "Globex", "industry": "technology"})
    assert records.create("deal", {"name": "ok", "account": other["id"], "amount": 2_000_000})["amount"] == 2_000_000
    with pytest.raises(ValidationFailed) as caught:
        records.create_many("deal", [{"name": "a", "account": acme["id"], "amount": 2_000_000},
                                     {"name": "b", "account": other["id"], "amount": 2_000_000}])
    assert problems(caught.value) == [("/0/amount", "records.rule_failed", "Retail deals are capped at 1,000,000")]


def test_rules_see_a_soft_deleted_looked_up_record_as_absent(sales: Any, acme: dict[str, Any]) -> None:
    records = sales.records(ANN)
    deal = records.create("deal", {"name": "a", "account": acme["id"], "amount": 10})
    records.delete("account", acme["id"])  # soft delete: formula fields and rules no longer see it
    assert records.update("deal", deal["id"], {"amount": 2_000_000})["amount"] == 2_000_000


def test_a_rule_without_an_answer_is_a_record_error_naming_the_rule(sales: Any) -> None:
    records = sales.records(ANN)
    assert records.create("deal", {"name": "n", "next_step": "42"})["next_step"] == "42"
    with pytest.raises(ValidationFailed) as caught:
        records.create("deal", {"name": "n", "next_step": "call Ann"})
    ((pointer, code, message),) = problems(caught.value)
    assert (pointer, code) == ("/next_step", "records.formula_error")
    assert message == ("validation rule 'step_is_number' on object 'deal' cannot be evaluated for this record: "
                       "'call Ann' is not a number")


# -- default formulas ------------------------------------------------------------------------------

def test_default_formulas_fill_fields_the_caller_left_out(sales: Any) -> None:
    records = sales.records(ANN)
    deal = records.create("deal", {"name": "x"})
    assert deal["close_date"] == (date.today() + timedelta(days=30)).isoformat()
    assert deal["reference"] == f"D-{date.today().year}-Ann"
    given = records.create("deal", {"name": "y", "close_date": "2026-05-01", "reference": "mine"})
    assert given["close_date"] == "2026-05-01" and given["reference"] == "mine"
    assert records.create("deal", {"name": "z", "close_date": None})["close_date"] is None
    later = records.update("deal", deal["id"], {"close_date": None})
    assert later["close_date"] is None  # only on create


def test_a_default_formula_that_does_not_fit_is_an_error_at_its_field(org: Any) -> None:
    bundle = {"objects": [{"name": "task", "label": "Task", "fields": [
        {"name": "code", "type": "text", "max_length": 3, "default_formula": '"ABCDE"'},
        {"name": "due", "type": "date", "default_formula": 'DATEVALUE("2026-02-30")'}]}]}
    org.metadata.apply(bundle, author="test")
    with pytest.raises(ValidationFailed) as caught:
        org.records(ANN).create("task", {})
    assert [(p, c) for p, c, _ in problems(caught.value)] == [
        ("/code", "records.too_long"), ("/due", "records.formula_error")]


# -- formulas that do not check never reach the database -----------------------------------

def test_a_bad_formula_is_refused_at_apply_with_its_position(sales: Any) -> None:
    bundle = formula_bundle()
    field(bundle, "deal", "weighted")["expression"] = "amount * probabilty / 100"
    bundle["validation_rules"][0]["error_condition"] = "amount <"
    before = sales.metadata.revisions()
    with pytest.raises(ValidationFailed) as caught:
        sales.metadata.apply(bundle, author="test")
    found = {(p.pointer, p.code): p for p in caught.value.problems}
    weighted = next(p for (pointer, _), p in found.items() if pointer.endswith("/expression"))
    assert weighted.code == "formula.unknown_field"
    assert "line 1, column 10: object 'deal' has no field 'probabilty'; did you mean 'probability'?" in weighted.message
    assert weighted.hint == "amount * probabilty / 100\n         ^"
    assert ("/validation_rules/0/error_condition", "formula.syntax_error") in found
    assert sales.metadata.revisions() == before


def test_the_largest_formulas_the_checker_allows_run_in_the_database(org: Any) -> None:
    deep = "MID(" * 28 + "t" + ", 1, 50)" * 28  # MID is among the deepest in SQL; 29 levels with the field's own
    bundle = {"objects": [{"name": "thing", "label": "Thing", "fields": [
        {"name": "t", "type": "text"},
        {"name": "joined", "type": "formula", "expression": " & ".join(["t"] * 300)},
        {"name": "deep", "type": "formula", "expression": deep}]}]}
    org.metadata.apply(bundle, author="test")
    created = org.records(ANN).create("thing", {"t": "ab"})
    assert created["joined"] == "ab" * 300 and created["deep"] == "ab"
    (listed,) = org.query(QuerySpec("thing", filter={"field": "deep", "op": "eq", "value": "ab"})).records
    assert listed["joined"] == "ab" * 300


def test_renaming_a_field_a_formula_uses_needs_the_formula_changed_in_the_same_bundle(sales: Any) -> None:
    bundle = formula_bundle()
    field(bundle, "deal", "amount").update(name="value", renamed_from="amount")
    for rule in bundle["validation_rules"]:  # the references that are not formulas
        if rule.get("field") == "amount":
            rule["field"] = "value"
    field(bundle, "account", "open_pipeline")["field"] = "value"
    for layout in bundle["layouts"]:
        for section in layout["sections"]:
            section["fields"] = ["value" if f == "amount" else f for f in section["fields"]]
        for related in layout.get("related_lists", []):
            related["columns"] = ["value" if c == "amount" else c for c in related["columns"]]
    view = bundle["list_views"][0]
    view["columns"] = ["value" if c == "amount" else c for c in view["columns"]]
    view["sort"] = ["-value" if s == "-amount" else s for s in view["sort"]]
    with pytest.raises(ValidationFailed) as caught:
        sales.metadata.apply(bundle, author="test")
    assert {(p.code, p.message.split(":")[0]) for p in caught.value.problems} >= {
        ("formula.unknown_field", "formula field 'deal.weighted'"),
        ("formula.unknown_field", "validation rule 'deal.amount_positive'")}
    for formula in (field(bundle, "deal", "weighted"), field(bundle, "deal", "pipeline_share"),
                    field(bundle, "deal", "weighted_amount")):
        formula["expression"] = formula["expression"].replace("amount", "value")
    for rule in bundle["validation_rules"]:
        rule["error_condition"] = rule["error_condition"].replace("amount", "value")
    sales.metadata.apply(bundle, author="test")
    deal = sales.records(ANN).create("deal", {"name": "x", "value": 100, "probability": 50})
    assert deal["weighted"] == 50
