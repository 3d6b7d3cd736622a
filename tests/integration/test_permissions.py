"""The permission model end to end: object permissions, field-level security and record
sharing, through the HTTP API and at the service level (which forms and scripts use)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from httpx import Response

from rapport.platform.actor import Actor
from rapport.platform.errors import Forbidden, InvalidRequest, NotFound, ValidationFailed
from rapport.runtime.query import QuerySpec
from tests.support.api import ApiOrg, ApiUser
from tests.support.bundles import make_object, obj, sales_bundle

# -- the bundle: the demo's objects, an invoice with lines, and who may do what -----------------

INVOICE = make_object(
    "invoice", {"name": "number", "label": "Number", "type": "text", "required": True, "external_id": True,
                "unique": True},
    {"name": "account", "label": "Account", "type": "lookup", "target": "account", "relationship_name": "invoices"},
    name_field="number")
INVOICE_LINE = make_object(
    "invoice_line",
    {"name": "invoice", "label": "Invoice", "type": "master_detail", "target": "invoice", "relationship_name": "lines"},
    {"name": "description", "label": "Description", "type": "text"})

PROFILES = [
    {"name": "rep", "objects": [
        {"object": "deal", "read": True, "create": True, "edit": True, "delete": True, "fields": {"amount": "hidden"}},
        {"object": "account", "read": True, "create": True, "edit": True, "delete": True,
         "fields": {"industry": "read", "annual_revenue": "hidden"}},
        {"object": "invoice", "read": True, "create": True, "edit": True, "delete": True},
        {"object": "invoice_line", "read": True, "create": True, "edit": True, "delete": True},
    ]},
    {"name": "viewer", "objects": [{"object": "deal", "read": True}, {"object": "account", "read": True}]},
    {"name": "manager", "objects": [
        {"object": "account", "read": True, "edit": True, "view_all": True},
        {"object": "deal", "modify_all": True},
        {"object": "invoice", "view_all": True},
        {"object": "invoice_line", "read": True},
    ]},
]
PERMISSION_SETS = [
    {"name": "amounts", "objects": [{"object": "deal", "read": True, "default_field_access": "hidden",
                                     "fields": {"amount": "edit"}}]},
    {"name": "all_data", "system_permissions": ["view_all_data"]},
    {"name": "everything", "system_permissions": ["modify_all_data"]},
]


def permissions_bundle() -> dict[str, Any]:
    bundle = sales_bundle()
    obj(bundle, "account")["sharing"] = "private"
    obj(bundle, "deal")["sharing"] = "public_read"
    obj(bundle, "contact")["sharing"] = "public_read_write"
    bundle["objects"] += [INVOICE, INVOICE_LINE]
    bundle["list_views"].append({"object": "deal", "name": "by_revenue", "label": "By revenue",
                                 "columns": ["name", "account.annual_revenue"]})
    bundle["profiles"] = PROFILES
    bundle["permission_sets"] = PERMISSION_SETS
    return bundle


# what a rep may read of a deal: stored and computed fields, and the system fields queries add
DEAL_FIELDS = ("account, close_date, days_to_close, deal_number, name, next_step, primary_contact, probability, "
               "stage, weighted_amount")
DEAL_PATHS = ("account, close_date, created_at, created_by, days_to_close, deal_number, id, name, next_step, owner, "
              "primary_contact, probability, stage, updated_at, updated_by, version, weighted_amount")
ACCOUNT_PATHS = ("account_number, created_at, created_by, employees, id, industry, name, next_close, open_deals, "
                 "open_pipeline, owner, phone, updated_at, updated_by, version, website")
HIDDEN = {"amount", "deal.amount", "annual_revenue", "account.annual_revenue"}


@pytest.fixture
def acme(api_org: Callable[..., ApiOrg]) -> ApiOrg:
    return api_org(permissions_bundle())


# -- helpers -----------------------------------------------------------------------------------

def ok(response: Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def problem(response: Response, status: int, code: str, detail: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    if detail is not None:
        assert body["detail"] == detail
    body.pop("request_id", None)
    return body


def errors(body: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(e["pointer"], e["code"], e["message"]) for e in body["errors"]]


def words(value: Any) -> Iterator[str]:
    """Every key and string value in a JSON document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from words(item)
    elif isinstance(value, list):
        for item in value:
            yield from words(item)
    elif isinstance(value, str):
        yield value


