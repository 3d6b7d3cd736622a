"""load_bundle: JSON Schema problems, the frozen model with defaults, semantic checks."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any
from collections.abc import Iterable, Mapping

import pytest

from rapport.metadata import (
    SCHEMA_NAMES, Bundle, Component, FieldDef, ListView, ObjectDef, OnDelete, PicklistValue,
    Sharing, SortKey, load_bundle, schema,
)
from rapport.platform.errors import NotFound, Problem, ValidationFailed

FIELD_TYPES = (
    "text", "textarea", "email", "phone", "url", "integer", "number", "currency", "percent",
    "boolean", "date", "datetime", "time", "picklist", "multipicklist", "lookup",
    "master_detail", "formula", "rollup", "autonumber",
)
DEFAULTS: dict[str, dict[str, Any]] = {
    "text": {"max_length": 255},
    "currency": {"precision": 18, "scale": 2},
    "picklist": {"restricted": True},
    "multipicklist": {"restricted": True},
    "lookup": {"on_delete": "set_null"},
    "autonumber": {"start": 1},
}


@dataclasses.dataclass
class FakeType:
    """A FieldTypeSpec-shaped stand-in for the runtime's field-type registry."""

    name: str
    defaults: Mapping[str, Any]

    def check(self, field: FieldDef, obj: ObjectDef, bundle: Bundle, at: str) -> Iterable[Problem]:
        if field.target is not None and bundle.object(field.target) is None:
            yield Problem(at + "/target", "metadata.unknown_object",
                          f"field {field.name!r}: no object {field.target!r}")


REGISTRY = {name: FakeType(name, DEFAULTS.get(name, {})) for name in FIELD_TYPES}

SALES: dict[str, Any] = {
    "objects": [
        {"name": "account", "label": "Account", "name_field": "name", "sharing": "public_read",
         "fields": [{"name": "name", "label": "Name", "type": "text", "required": True},
                    {"name": "industry", "type": "picklist",
                     "values": [{"value": "tech", "label": "Technology"}, {"value": "retail"}]}]},
        {"name": "contact", "label": "Contact", "fields": [
            {"name": "last_name", "label": "Last name", "type": "text", "max_length": 80},
            {"name": "email", "label": "Email", "type": "email"},
            {"name": "account", "label": "Account", "type": "lookup", "target": "account"},
        ]},
        {"name": "deal", "label": "Deal", "plural_label": "Deals", "name_field": "title", "fields": [
            {"name": "title", "label": "Title", "type": "text"},
            {"name": "number", "label": "Number", "type": "autonumber", "format": "D-{0000}"},
            {"name": "stage", "label": "Stage", "type": "picklist", "values": [
                {"value": "open", "label": "Open", "default": True},
                {"value": "won", "label": "Won"},
                {"value": "lost", "label": "Lost", "active": False}]},
            {"name": "amount", "label": "Amount", "type": "currency"},
            {"name": "close_date", "type": "date"},
            {"name": "account", "label": "Account", "type": "lookup", "target": "account",
             "on_delete": "restrict"},
        ]},
    ],
    "layouts": [{"object": "deal", "name": "default", "sections": [
        {"label": "Deal", "columns": 2, "fields": ["title", {"field": "stage", "required": True}, "owner"]}],
        "related_lists": []}],
    "list_views": [{"object": "deal", "name": "open_deals", "label": "Open deals",
                    "columns": ["title", "account.name", "amount"],
                    "filter": {"stage": {"eq": "open"}}, "sort": ["-close_date", "title"]}],
    "validation_rules": [{"object": "deal", "name": "amount_positive", "error_condition": "amount < 0",
                          "message": "Amount must not be negative", "field": "amount"}],
    "workflow_rules": [{"object": "deal", "name": "won", "trigger": "create_or_update_to_meet",
                        "condition": "stage = \"won\"", "actions": [{"type": "email", "to": "owner"}],
                        "time_triggers": [{"offset": "3d", "relative_to": "close_date",
                                           "actions": [{"type": "webhook", "url": "https://x"}]}]}],
    "scripts": [{"name": "nightly", "kind": "scheduled", "schedule": "0 2 * * *", "code": "pass"},
                {"name": "stamp", "object": "deal", "kind": "before_save", "code": "pass"}],
}


