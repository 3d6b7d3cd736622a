"""The record endpoints through the HTTP client: create, read, update and delete with ETags,
upsert, validation errors, and lists (filter, sort, fields, cursors, count, related lists),
with the number of SQL statements a list or a read costs.

Tests that write get an org of their own (``api_org``); the list tests share one seeded,
read-only org per module (``catalog``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.api import BACKENDS, ApiOrg, ApiUser, pointers, problem, served_org
from tests.support.bundles import sales_bundle

SYSTEM_FIELDS = ("id", "owner", "created_at", "created_by", "updated_at", "updated_by", "version")

# -- the catalog: seeded once per module and backend, never changed ---------------------------

ACCOUNTS = [
    {"name": "Acme Corp", "industry": "technology", "employees": 100},
    {"name": "acme labs", "industry": "technology", "employees": 5},
    {"name": "Globex", "industry": "finance", "employees": 2000},
    {"name": "Initech"},
    {"name": "Umbrella Health", "industry": "healthcare", "employees": 50},
]
EMPLOYEES = {a["name"]: a.get("employees") for a in ACCOUNTS}
INDUSTRY = {a["name"]: a.get("industry") for a in ACCOUNTS}
CONTACTS = [("Ng", "Globex"), ("Lee", "Acme Corp"), ("Diaz", None)]
AMOUNTS = [None, 100, 250, 100, 1000, 75]
PROBABILITIES = [10, 50, None, 100]
STAGES = ["prospecting", "qualification", "proposal", "negotiation", "closed_won", "closed_lost"]

pytestmark = pytest.mark.usefixtures("no_server_errors")


def _deal(i: int) -> dict[str, Any]:
    amount, probability = AMOUNTS[i % 6], PROBABILITIES[i % 4]
    return {"name": f"Deal {i:02d}", "account": ACCOUNTS[i % 5]["name"], "amount": amount,
            "probability": probability, "stage": STAGES[i % 6], "primary_contact": "Ng" if i % 7 == 0 else None,
            "weighted_amount": None if amount is None or probability is None else amount * probability / 100}


DEALS = [_deal(i) for i in range(60)]
SEEDED = {"account": len(ACCOUNTS), "contact": len(CONTACTS), "deal": len(DEALS)}


def deal_names(keep: Callable[[dict[str, Any]], bool]) -> set[str]:
    return {d["name"] for d in DEALS if keep(d)}


def value(deal: dict[str, Any], path: str) -> Any:
    return EMPLOYEES[deal["account"]] if path == "account.employees" else deal[path]


def expected_order(sort: list[str]) -> list[str]:
    """Deal names in ``sort`` order: stable sorts from the last key, NULL as the largest value."""
    rows = list(DEALS)
    for token in reversed(sort):
        path, descending = token.lstrip("-"), token.startswith("-")
        rows.sort(key=lambda d: (value(d, path) is None, value(d, path) or 0), reverse=descending)
    return [d["name"] for d in rows]


@dataclass
class Catalog:
    org: ApiOrg
    ids: dict[str, str]  # of accounts and contacts, by name


@pytest.fixture(scope="module", params=BACKENDS)
def catalog(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    with served_org(request, request.param, tmp_path_factory.mktemp("catalog"), sales_bundle()) as org:
        records = org.runtime.records()
        accounts = {a["name"]: a["id"] for a in records.create_many("account", ACCOUNTS)}
        contacts = {c["last_name"]: c["id"] for c in records.create_many(
            "contact", [{"last_name": name, "account": accounts.get(account)} for name, account in CONTACTS])}
        records.create_many("deal", [
            {**{k: d[k] for k in ("name", "amount", "probability", "stage")}, "account": accounts[d["account"]],
             "primary_contact": contacts.get(d["primary_contact"])} for d in DEALS])
        yield Catalog(org, {**accounts, **contacts})


@pytest.fixture(scope="module")
def reader(catalog: Catalog) -> ApiUser:
    return catalog.org.user("admin")


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [r.get("name") or r.get("last_name") for r in response.json()["records"]]


def listed(client: Any, object_name: str, **params: Any) -> Any:
    params = {k: json.dumps(v) if k == "filter" else v for k, v in params.items()}
    return client.get(f"/api/v1/records/{object_name}", params={"limit": "200", **params})


# -- create, read, update, delete ------------------------------------------------------------

@pytest.fixture
def acme(api_org: Callable[..., ApiOrg]) -> ApiOrg:
    return api_org(sales_bundle())


@pytest.fixture
def admin(acme: ApiOrg) -> ApiUser:
    return acme.user("admin")


@pytest.fixture
def account(admin: ApiUser) -> dict[str, Any]:
    response = admin.client.post("/api/v1/records/account", json={"name": "Acme"})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture
def deal(admin: ApiUser, account: dict[str, Any]) -> dict[str, Any]:
    response = admin.client.post("/api/v1/records/deal", json={"name": "Big", "account": account["id"],
                                                               "amount": 1000, "probability": 25})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_create_answers_201_with_location_etag_and_computed_values(admin: ApiUser, account: dict[str, Any]) -> None:
    response = admin.client.post("/api/v1/records/deal", json={"name": "Big", "account": account["id"],
                                                               "amount": 1000, "probability": 25})
    assert response.status_code == 201
    deal = response.json()
    assert response.headers["location"] == f"/api/v1/records/deal/{deal['id']}"
    assert response.headers["etag"] == '"1"'
    assert len(deal["id"]) == 36 and deal["version"] == 1 and deal["owner"] == admin.id
    assert (deal["stage"], deal["deal_number"]) == ("prospecting", "D-00001")  # default and autonumber
    assert (deal["weighted_amount"], deal["days_to_close"]) == (250.0, 30)  # formulas
    assert admin.client.get(response.headers["location"]).json() == deal
    parent = admin.client.get(f"/api/v1/records/account/{account['id']}").json()
    assert (parent["open_deals"], parent["open_pipeline"], parent["next_close"]) == (1, 1000.0, deal["close_date"])


def test_read_carries_the_records_version_as_etag(admin: ApiUser, deal: dict[str, Any]) -> None:
    response = admin.client.get(f"/api/v1/records/deal/{deal['id']}")
    assert response.status_code == 200 and response.headers["etag"] == '"1"'
    assert response.json() == deal


def test_update_is_partial_and_moves_the_version(admin: ApiUser, deal: dict[str, Any]) -> None:
    response = admin.client.patch(f"/api/v1/records/deal/{deal['id']}", json={"probability": 50},
                                  headers={"If-Match": '"1"'})
    assert response.status_code == 200 and response.headers["etag"] == '"2"'
    updated = response.json()
    assert updated == {**deal, "probability": 50.0, "weighted_amount": 500.0, "version": 2,
                       "updated_at": updated["updated_at"]}
    assert updated["updated_at"] > deal["updated_at"]
    assert admin.client.get(f"/api/v1/records/deal/{deal['id']}").headers["etag"] == '"2"'
    unchanged = admin.client.patch(f"/api/v1/records/deal/{deal['id']}", json={"probability": 50})
    assert unchanged.headers["etag"] == '"2"'  # nothing changed, nothing written


@pytest.mark.parametrize(("method", "headers", "body"), [
    ("PATCH", {"If-Match": '"1"'}, {"amount": 1}),
    ("PATCH", {"If-Match": 'W/"1"'}, {"amount": 1}),
    ("PATCH", {}, {"amount": 1, "version": 1}),
    ("DELETE", {"If-Match": '"1"'}, None),
], ids=["if-match", "weak-if-match", "version-in-body", "delete"])
def test_a_stale_version_is_412_and_nothing_is_written(admin: ApiUser, deal: dict[str, Any], method: str,
                                                       headers: dict[str, str], body: Any) -> None:
    url = f"/api/v1/records/deal/{deal['id']}"
    current = admin.client.patch(url, json={"next_step": "Call"}).json()
    response = admin.client.request(method, url, json=body, headers=headers)
    error = problem(response, 412, "records.stale_version",
                    f"record {deal['id']} of object 'deal' is at version 2, not 1: someone changed it since you "
                    "read it; reload it and apply your change again")
    assert (error["id"], error["current_version"]) == (deal["id"], 2)
    assert admin.client.get(url).json() == current


@pytest.mark.parametrize("if_match", ["*", 'W/"2"', '"2"'])
def test_if_match_star_or_the_current_etag_lets_the_update_through(admin: ApiUser, deal: dict[str, Any],
                                                                    if_match: str) -> None:
    url = f"/api/v1/records/deal/{deal['id']}"
    admin.client.patch(url, json={"next_step": "Call"})
    response = admin.client.patch(url, json={"amount": 2000}, headers={"If-Match": if_match})
    assert response.status_code == 200 and response.headers["etag"] == '"3"'
    assert response.json()["amount"] == 2000.0


def test_an_if_match_that_is_no_etag_of_ours_is_refused(admin: ApiUser, deal: dict[str, Any]) -> None:
    response = admin.client.patch(f"/api/v1/records/deal/{deal['id']}", json={"amount": 1},
                                  headers={"If-Match": '"v1"'})
    problem(response, 412, "records.stale_version", "If-Match '\"v1\"' is not an ETag this API issued (they look "
                                                    "like \"3\"); read the record again to get its ETag")


def test_delete_honours_if_match_and_the_record_is_gone(admin: ApiUser, deal: dict[str, Any]) -> None:
    url = f"/api/v1/records/deal/{deal['id']}"
    response = admin.client.delete(url, headers={"If-Match": '"1"'})
    assert response.status_code == 204 and response.content == b""
    gone = f"object 'deal' has no record with id '{deal['id']}'"
    for method in ("GET", "PATCH", "DELETE"):
        answer = admin.client.request(method, url, json={} if method == "PATCH" else None)
        problem(answer, 404, "records.not_found", gone)


def test_a_restricted_delete_is_409_and_keeps_the_record(admin: ApiUser, account: dict[str, Any],
                                                         deal: dict[str, Any]) -> None:
    response = admin.client.delete(f"/api/v1/records/account/{account['id']}")
    problem(response, 409, "records.delete_restricted")
    assert admin.client.get(f"/api/v1/records/account/{account['id']}").status_code == 200


# -- validation ----------------------------------------------------------------------------

@pytest.mark.parametrize(("object_name", "record", "errors"), [
    ("deal", {"name": "x" * 300, "stage": "Won!", "amount": "abc", "bogus": 1, "created_at": "2020-01-01",
              "account": "missing"},
     [("/name", "records.too_long"), ("/stage", "records.not_in_picklist"), ("/amount", "records.wrong_type"),
      ("/bogus", "records.unknown_field"), ("/created_at", "records.read_only"),
      ("/account", "records.lookup_not_found")]),
    ("contact", {"email": "nope", "first_name": "x" * 81, "birthdate": "31/12/1990", "do_not_call": "maybe"},
     [("/email", "records.bad_format"), ("/first_name", "records.too_long"), ("/birthdate", "records.wrong_type"),
      ("/do_not_call", "records.wrong_type"), ("/last_name", "records.required")]),
    ("account", {"name": "", "employees": -1, "industry": "mining", "open_deals": 3, "account_number": "X"},
     [("/employees", "records.out_of_range"), ("/industry", "records.not_in_picklist"),
      ("/open_deals", "records.read_only"), ("/account_number", "records.read_only"), ("/name", "records.required")]),
    ("deal", {"name": "D", "account": "@account", "amount": -5}, [("/amount", "records.rule_failed")]),
    ("deal", {"name": "D", "account": "@account", "stage": "closed_won"}, [("/amount", "records.rule_failed")]),
], ids=["deal-fields", "contact-fields", "account-fields", "rule-not-negative", "rule-won-needs-amount"])
def test_an_invalid_record_is_422_naming_every_failing_field(catalog: Catalog, reader: ApiUser, object_name: str,
                                                             record: dict[str, Any],
                                                             errors: list[tuple[str, str]]) -> None:
    record = {k: catalog.ids["Globex"] if v == "@account" else v for k, v in record.items()}
    response = reader.client.post(f"/api/v1/records/{object_name}", json=record)
    body = problem(response, 422, "records.validation_failed")
    assert pointers(body) == errors
    noun = "problem" if len(errors) == 1 else "problems"
    assert body["detail"] == f"the {object_name} record could not be saved ({len(errors)} {noun})"
    assert listed(reader.client, object_name, count="true").json()["total"] == SEEDED[object_name]


def test_a_rule_failure_says_which_rule(catalog: Catalog, reader: ApiUser) -> None:
    response = reader.client.post("/api/v1/records/deal",
                                  json={"name": "D", "account": catalog.ids["Globex"], "amount": -5})
    assert problem(response, 422, "records.validation_failed")["errors"] == [
        {"pointer": "/amount", "code": "records.rule_failed", "message": "Amount must not be negative",
         "hint": "validation rule 'amount_not_negative'"}]


def test_an_invalid_update_is_422_and_changes_nothing(admin: ApiUser, deal: dict[str, Any]) -> None:
    url = f"/api/v1/records/deal/{deal['id']}"
    response = admin.client.patch(url, json={"stage": "Won!", "amount": "abc", "deal_number": "D-9"},
                                  headers={"If-Match": '"1"'})
    body = problem(response, 422, "records.validation_failed")
    assert pointers(body) == [("/stage", "records.not_in_picklist"), ("/amount", "records.wrong_type"),
                              ("/deal_number", "records.read_only")]
    assert admin.client.get(url).json() == deal


# -- upsert --------------------------------------------------------------------------------

def test_upsert_creates_then_updates_by_a_unique_field(admin: ApiUser) -> None:
    url = "/api/v1/records/contact/by/email/ng@example.com"
    created = admin.client.put(url, json={"last_name": "Ng"})
    assert created.status_code == 201 and created.headers["etag"] == '"1"'
    record = created.json()
    assert created.headers["location"] == f"/api/v1/records/contact/{record['id']}"
    assert (record["email"], record["last_name"]) == ("ng@example.com", "Ng")
    updated = admin.client.put(url, json={"first_name": "Wei", "version": 99})  # a body version is ignored
    assert updated.status_code == 200 and updated.headers["etag"] == '"2"'
    assert "location" not in updated.headers
    assert updated.json() == {**record, "first_name": "Wei", "version": 2, "updated_at": updated.json()["updated_at"]}
    assert listed(admin.client, "contact", count="true").json()["total"] == 1


@pytest.mark.parametrize(("path", "record", "detail"), [
    ("last_name/Ng", {}, "object 'contact' has no external id or unique field 'last_name' to upsert by; it has "
                         "'email'"),
    ("colour/red", {}, "object 'contact' has no external id or unique field 'colour' to upsert by; it has 'email'"),
    ("email/ng@example.com", {"email": "lee@example.com"},
     "the record sets 'email' to 'lee@example.com', but it is upserted by email = 'ng@example.com'; leave 'email' "
     "out of the record"),
])
def test_upsert_needs_an_external_id_or_unique_field(reader: ApiUser, path: str, record: dict[str, Any],
                                                     detail: str) -> None:
    response = reader.client.put(f"/api/v1/records/contact/by/{path}", json={"last_name": "Ng", **record})
    problem(response, 400, "records.bad_upsert_key", detail)
    assert listed(reader.client, "contact", count="true").json()["total"] == SEEDED["contact"]


def test_an_invalid_upsert_is_422(reader: ApiUser) -> None:
    response = reader.client.put("/api/v1/records/contact/by/email/ng@example.com", json={"first_name": "x" * 81})
    body = problem(response, 422, "records.validation_failed")
    assert pointers(body) == [("/first_name", "records.too_long"), ("/last_name", "records.required")]


# -- lists: filters --------------------------------------------------------------------------

TECH = {"field": "industry", "op": "eq", "value": "technology"}


@pytest.mark.parametrize(("object_name", "tree", "expected"), [
    ("account", TECH, {"Acme Corp", "acme labs"}),
    ("account", {"field": "industry", "op": "ne", "value": "technology"}, {"Globex", "Initech", "Umbrella Health"}),
    ("account", {"field": "employees", "op": "lt", "value": 100}, {"acme labs", "Umbrella Health"}),
    ("account", {"field": "employees", "op": "lte", "value": 100}, {"acme labs", "Umbrella Health", "Acme Corp"}),
    ("account", {"field": "employees", "op": "gt", "value": 100}, {"Globex"}),
    ("account", {"field": "employees", "op": "gte", "value": 100}, {"Acme Corp", "Globex"}),
    ("account", {"field": "industry", "op": "in", "value": ["finance", "healthcare"]}, {"Globex", "Umbrella Health"}),
    ("account", {"field": "industry", "op": "not_in", "value": ["technology", "finance"]},
     {"Initech", "Umbrella Health"}),
    ("account", {"field": "name", "op": "contains", "value": "ACME"}, {"Acme Corp", "acme labs"}),
    ("account", {"field": "name", "op": "starts_with", "value": "glo"}, {"Globex"}),
    ("account", {"field": "industry", "op": "is_null", "value": True}, {"Initech"}),
    ("account", {"field": "employees", "op": "is_null", "value": False},
     {"Acme Corp", "acme labs", "Globex", "Umbrella Health"}),
    ("account", {"and": [TECH, {"field": "employees", "op": "gt", "value": 10}]}, {"Acme Corp"}),
    ("account", {"or": [{"field": "name", "op": "starts_with", "value": "umb"},
                        {"field": "employees", "op": "gte", "value": 2000}]}, {"Umbrella Health", "Globex"}),
    ("account", {"not": {"field": "employees", "op": "gt", "value": 60}}, {"acme labs", "Initech", "Umbrella Health"}),
    ("account", {"and": [{"or": [TECH, {"field": "industry", "op": "is_null", "value": True}]},
                         {"not": {"field": "name", "op": "contains", "value": "labs"}}]}, {"Acme Corp", "Initech"}),
    ("account", {"and": []}, set(INDUSTRY)),
    ("account", {"or": []}, set()),
    ("contact", {"field": "account.name", "op": "eq", "value": "Globex"}, {"Ng"}),
    ("deal", {"field": "account.industry", "op": "eq", "value": "technology"},
     deal_names(lambda d: INDUSTRY[d["account"]] == "technology")),
    ("deal", {"field": "weighted_amount", "op": "gte", "value": 100},
     deal_names(lambda d: (d["weighted_amount"] or 0) >= 100)),
    ("deal", {"field": "amount", "op": "in", "value": [75, 250]}, deal_names(lambda d: d["amount"] in (75, 250))),
    ("deal", {"field": "stage", "op": "not_in", "value": ["closed_won", "closed_lost"]},
     deal_names(lambda d: not d["stage"].startswith("closed_"))),
    ("deal", {"field": "probability", "op": "ne", "value": 50}, deal_names(lambda d: d["probability"] != 50)),
], ids=["eq", "ne-includes-empty", "lt", "lte", "gt", "gte", "in", "not-in-includes-empty", "contains-any-case",
        "starts-with", "is-null", "is-not-null", "and", "or", "not-includes-empty", "nested", "empty-and",
        "empty-or", "lookup-path", "lookup-path-picklist", "formula", "currency-in", "picklist-not-in", "percent-ne"])
def test_a_filter_selects_exactly_the_matching_records(reader: ApiUser, object_name: str, tree: Any,
                                                       expected: set[str]) -> None:
    assert set(names(listed(reader.client, object_name, filter=tree))) == expected


# -- lists: sort, fields, pages, count --------------------------------------------------------------

@pytest.mark.parametrize("sort", [
    ["-weighted_amount", "name"], ["weighted_amount", "-name"], ["stage", "-amount", "name"],
    ["account.employees", "-name"], ["-probability", "-amount", "name"],
], ids=lambda s: ",".join(s))
def test_sort_on_several_fields_incl_formulas_and_lookups(reader: ApiUser, sort: list[str]) -> None:
    response = listed(reader.client, "deal", sort=",".join(sort), fields="name")
    assert names(response) == expected_order(sort)


def test_fields_choose_the_columns_incl_fields_of_looked_up_records(reader: ApiUser) -> None:
    response = listed(reader.client, "deal", fields="name,account.name,account.employees,weighted_amount",
                      sort="name", limit="3")
    records = response.json()["records"]
    assert [list(r) for r in records] == [[*SYSTEM_FIELDS, "name", "account.name", "account.employees",
                                           "weighted_amount"]] * 3
    assert [(r["name"], r["account.name"], r["account.employees"], r["weighted_amount"]) for r in records] == [
        (d["name"], d["account"], EMPLOYEES[d["account"]], d["weighted_amount"]) for d in DEALS[:3]]


@pytest.mark.parametrize("sort", [None, "-weighted_amount", "amount,-probability", "account.employees", "-stage"])
def test_cursor_pages_hold_every_record_once(reader: ApiUser, sort: str | None) -> None:
    params = {"fields": "name", "limit": "7", "count": "true", **({"sort": sort} if sort else {})}
    whole = names(reader.client.get("/api/v1/records/deal", params={**params, "limit": "200"}))
    seen: list[str] = []
    cursor, pages = None, 0
    while True:
        page = reader.client.get("/api/v1/records/deal", params={**params, **({"cursor": cursor} if cursor else {})})
        seen += names(page)
        pages += 1
        assert page.json()["total"] == len(DEALS)
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == whole and len(set(seen)) == len(DEALS)
    assert pages == 9  # 60 records, 7 a page


def test_a_cursor_is_bound_to_its_sort(reader: ApiUser) -> None:
    first = reader.client.get("/api/v1/records/deal", params={"sort": "amount", "limit": "5"}).json()
    response = reader.client.get("/api/v1/records/deal", params={"sort": "-amount", "limit": "5",
                                                                 "cursor": first["next_cursor"]})
    problem(response, 400, "query.bad_cursor", "the cursor was issued for object 'deal' sorted by amount, id, not for "
                                               "object 'deal' sorted by -amount, id; use the same sort or start "
                                               "without a cursor")


@pytest.mark.parametrize(("tree", "limit", "total"), [
    (None, 5, 60),
    ({"field": "stage", "op": "eq", "value": "closed_won"}, 3, 10),
    ({"field": "name", "op": "eq", "value": "nobody"}, 5, 0),
])
def test_count_gives_the_total_of_every_page(reader: ApiUser, tree: Any, limit: int, total: int) -> None:
    params = {"count": "true", "limit": str(limit), **({"filter": json.dumps(tree)} if tree else {})}
    body = reader.client.get("/api/v1/records/deal", params=params).json()
    assert body["total"] == total and len(body["records"]) == min(limit, total)
    assert (body["next_cursor"] is None) == (total <= limit)
    assert "total" not in reader.client.get("/api/v1/records/deal", params={"limit": "1"}).json()


def test_a_page_larger_than_the_maximum_is_refused(reader: ApiUser) -> None:
    response = reader.client.get("/api/v1/records/deal", params={"limit": "201"})
    body = problem(response, 400, "query.page_size_too_large", "the page size 201 is above the maximum of 200")
    assert body["maximum"] == 200


def test_without_limit_a_page_holds_the_default_size(reader: ApiUser) -> None:
    body = reader.client.get("/api/v1/records/deal").json()
    assert len(body["records"]) == 50 and body["next_cursor"] is not None


# -- related lists ---------------------------------------------------------------------------

@pytest.mark.parametrize(("parent", "key", "relationship", "expected"), [
    ("account", "Acme Corp", "deal", deal_names(lambda d: d["account"] == "Acme Corp")),
    ("account", "Acme Corp", "deals", deal_names(lambda d: d["account"] == "Acme Corp")),
    ("account", "Acme Corp", "deal.account", deal_names(lambda d: d["account"] == "Acme Corp")),
    ("account", "Globex", "contacts", {"Ng"}),
    ("contact", "Ng", "deals", deal_names(lambda d: d["primary_contact"] == "Ng")),
    ("account", "Initech", "contact", set()),
], ids=["child-object", "relationship-name", "child-field", "contacts", "through-second-lookup", "none"])
def test_a_related_list_holds_the_parents_children(catalog: Catalog, reader: ApiUser, parent: str, key: str,
                                                   relationship: str, expected: set[str]) -> None:
    url = f"/api/v1/records/{parent}/{catalog.ids[key]}/related/{relationship}"
    assert set(names(reader.client.get(url, params={"limit": "200"}))) == expected


def test_a_related_list_takes_the_list_parameters(catalog: Catalog, reader: ApiUser) -> None:
    url = f"/api/v1/records/account/{catalog.ids['Globex']}/related/deals"
    won = {"field": "stage", "op": "eq", "value": "closed_won"}
    response = reader.client.get(url, params={"filter": json.dumps(won), "sort": "-name", "count": "true",
                                              "fields": "name,account.name", "limit": "1"})
    expected = sorted(deal_names(lambda d: d["account"] == "Globex" and d["stage"] == "closed_won"), reverse=True)
    body = response.json()
    assert body["total"] == len(expected) and names(response) == expected[:1]
    assert body["records"][0]["account.name"] == "Globex"


@pytest.mark.parametrize(("parent", "record", "relationship", "status", "code", "detail"), [
    ("account", "Globex", "invoices", 404, "records.unknown_relationship",
     "object 'account' has no relationship 'invoices'; its relationships are 'contacts', 'deals'"),
    ("contact", "Ng", "deal.account", 404, "records.unknown_relationship",
     "object 'contact' has no relationship 'deal.account'; its relationships are 'deals'"),
    ("account", "missing", "deals", 404, "records.not_found", "object 'account' has no record with id 'missing'"),
])
def test_a_related_list_needs_a_known_relationship_and_parent(catalog: Catalog, reader: ApiUser, parent: str,
                                                              record: str, relationship: str, status: int, code: str,
                                                              detail: str) -> None:
    record_id = catalog.ids.get(record, record)
    response = reader.client.get(f"/api/v1/records/{parent}/{record_id}/related/{relationship}")
    problem(response, status, code, detail)


# -- what a list or a read costs ------------------------------------------------------------------

@contextmanager
def statements(org: ApiOrg) -> Iterator[list[str]]:
    """The SQL statements run on the org's and the platform's engines (transaction control left out)."""
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            seen.append(statement)

    engines = (org.runtime.location.engine, org.rapport.db.platform)
    for engine in engines:
        sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        for engine in engines:
            sa.event.remove(engine, "before_cursor_execute", count)


def costs(org: ApiOrg, client: Any, url: str, **params: str) -> int:
    with statements(org) as seen:
        assert client.get(url, params=params).status_code == 200
    return len(seen)


@pytest.mark.parametrize(("path", "params", "most"), [
    ("/records/deal", {"fields": "name,account.name,weighted_amount", "sort": "-weighted_amount"}, 3),
    ("/records/deal", {"fields": "name,account.name,account.industry", "count": "true"}, 3),
    ("/records/deal", {}, 3),
    ("/records/account/{Globex}/related/deals", {"fields": "name,account.name"}, 6),
], ids=["fields-and-formula-sort", "count", "every-field", "related-list"])
def test_a_list_costs_the_same_statements_whatever_its_size(catalog: Catalog, reader: ApiUser, path: str,
                                                            params: dict[str, str], most: int) -> None:
    url = "/api/v1" + path.format(**catalog.ids)
    costs(catalog.org, reader.client, url, limit="1")  # the key's first use is recorded once: not counted below
    small, large = (costs(catalog.org, reader.client, url, limit=size, **params) for size in ("5", "50"))
    assert small == large <= most


@pytest.mark.parametrize("object_name", ["account", "deal"])
def test_a_read_costs_a_fixed_number_of_statements(catalog: Catalog, reader: ApiUser, object_name: str) -> None:
    record = listed(reader.client, object_name, limit="1").json()["records"][0]
    assert costs(catalog.org, reader.client, f"/api/v1/records/{object_name}/{record['id']}") <= 3