def leaked(value: Any) -> set[str]:
    return set(words(value)) & HIDDEN


def create(user: ApiUser, object_name: str, record: dict[str, Any]) -> dict[str, Any]:
    return ok(user.client.post(f"/api/v1/records/{object_name}", json=record), 201)  # type: ignore[no-any-return]


def listed(user: ApiUser, object_name: str, **params: Any) -> dict[str, Any]:
    return ok(user.client.get(f"/api/v1/records/{object_name}", params=params))  # type: ignore[no-any-return]


def ids(page: dict[str, Any]) -> set[str]:
    return {r["id"] for r in page["records"]}


def forbidden(verb: str, object_name: str, permission: str) -> str:
    return (f"you may not {verb} records of object '{object_name}': your profile and permission sets do not "
            f"grant '{permission}' on it")


def not_found(object_name: str, record_id: str) -> str:
    return f"object '{object_name}' has no record with id {record_id!r}"


# -- object permissions --------------------------------------------------------------------------

def test_objects_the_user_may_not_read_are_refused_and_not_listed(acme: ApiOrg) -> None:
    admin, viewer = acme.user("admin"), acme.user("viewer")
    contact = create(admin, "contact", {"last_name": "Ng"})
    objects = ok(viewer.client.get("/api/v1/objects"))["objects"]
    assert [(o["name"], o["permissions"]) for o in objects] == [
        (name, {"read": True, "create": False, "edit": False, "delete": False, "view_all": False,
                "modify_all": False}) for name in ("account", "deal")]
    assert {o["name"] for o in ok(admin.client.get("/api/v1/objects"))["objects"]} == {
        "account", "contact", "deal", "invoice", "invoice_line"}
    detail = forbidden("read", "contact", "read")
    for method, path in [("GET", "/records/contact"), ("GET", f"/records/contact/{contact['id']}"),
                         ("GET", "/records/contact/no-such-id"), ("GET", "/objects/contact"),
                         ("GET", f"/records/contact/{contact['id']}/related/deals")]:
        problem(viewer.client.request(method, f"/api/v1{path}"), 403, "permissions.object_access", detail)
    operation = {"op": "get", "object": "contact", "id": contact["id"]}
    result = ok(viewer.client.post("/api/v1/composite", json={"operations": [operation]}), 400)["results"][0]
    assert (result["status"], result["error"]["code"], result["error"]["detail"]) == (
        403, "permissions.object_access", detail)


@pytest.mark.parametrize(("method", "path", "verb", "permission"), [
    ("POST", "/records/deal", "create", "create"),
    ("PATCH", "/records/deal/{id}", "edit", "edit"),
    ("DELETE", "/records/deal/{id}", "delete", "delete"),
], ids=["create", "update", "delete"])
def test_writes_need_their_object_permission(acme: ApiOrg, method: str, path: str, verb: str,
                                             permission: str) -> None:
    admin, viewer = acme.user("admin"), acme.user("viewer")
    account = create(admin, "account", {"name": "Acme"})
    deal = create(admin, "deal", {"name": "Big", "account": account["id"], "owner": viewer.id})
    body = {"name": "Bigger"} if method != "DELETE" else None
    response = viewer.client.request(method, "/api/v1" + path.format(id=deal["id"]), json=body)
    problem(response, 403, "permissions.object_access", forbidden(verb, "deal", permission))
    assert ok(admin.client.get(f"/api/v1/records/deal/{deal['id']}"))["version"] == 1  # even their own record
    assert listed(admin, "deal", count="true")["total"] == 1