def sales(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(SALES)
    data.update(changes)
    return data


def problems_of(data: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationFailed) as caught:
        load_bundle(data, field_types=REGISTRY)
    assert caught.value.code == "metadata.invalid"
    return [(p.pointer, p.code) for p in caught.value.problems]


def only_problem(data: Any) -> Problem:
    with pytest.raises(ValidationFailed) as caught:
        load_bundle(data, field_types=REGISTRY)
    assert len(caught.value.problems) == 1, caught.value.problems
    return caught.value.problems[0]


def deal_field(field: dict[str, Any]) -> dict[str, Any]:
    return {"objects": [{"name": "deal", "label": "Deal", "fields": [field]}]}


# -- a valid bundle -----------------------------------------------------------------------

def test_valid_bundle_loads_into_frozen_model_with_defaults() -> None:
    bundle = load_bundle(SALES, field_types=REGISTRY)
    assert bundle.object_names() == ("account", "contact", "deal")
    account, contact, deal = bundle.objects
    assert account.sharing is Sharing.PUBLIC_READ and account.plural_label == "Accounts"
    assert deal.plural_label == "Deals" and deal.name_field == "title"
    assert deal.field("title").max_length == 255            # text default
    assert contact.field("last_name").max_length == 80      # set value wins
    assert deal.field("amount").precision == 18 and deal.field("amount").scale == 2
    assert deal.field("stage").restricted is True
    assert deal.field("stage").values[0] == PicklistValue("open", "Open", default=True)
    assert deal.field("stage").values[2].active is False
    assert account.field("industry").values[1] == PicklistValue("retail", "retail")
    assert deal.field("account").on_delete is OnDelete.RESTRICT
    assert contact.field("account").on_delete is OnDelete.SET_NULL
    assert deal.field("close_date").label == "Close date"
    assert deal.field("number").start == 1 and deal.field("number").format == "D-{0000}"
    assert bundle.list_views[0] == ListView(
        object="deal", name="open_deals", label="Open deals",
        columns=("title", "account.name", "amount"), filter={"stage": {"eq": "open"}},
        sort=(SortKey("close_date", descending=True), SortKey("title")))
    item = bundle.layouts[0].sections[0].fields[1]
    assert (item.field, item.required, item.readonly) == ("stage", True, False)
    rule = bundle.validation_rules[0]
    assert isinstance(rule, Component) and rule.key == "deal.amount_positive"
    assert rule.kind == "validation_rules" and rule.get("field") == "amount"
    assert [k for k, _ in rule.body] == sorted(k for k, _ in rule.body)
    assert bundle.scripts[0].object is None and bundle.scripts[1].key == "deal.stamp"
    with pytest.raises(dataclasses.FrozenInstanceError):
        deal.name = "x"  # type: ignore[misc]


def test_empty_bundle_and_namespaced_names_load() -> None:
    assert load_bundle({}, field_types=REGISTRY) == Bundle()
    data = {"objects": [{"name": "acme__invoice", "label": "Invoice", "fields": [
        {"name": "acme__risk_score", "label": "Risk", "type": "integer", "min": 0}]}]}
    assert load_bundle(data, field_types=REGISTRY).objects[0].fields[0].min == 0


def test_schemas_are_available_by_name() -> None:
    assert "field" in SCHEMA_NAMES
    field = schema("field")
    assert field["$id"] == "https://rapport.dev/schemas/field.json"
    assert field["properties"]["type"]["enum"] == list(FIELD_TYPES)
    assert set(field["$defs"]) == set(FIELD_TYPES)
    field["$id"] = "changed"
    assert schema("field")["$id"] == "https://rapport.dev/schemas/field.json"
    with pytest.raises(NotFound) as caught:
        schema("nope")
    assert caught.value.code == "metadata.schema_not_found"


# -- malformed input ----------------------------------------------------------------------

@pytest.mark.parametrize("data", [[], "objects", 3, None])
def test_not_an_object(data: Any) -> None:
    problem = only_problem(data)
    assert (problem.pointer, problem.code) == ("", "metadata.not_an_object")


def test_unknown_top_level_key() -> None:
    problem = only_problem({"objects": [], "triggers": []})
    assert (problem.pointer, problem.code) == ("/triggers", "metadata.unknown_key")
    assert "'triggers'" in problem.message and "'validation_rules'" in problem.message


def test_unknown_field_key() -> None:
    problem = only_problem(deal_field({"name": "title", "type": "text", "colour": "red"}))
    assert (problem.pointer, problem.code) == ("/objects/0/fields/0/colour", "metadata.unknown_key")
    assert problem.message.startswith("field 'title' of object 'deal': unknown key 'colour'")


def test_option_of_another_type_is_unknown() -> None:
    problem = only_problem(deal_field({"name": "active", "type": "boolean", "max_length": 3}))
    assert (problem.pointer, problem.code) == ("/objects/0/fields/0/max_length", "metadata.unknown_key")
    assert "for type 'boolean'" in problem.message


def test_unknown_field_type_lists_allowed_types_without_echoes() -> None:
    problem = only_problem(deal_field({"name": "stage", "type": "pickles", "values": []}))
    assert (problem.pointer, problem.code) == ("/objects/0/fields/0/type", "metadata.not_allowed")
    assert problem.message.startswith(
        "field 'stage' of object 'deal': type 'pickles' is not one of 'text', 'textarea', 'email',")
    assert problem.message.endswith("'rollup', 'autonumber'")


def test_failing_option_does_not_make_its_siblings_unknown() -> None:
    problem = only_problem(deal_field({"name": "stage", "type": "picklist", "values": [],
                                       "restricted": False}))
    assert (problem.pointer, problem.code) == ("/objects/0/fields/0/values", "metadata.out_of_range")


@pytest.mark.parametrize("name", ["Deal", "_x", "x_", "a__", "__a", "a__b__c", "1a", "x" * 41, "a-b"])
def test_bad_names(name: str) -> None:
    problem = only_problem({"objects": [{"name": name, "label": "X"}]})
    assert (problem.pointer, problem.code) == ("/objects/0/name", "metadata.bad_name")
    assert "not a valid API name" in problem.message and "at most 40 characters" in problem.message


@pytest.mark.parametrize("path, value, pointer", [
    (("objects", 0, "label"), 5, "/objects/0/label"),
    (("objects", 0, "fields"), {}, "/objects/0/fields"),
    (("objects", 0, "fields", 0, "required"), "yes", "/objects/0/fields/0/required"),
    (("layouts",), {"object": "deal"}, "/layouts"),
    (("list_views", 0, "columns"), "title", "/list_views/0/columns"),
])
def test_wrong_types(path: tuple[Any, ...], value: Any, pointer: str) -> None:
    data = sales()
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    problem = only_problem(data)
    assert (problem.pointer, problem.code) == (pointer, "metadata.wrong_type")
    assert "must be" in problem.message and ", got " in problem.message


def test_wrong_type_message() -> None:
    problem = only_problem(deal_field({"name": "title", "type": "text", "required": "yes"}))
    assert problem.message == ("field 'title' of object 'deal': required must be true or false, "
                               "got a string ('yes')")


@pytest.mark.parametrize("field, pointer, code", [
    ({"name": "t", "type": "text", "max_length": 256}, "/max_length", "metadata.out_of_range"),
    ({"name": "t", "type": "textarea", "max_length": 0}, "/max_length", "metadata.out_of_range"),
    ({"name": "n", "type": "number", "precision": 39}, "/precision", "metadata.out_of_range"),
    ({"name": "n", "type": "number", "precision": 4, "scale": 5}, "/scale", "metadata.out_of_range"),
    ({"name": "l", "type": "lookup"}, "/target", "metadata.missing_key"),
    ({"name": "l", "type": "lookup", "target": "deal", "on_delete": "nuke"}, "/on_delete",
     "metadata.not_allowed"),
    ({"name": "f", "type": "formula"}, "/expression", "metadata.missing_key"),
    ({"name": "a", "type": "autonumber", "format": "INV-"}, "/format", "metadata.invalid"),
    ({"name": "a", "type": "autonumber", "format": "{0}", "start": -1}, "/start", "metadata.out_of_range"),
    ({"name": "r", "type": "rollup", "child_object": "deal", "relationship_field": "x",
      "function": "sum"}, "/field", "metadata.missing_key"),
    ({"name": "p", "type": "picklist", "values": [{"label": "No value"}]}, "/values/0/value",
     "metadata.missing_key"),
    ({"type": "text"}, "/name", "metadata.missing_key"),
    ({"name": "t", "type": "text", "label": ""}, "/label", "metadata.out_of_range"),
])
def test_field_option_problems(field: dict[str, Any], pointer: str, code: str) -> None:
    problem = only_problem(deal_field(field))
    assert (problem.pointer, problem.code) == ("/objects/0/fields/0" + pointer, code)


def test_several_problems_come_back_together() -> None:
    data = sales(extra=1)
    data["objects"][2]["fields"][0]["type"] = "pickles"
    data["objects"][0]["name"] = "Account"
    data["list_views"][0]["sort"] = ["--x"]
    data["scripts"][1].pop("object")
    assert problems_of(data) == [
        ("/extra", "metadata.unknown_key"),
        ("/list_views/0/sort/0", "metadata.bad_name"),
        ("/objects/0/name", "metadata.bad_name"),
        ("/objects/2/fields/0/type", "metadata.not_allowed"),
        ("/scripts/1/object", "metadata.missing_key"),
    ]


def test_schema_errors_stop_before_semantic_checks() -> None:
    data = sales()
    data["objects"][0]["fields"][0]["name"] = "id"          # semantic problem
    data["objects"][1]["label"] = ""                        # schema problem
    assert problems_of(data) == [("/objects/1/label", "metadata.out_of_range")]


# -- semantic checks ----------------------------------------------------------------------

def test_reserved_field_name() -> None:
    problem = only_problem(deal_field({"name": "created_at", "type": "datetime"}))
    assert (problem.pointer, problem.code) == ("/objects/0/fields/0/name", "metadata.reserved_name")
    assert "'created_by'" in problem.message and "'version'" in problem.message


def test_duplicates() -> None:
    data = sales()
    data["objects"].append(copy.deepcopy(data["objects"][0]))
    data["objects"][2]["fields"].append({"name": "stage", "type": "text"})
    data["layouts"].append(copy.deepcopy(data["layouts"][0]))
    data["list_views"].append(copy.deepcopy(data["list_views"][0]))
    data["validation_rules"].append(copy.deepcopy(data["validation_rules"][0]))
    data["scripts"].append({"name": "nightly", "object": "deal", "kind": "action", "code": ""})
    assert problems_of(data) == [
        ("/layouts/1/name", "metadata.duplicate_name"),
        ("/list_views/1/name", "metadata.duplicate_name"),
        ("/objects/2/fields/6/name", "metadata.duplicate_name"),
        ("/objects/3/name", "metadata.duplicate_name"),
        ("/validation_rules/1/name", "metadata.duplicate_name"),
    ]


def test_bad_renames_and_name_field() -> None:
    data = sales()
    data["objects"][0]["renamed_from"] = "account"
    data["objects"][1]["fields"][0]["renamed_from"] = "surname"
    data["objects"][1]["fields"][1]["renamed_from"] = "surname"
    data["objects"][2]["name_field"] = "headline"
    assert problems_of(data) == [
        ("/objects/0/renamed_from", "metadata.bad_rename"),
        ("/objects/1/fields/1/renamed_from", "metadata.bad_rename"),
        ("/objects/2/name_field", "metadata.unknown_field"),
    ]


def test_field_type_checks_run_with_the_field_pointer() -> None:
    data = sales()
    data["objects"][1]["fields"][2]["target"] = "company"
    problem = only_problem(data)
    assert (problem.pointer, problem.code) == ("/objects/1/fields/2/target", "metadata.unknown_object")


def test_unregistered_field_type() -> None:
    registry = {k: v for k, v in REGISTRY.items() if k != "time"}
    with pytest.raises(ValidationFailed) as caught:
        load_bundle(deal_field({"name": "at", "type": "time"}), field_types=registry)
    [problem] = caught.value.problems
    assert (problem.pointer, problem.code) == ("/objects/0/fields/0/type", "metadata.not_allowed")


def test_references_to_unknown_objects() -> None:
    data = sales()
    data["layouts"][0]["object"] = "dael"
    data["list_views"][0]["object"] = "dael"
    data["validation_rules"][0]["object"] = "dael"
    data["workflow_rules"][0]["object"] = "dael"
    data["scripts"][1]["object"] = "dael"
    with pytest.raises(ValidationFailed) as caught:
        load_bundle(data, field_types=REGISTRY)
    problems = caught.value.problems
    assert [(p.pointer, p.code) for p in problems] == [
        (f"/{kind}/{i}/object", "metadata.unknown_object")
        for kind, i in [("layouts", 0), ("list_views", 0), ("scripts", 1),
                        ("validation_rules", 0), ("workflow_rules", 0)]
    ]
    assert problems[0].message == ("layout 'dael.default': object 'dael' is not in the bundle; "
                                   "objects are 'account', 'contact', 'deal'")


def test_references_to_unknown_fields() -> None:
    data = sales()
    data["layouts"][0]["sections"][0]["fields"] += ["headline", {"field": "size", "readonly": True}]
    data["layouts"][0]["related_lists"] = [{"object": "contact", "field": "account"}]
    data["list_views"][0]["columns"] = ["title", "account.size", "stage.name", "account.name"]
    data["list_views"][0]["sort"] = ["-closed"]
    data["validation_rules"][0]["field"] = "amt"
    data["workflow_rules"][0]["time_triggers"][0]["relative_to"] = "closing"
    assert problems_of(data) == [
        ("/layouts/0/related_lists/0/field", "metadata.unknown_field"),   # points at account
        ("/layouts/0/sections/0/fields/3", "metadata.unknown_field"),
        ("/layouts/0/sections/0/fields/4/field", "metadata.unknown_field"),
        ("/list_views/0/columns/1", "metadata.unknown_field"),
        ("/list_views/0/columns/2", "metadata.unknown_field"),
        ("/list_views/0/sort/0", "metadata.unknown_field"),
        ("/validation_rules/0/field", "metadata.unknown_field"),
        ("/workflow_rules/0/time_triggers/0/relative_to", "metadata.unknown_field"),
    ]


def test_dotted_columns_follow_lookups_two_hops() -> None:
    data = sales()
    data["objects"][0]["fields"].append({"name": "parent", "type": "lookup", "target": "account"})
    data["list_views"][0]["columns"] = ["account.parent.name", "account.owner", "created_at"]
    assert load_bundle(data, field_types=REGISTRY).list_views[0].columns[0] == "account.parent.name"
    data["list_views"][0]["columns"] = ["account.parent.parent.name"]
    assert problems_of(data) == [("/list_views/0/columns/0", "metadata.bad_name")]


def test_dotted_column_message_names_the_path() -> None:
    data = sales()
    data["list_views"][0]["columns"] = ["account.size"]
    problem = only_problem(data)
    assert problem.message.startswith(
        "list view 'deal.open_deals': 'account.size': 'size' is not a field of object 'account'")


def test_related_list_through_the_right_lookup_loads() -> None:
    data = sales()
    data["layouts"][0]["related_lists"] = [{"object": "contact", "field": "account",
                                            "columns": ["last_name"]}]
    data["layouts"][0]["object"] = "account"
    data["layouts"][0]["sections"] = []
    layout = load_bundle(data, field_types=REGISTRY).layouts[0]
    assert layout.related_lists[0].columns == ("last_name",)


def test_problem_count_in_message() -> None:
    data = sales()
    data["validation_rules"][0]["field"] = "amt"
    with pytest.raises(ValidationFailed) as caught:
        load_bundle(data, field_types=REGISTRY)
    assert caught.value.message == "metadata bundle is invalid (1 problem)"