def test_upserts_need_the_permission_of_what_they_do(acme: ApiOrg) -> None:
    alice, bob = acme.user("rep", name="alice"), acme.user("rep", name="bob")
    viewer, manager = acme.user("viewer"), acme.user("manager")
    account = create(alice, "account", {"name": "Acme"})
    invoice = create(alice, "invoice", {"number": "I-1", "account": account["id"]})

    def upsert(user: ApiUser, number: str) -> Response:
        return user.client.put(f"/api/v1/records/invoice/by/number/{number}", json={"account": None})

    problem(upsert(viewer, "I-1"), 403, "permissions.object_access", forbidden("read", "invoice", "read"))
    problem(upsert(manager, "I-1"), 403, "permissions.object_access", forbidden("edit", "invoice", "edit"))
    problem(upsert(manager, "I-2"), 403, "permissions.object_access", forbidden("create", "invoice", "create"))
    problem(upsert(bob, "I-1"), 404, "records.not_found")  # alice's invoice is private
    assert ok(upsert(alice, "I-1"))["version"] == 2
    assert ok(upsert(bob, "I-2"), 201)["owner"] == bob.id
    assert ok(alice.client.get(f"/api/v1/records/invoice/{invoice['id']}"))["updated_by"] == alice.id


# -- field-level security -------------------------------------------------------------------------

def test_a_hidden_field_never_appears(acme: ApiOrg) -> None:
    admin, rep = acme.user("admin"), acme.user("rep")
    account = create(rep, "account", {"name": "Acme"})
    deal = create(rep, "deal", {"name": "Big", "account": account["id"], "probability": 50})
    ok(admin.client.patch(f"/api/v1/records/deal/{deal['id']}", json={"amount": 1000}))
    ok(admin.client.patch(f"/api/v1/records/account/{account['id']}", json={"annual_revenue": 5}))
    operations = [{"ref": "d", "op": "create", "object": "deal", "record": {"name": "Small", "account": account["id"]}},
                  {"op": "update", "object": "deal", "id": "@{d.id}", "record": {"next_step": "call"}},
                  {"op": "get", "object": "deal", "id": deal["id"]},
                  {"op": "get", "object": "account", "id": account["id"]}]
    responses = {
        "create": deal,
        "get": ok(rep.client.get(f"/api/v1/records/deal/{deal['id']}")),
        "update": ok(rep.client.patch(f"/api/v1/records/deal/{deal['id']}", json={"probability": 60})),
        "list": listed(rep, "deal"),
        "list of lookups": listed(rep, "deal", fields="name,account.name,account.industry"),
        "list of accounts": listed(rep, "account"),
        "related list": ok(rep.client.get(f"/api/v1/records/account/{account['id']}/related/deals")),
        "composite": ok(rep.client.post("/api/v1/composite", json={"operations": operations})),
        "objects": ok(rep.client.get("/api/v1/objects")),
        "describe deal": ok(rep.client.get("/api/v1/objects/deal")),
        "describe account": ok(rep.client.get("/api/v1/objects/account")),
    }
    assert {name: leaked(body) for name, body in responses.items()} == dict.fromkeys(responses, set())
    # what is not hidden still comes back: the weighted amount is a field of its own
    assert (responses["get"]["weighted_amount"], responses["update"]["weighted_amount"]) == (500, 600)
    assert [r["status"] for r in responses["composite"]["results"]] == [201, 200, 200, 200]
    describe = responses["describe deal"]
    assert [v["name"] for v in describe["list_views"]] == []  # both views show a hidden field
    assert "amount" not in describe["layouts"][0]["sections"][0]["fields"]
    related = responses["describe account"]["layouts"][0]["related_lists"]  # contacts: an object rep may not read
    assert related == [{"object": "deal", "field": "account", "columns": ["name", "stage"]}]
    # the same requests by the admin do show them
    assert "amount" in ok(admin.client.get(f"/api/v1/records/deal/{deal['id']}"))
    assert leaked(ok(admin.client.get("/api/v1/objects/account"))) == {"amount", "annual_revenue"}


def query_problem(acme: ApiOrg, params: dict[str, str]) -> dict[str, Any]:
    rep = acme.user("rep")
    response = rep.client.get("/api/v1/records/deal", params=params)
    assert response.status_code == 400, response.text
    body: dict[str, Any] = response.json()
    body.pop("request_id")
    return body


UNKNOWN_AMOUNT = f"object 'deal' has no field 'amount' (fields: {DEAL_PATHS})"
UNKNOWN_REVENUE = f"object 'account' has no field 'annual_revenue' (fields: {ACCOUNT_PATHS})"
CONTACT_LOOKUP = ("field 'primary_contact' of object 'deal' points at object 'contact', which you may not read, "
                  "so 'primary_contact.last_name' cannot follow it")


UNKNOWN, NO_ACCESS, BAD_FILTER = "query.unknown_field", "permissions.object_access", "query.bad_filter"


@pytest.mark.parametrize(("params", "code", "pointer", "problem_code", "message"), [
    ({"fields": "name,amount"}, UNKNOWN, "/fields/1", UNKNOWN, UNKNOWN_AMOUNT),
    ({"sort": "-amount"}, UNKNOWN, "/sort/0", UNKNOWN, UNKNOWN_AMOUNT),
    ({"filter": '{"field": "amount", "op": "gt", "value": 0}'}, BAD_FILTER, "/filter/field", UNKNOWN, UNKNOWN_AMOUNT),
    ({"fields": "account.annual_revenue"}, UNKNOWN, "/fields/0", UNKNOWN, UNKNOWN_REVENUE),
    ({"sort": "account.annual_revenue"}, UNKNOWN, "/sort/0", UNKNOWN, UNKNOWN_REVENUE),
    ({"filter": '{"field": "account.annual_revenue", "op": "is_null", "value": false}'}, BAD_FILTER,
     "/filter/field", UNKNOWN, UNKNOWN_REVENUE),
    ({"fields": "name,primary_contact.last_name"}, NO_ACCESS, "/fields/1", NO_ACCESS, CONTACT_LOOKUP),
    ({"filter": '{"field": "primary_contact.last_name", "op": "eq", "value": "Ng"}'}, BAD_FILTER,
     "/filter/field", NO_ACCESS, CONTACT_LOOKUP),
], ids=["select", "sort", "filter", "select-through-lookup", "sort-through-lookup", "filter-through-lookup",
        "select-unreadable-object", "filter-unreadable-object"])
def test_hidden_fields_and_unreadable_objects_cannot_be_queried(acme: ApiOrg, params: dict[str, str], code: str,
                                                                pointer: str, problem_code: str, message: str) -> None:
    body = query_problem(acme, params)
    assert (body["status"], body["code"], errors(body)) == (400, code, [(pointer, problem_code, message)])
    if code == BAD_FILTER:  # a filter's problems are listed under its own code, each with the field's code
        assert body["detail"] == "the filter on object 'deal' is not valid (1 problem)"
    else:
        assert body["detail"] == f"cannot query object 'deal': {message}"
    listed_fields = message.partition("(fields: ")[2].rstrip(")").split(", ")
    assert not set(listed_fields) & HIDDEN


def test_a_hidden_field_answers_exactly_as_a_field_that_does_not_exist(acme: ApiOrg) -> None:
    admin = acme.user("admin")
    account = create(admin, "account", {"name": "Acme"})
    create(admin, "deal", {"name": "Big", "account": account["id"], "amount": 1000})

    def answer(field: str, value: Any) -> str:
        condition = json.dumps({"field": field, "op": "gte", "value": value})
        return json.dumps(query_problem(acme, {"filter": condition, "count": "true"})).replace(f"'{field}'", "'?'")

    # whether any deal's amount is at least 10, or 10 million: the same answer, as for a made-up field
    assert answer("amount", 10) == answer("amount", 10_000_000) == answer("bogus", 10)


def test_hidden_and_read_only_fields_refuse_writes(acme: ApiOrg) -> None:
    rep = acme.user("rep")
    account = create(rep, "account", {"name": "Acme"})
    deal = create(rep, "deal", {"name": "Big", "account": account["id"]})
    unknown_amount = ("/amount", "records.unknown_field",
                      f"object 'deal' has no field 'amount' (fields: {DEAL_FIELDS})")
    read_only = ("/industry", "permissions.field_read_only", "field 'industry' on object 'account' is read-only for "
                 "you: your profile and permission sets let you read it, not edit it")
    unknown_revenue = ("/annual_revenue", "records.unknown_field", "object 'account' has no field 'annual_revenue' "
                       "(fields: account_number, employees, industry, name, next_close, open_deals, open_pipeline, "
                       "phone, website)")
    attempts = [
        (rep.client.post("/api/v1/records/deal", json={"name": "X", "account": account["id"], "amount": 5}),
         [unknown_amount]),
        (rep.client.patch(f"/api/v1/records/deal/{deal['id']}", json={"amount": 5, "name": "Y"}), [unknown_amount]),
        (rep.client.post("/api/v1/records/account", json={"name": "Z", "industry": "retail", "annual_revenue": 1}),
         [unknown_revenue, read_only]),
        (rep.client.patch(f"/api/v1/records/account/{account['id']}", json={"industry": "retail"}), [read_only]),
    ]
    for response, expected in attempts:
        body = problem(response, 422, "records.validation_failed")
        assert sorted(errors(body)) == sorted(expected)
    operation = {"op": "update", "object": "deal", "id": deal["id"], "record": {"amount": 5}}
    result = ok(rep.client.post("/api/v1/composite", json={"operations": [operation]}), 400)["results"][0]
    assert errors(result["error"]) == [unknown_amount]
    assert listed(rep, "account", count="true")["total"] == 1 and listed(rep, "deal", count="true")["total"] == 1
    assert ok(rep.client.get(f"/api/v1/records/deal/{deal['id']}"))["version"] == 1


def test_a_permission_set_reveals_a_hidden_field(acme: ApiOrg) -> None:
    rep = acme.user("rep", permission_sets=["amounts"])
    account = create(rep, "account", {"name": "Acme"})
    deal = create(rep, "deal", {"name": "Big", "account": account["id"], "amount": 1000})
    assert deal["amount"] == 1000
    assert ok(rep.client.patch(f"/api/v1/records/deal/{deal['id']}", json={"amount": 2000}))["amount"] == 2000
    page = listed(rep, "deal", filter='{"field": "amount", "op": "gt", "value": 1500}', sort="-amount")
    assert [r["amount"] for r in page["records"]] == [2000]
    assert "amount" in {f["name"] for f in ok(rep.client.get("/api/v1/objects/deal"))["fields"]}
    # view_all_data reveals every field for reading, not for writing
    reader = acme.user("rep", permission_sets=["all_data"])
    assert ok(reader.client.get(f"/api/v1/records/deal/{deal['id']}"))["amount"] == 2000
    reader_deal = create(reader, "deal", {"name": "Own", "account": account["id"]})
    body = problem(reader.client.patch(f"/api/v1/records/deal/{reader_deal['id']}", json={"amount": 1}), 422,
                   "records.validation_failed")
    assert [(p, c) for p, c, _ in errors(body)] == [("/amount", "permissions.field_read_only")]


# -- record sharing --------------------------------------------------------------------------------

def test_private_records_are_invisible_to_other_users(acme: ApiOrg) -> None:
    alice, bob = acme.user("rep", name="alice"), acme.user("rep", name="bob")
    mine = [create(alice, "account", {"name": f"Alice {n}"}) for n in range(3)]
    theirs = [create(bob, "account", {"name": f"Bob {n}"}) for n in range(2)]
    page = listed(bob, "account", count="true")
    assert (ids(page), page["total"]) == ({r["id"] for r in theirs}, 2)
    named = listed(bob, "account", count="true", filter=json.dumps({"field": "name", "op": "starts_with",
                                                                     "value": "Alice"}))
    assert (named["records"], named["total"]) == ([], 0)
    target = mine[0]["id"]
    detail = not_found("account", target)
    problem(bob.client.get(f"/api/v1/records/account/{target}"), 404, "records.not_found", detail)
    problem(bob.client.patch(f"/api/v1/records/account/{target}", json={"name": "Mine"}), 404,
            "records.not_found", detail)
    problem(bob.client.delete(f"/api/v1/records/account/{target}"), 404, "records.not_found", detail)
    problem(bob.client.get(f"/api/v1/records/account/{target}/related/deals"), 404, "records.not_found", detail)
    assert ok(alice.client.get(f"/api/v1/records/account/{target}"))["name"] == "Alice 0"


def test_public_read_records_are_read_only_to_other_users(acme: ApiOrg) -> None:
    alice, bob = acme.user("rep", name="alice"), acme.user("rep", name="bob")
    account = create(alice, "account", {"name": "Acme"})
    deal = create(alice, "deal", {"name": "Big", "account": account["id"]})
    assert ids(listed(bob, "deal")) == {deal["id"]}
    assert ok(bob.client.get(f"/api/v1/records/deal/{deal['id']}"))["name"] == "Big"
    detail = (f"you may read record {deal['id']} of object 'deal' but not change it: it is not yours and the "
              "object's sharing does not let others edit it")
    problem(bob.client.patch(f"/api/v1/records/deal/{deal['id']}", json={"name": "Mine"}), 403,
            "permissions.record_access", detail)
    problem(bob.client.delete(f"/api/v1/records/deal/{deal['id']}"), 403, "permissions.record_access", detail)
    assert ok(alice.client.patch(f"/api/v1/records/deal/{deal['id']}", json={"name": "Bigger"}))["version"] == 2


def test_public_read_write_records_can_be_changed_by_anyone(acme: ApiOrg) -> None:
    alice, bob = acme.user("standard", name="alice"), acme.user("standard", name="bob")
    contact = create(alice, "contact", {"last_name": "Ng"})
    updated = ok(bob.client.patch(f"/api/v1/records/contact/{contact['id']}", json={"first_name": "Ada"}))
    assert (updated["first_name"], updated["owner"], updated["updated_by"]) == ("Ada", alice.id, bob.id)
    ok(bob.client.delete(f"/api/v1/records/contact/{contact['id']}"), 204)


CHANGED = "changed"


@pytest.mark.parametrize(("profile", "permission_sets", "object_name", "update"), [
    ("manager", (), "account", "permissions.record_access"),  # view_all: sees every account, edits only its own
    ("manager", (), "deal", CHANGED),  # modify_all
    ("manager", (), "invoice", "permissions.object_access"),  # view_all alone grants no edit
    ("rep", ("all_data",), "account", "permissions.record_access"),
    ("rep", ("everything",), "account", CHANGED),
    ("rep", ("everything",), "invoice", CHANGED),
    ("admin", (), "account", CHANGED),
    ("admin", (), "invoice", CHANGED),
])
def test_view_all_and_modify_all_override_sharing(acme: ApiOrg, profile: str, permission_sets: tuple[str, ...],
                                                  object_name: str, update: str) -> None:
    owner, other = acme.user("rep", name="owner"), acme.user(profile, permission_sets=permission_sets)
    account = create(owner, "account", {"name": "Acme"})
    field, values = {"account": ("name", {}), "deal": ("name", {"account": account["id"]}),
                     "invoice": ("number", {"account": account["id"]})}[object_name]
    record = create(owner, object_name, {field: "Mine", **values})
    assert record["id"] in ids(listed(other, object_name))
    assert ok(other.client.get(f"/api/v1/records/{object_name}/{record['id']}"))["owner"] == owner.id
    response = other.client.patch(f"/api/v1/records/{object_name}/{record['id']}", json={field: "Changed"})
    if update == CHANGED:
        assert ok(response)[field] == "Changed"
        ok(other.client.delete(f"/api/v1/records/{object_name}/{record['id']}"), 204)
    else:
        problem(response, 403, update)


def test_a_looked_up_record_the_user_may_not_see_is_joined_as_absent(acme: ApiOrg) -> None:
    admin, alice, bob = acme.user("admin"), acme.user("rep", name="alice"), acme.user("rep", name="bob")
    secret = create(alice, "account", {"name": "Secret"})
    own = create(bob, "account", {"name": "Own"})
    handed = create(admin, "deal", {"name": "Handed", "account": secret["id"], "owner": bob.id})
    alices = create(alice, "deal", {"name": "Alice's", "account": secret["id"]})
    bobs = create(bob, "deal", {"name": "Bob's", "account": own["id"]})
    page = listed(bob, "deal", fields="name,account,account.name", sort="name")
    assert [(r["name"], r["account"], r["account.name"]) for r in page["records"]] == [
        ("Alice's", secret["id"], None), ("Bob's", own["id"], "Own"), ("Handed", secret["id"], None)]
    assert [r["id"] for r in page["records"]] == [alices["id"], bobs["id"], handed["id"]]
    by_name = listed(bob, "deal", count="true", filter=json.dumps({"field": "account.name", "op": "eq",
                                                                    "value": "Secret"}))
    assert (by_name["records"], by_name["total"]) == ([], 0)  # a filter cannot see through the join either
    assert listed(alice, "deal", count="true", filter=json.dumps(
        {"field": "account.name", "op": "eq", "value": "Secret"}))["total"] == 2
    assert ok(bob.client.get(f"/api/v1/records/deal/{handed['id']}"))["account"] == secret["id"]


def test_lookups_point_only_at_records_the_user_may_see(acme: ApiOrg) -> None:
    alice, bob = acme.user("rep", name="alice"), acme.user("rep", name="bob")
    secret = create(alice, "account", {"name": "Secret"})
    invoice = create(alice, "invoice", {"number": "I-1"})
    deal = create(bob, "deal", {"name": "Big", "account": create(bob, "account", {"name": "Own"})["id"]})
    missing = "01900000-0000-7000-8000-000000000000"
    attempts = {  # a record bob may not see is answered as one that does not exist
        "account": lambda target: bob.client.post("/api/v1/records/deal", json={"name": "X", "account": target}),
        "invoice": lambda target: bob.client.post("/api/v1/records/invoice_line", json={"invoice": target}),
    }
    for field, target in [("account", secret["id"]), ("invoice", invoice["id"])]:
        for record_id in (target, missing):
            body = problem(attempts[field](record_id), 422, "records.validation_failed")
            child = "deal" if field == "account" else "invoice_line"
            assert errors(body) == [(f"/{field}", "records.lookup_not_found",
                                     f"field '{field}' on object '{child}': no '{field}' record has id '{record_id}'")]
    body = problem(bob.client.patch(f"/api/v1/records/deal/{deal['id']}", json={"account": secret["id"]}), 422,
                   "records.validation_failed")
    assert [(p, c) for p, c, _ in errors(body)] == [("/account", "records.lookup_not_found")]
    assert listed(alice, "invoice_line", count="true")["total"] == 0
    assert listed(alice, "deal", count="true")["total"] == 1  # bob's own deal only


def test_detail_records_are_shared_as_their_master(acme: ApiOrg) -> None:
    alice, bob = acme.user("rep", name="alice"), acme.user("rep", name="bob")
    manager, admin = acme.user("manager"), acme.user("admin")
    invoice_of: dict[str, str] = {}  # user id -> their invoice
    lines_of: dict[str, set[str]] = {}  # invoice id -> its lines
    for user in (alice, bob):
        invoice = create(user, "invoice", {"number": f"I-{user.username}"})
        invoice_of[user.id] = invoice["id"]
        lines_of[invoice["id"]] = {create(user, "invoice_line", {"invoice": invoice["id"]})["id"] for _ in range(2)}
    # a line bob owns on alice's invoice is shared as her invoice is, whoever owns the line
    extra = create(admin, "invoice_line", {"invoice": invoice_of[alice.id], "owner": bob.id})
    lines_of[invoice_of[alice.id]].add(extra["id"])

    def check(user: ApiUser, masters: set[str]) -> None:
        assert ids(listed(user, "invoice")) == masters, user.username
        lines = listed(user, "invoice_line", count="true")
        expected = set().union(*(lines_of[i] for i in masters))
        assert (ids(lines), lines["total"]) == (expected, len(expected)), user.username
        for invoice_id, line_ids in lines_of.items():
            related = user.client.get(f"/api/v1/records/invoice/{invoice_id}/related/lines")
            if invoice_id in masters:
                assert ids(ok(related)) == line_ids
                continue
            problem(related, 404, "records.not_found", not_found("invoice", invoice_id))
            for line_id in line_ids:
                problem(user.client.get(f"/api/v1/records/invoice_line/{line_id}"), 404, "records.not_found",
                        not_found("invoice_line", line_id))

    check(alice, {invoice_of[alice.id]})
    check(bob, {invoice_of[bob.id]})
    check(manager, set(lines_of))  # view_all on the master object shows every line
    check(admin, set(lines_of))
    problem(bob.client.patch(f"/api/v1/records/invoice_line/{extra['id']}", json={"description": "x"}), 404,
            "records.not_found", not_found("invoice_line", extra["id"]))
    # handing the invoice over hands over its lines
    ok(admin.client.patch(f"/api/v1/records/invoice/{invoice_of[alice.id]}", json={"owner": bob.id}))
    check(alice, set())
    check(bob, set(lines_of))
    changed = ok(bob.client.patch(f"/api/v1/records/invoice_line/{extra['id']}", json={"description": "x"}))
    assert changed["version"] == 2


@pytest.mark.parametrize("sort", ["", "name", "-name,id"])
def test_pages_and_counts_hold_only_visible_records(acme: ApiOrg, sort: str) -> None:
    alice, bob = acme.user("rep", name="alice"), acme.user("rep", name="bob")
    expected = set()
    for n in range(12):  # interleaved: each of bob's records sits between two of alice's
        user = bob if n % 3 == 1 else alice
        record = create(user, "account", {"name": f"Account {n:02}"})
        if user is bob:
            expected.add(record["id"])
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 1, "count": "true", **({"sort": sort} if sort else {})}
    while True:
        page = listed(bob, "account", **params)
        assert page["total"] == 4
        seen += [r["id"] for r in page["records"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert len(seen) == len(set(seen)) and set(seen) == expected


# -- the same rules at the service level (forms, scripts, workflow) ----------------------------------

def test_the_record_service_enforces_the_same_rules(org: Any) -> None:
    org.metadata.apply(permissions_bundle(), author="tests")
    alice, bob = Actor("u-alice", "Alice", "rep"), Actor("u-bob", "Bob", "rep")
    account = org.records(alice).create("account", {"name": "Acme"})
    deal = org.records(alice).create("deal", {"name": "Big", "account": account["id"]})
    assert "amount" not in deal and "annual_revenue" not in account
    records = org.records(bob)
    for attempt in (lambda: records.get("account", account["id"]),
                    lambda: records.update("account", account["id"], {"name": "Mine"}),
                    lambda: records.delete("account", account["id"])):
        with pytest.raises(NotFound) as missing:
            attempt()
        assert (missing.value.code, missing.value.message) == ("records.not_found", not_found("account", account["id"]))
    with pytest.raises(Forbidden) as refused:
        records.update("deal", deal["id"], {"name": "Mine"})
    assert refused.value.code == "permissions.record_access"
    with pytest.raises(ValidationFailed) as invalid:
        records.create("deal", {"name": "X", "account": account["id"], "amount": 1})
    assert sorted((p.pointer, p.code) for p in invalid.value.problems) == [
        ("/account", "records.lookup_not_found"), ("/amount", "records.unknown_field")]  # alice's account is private
    with pytest.raises(Forbidden) as no_create:
        org.records(Actor("u-carol", "Carol", "viewer")).create("deal", {"name": "X"})
    assert (no_create.value.code, no_create.value.message) == (
        "permissions.object_access", forbidden("create", "deal", "create"))
    assert org.records().get("deal", deal["id"])["amount"] is None  # the system sees everything


def test_the_query_engine_enforces_the_same_rules(org: Any) -> None:
    org.metadata.apply(permissions_bundle(), author="tests")
    alice, bob = Actor("u-alice", "Alice", "rep"), Actor("u-bob", "Bob", "rep")
    secret = org.records(alice).create("account", {"name": "Secret"})
    org.records(bob).create("account", {"name": "Own"})
    org.records(alice).create("deal", {"name": "Big", "account": secret["id"]})
    accounts = org.query(QuerySpec("account", fields=("name",), count=True), actor=bob)
    assert ([r["name"] for r in accounts.records], accounts.total) == (["Own"], 1)
    deals = org.query(QuerySpec("deal", fields=("name", "account", "account.name")), actor=bob)
    assert [(r["account"], r["account.name"]) for r in deals.records] == [(secret["id"], None)]
    with pytest.raises(InvalidRequest) as unknown:
        org.query(QuerySpec("deal", fields=("amount",)), actor=bob)
    assert (unknown.value.code, unknown.value.message) == ("query.unknown_field",
                                                           f"cannot query object 'deal': {UNKNOWN_AMOUNT}")
    with pytest.raises(Forbidden) as unreadable:
        org.query(QuerySpec("contact"), actor=Actor("u-carol", "Carol", "viewer"))
    assert unreadable.value.code == "permissions.object_access"
    assert org.query(QuerySpec("account", count=True)).total == 2  # the system sees everything
