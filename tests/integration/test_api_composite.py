"""The composite endpoint: up to 200 record operations in one request, all-or-none or
independent, later operations referring to records made by earlier ones (``@{ref.id}``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.api import BACKENDS, ApiOrg, ApiUser, pointers, problem, served_org
from tests.support.bundles import sales_bundle

URL = "/api/v1/composite"

pytestmark = pytest.mark.usefixtures("no_server_errors")


@pytest.fixture
def admin(api_org: Callable[..., ApiOrg]) -> ApiUser:
    return api_org(sales_bundle()).user("admin")


@pytest.fixture(scope="module", params=BACKENDS)
def untouched(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiUser]:
    """An admin of an org shared by the tests whose requests are refused or rolled back."""
    with served_org(request, request.param, tmp_path_factory.mktemp("composite"), sales_bundle()) as org:
        yield org.user("admin")


@pytest.fixture
def existing(admin: ApiUser) -> dict[str, Any]:
    """An account that was there before the composite request."""
    return admin.client.post("/api/v1/records/account", json={"name": "Existing"}).json()  # type: ignore[no-any-return]


def stored(admin: ApiUser, object_name: str) -> list[dict[str, Any]]:
    response = admin.client.get(f"/api/v1/records/{object_name}", params={"limit": "200", "sort": "created_at"})
    return response.json()["records"]  # type: ignore[no-any-return]


def test_all_or_none_runs_every_operation_with_references(admin: ApiUser) -> None:
    response = admin.client.post(URL, json={"operations": [
        {"ref": "acme", "op": "create", "object": "account", "record": {"name": "Acme"}},
        {"ref": "ng", "op": "create", "object": "contact", "record": {"last_name": "Ng", "account": "@{acme.id}"}},
        {"op": "update", "object": "account", "id": "@{acme.id}", "record": {"industry": "retail"}, "version": 1},
        {"ref": "big", "op": "create", "object": "deal",
         "record": {"name": "Big deal for @{acme.name}", "account": "@{acme.id}", "primary_contact": "@{ng.id}",
                    "amount": 500}},
        {"op": "get", "object": "account", "id": "@{acme.id}"},
    ]})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert (body["all_or_none"], body["succeeded"]) == (True, True)
    results = body["results"]
    assert [(r["ref"], r["status"]) for r in results] == [("acme", 201), ("ng", 201), (None, 200), ("big", 201),
                                                           (None, 200)]
    account, contact, deal = (results[i]["record"] for i in (0, 1, 3))
    assert contact["account"] == deal["account"] == account["id"] and deal["primary_contact"] == contact["id"]
    assert deal["name"] == "Big deal for Acme"  # inside a longer string a reference is text
    assert results[2]["record"]["industry"] == "retail" and results[2]["record"]["version"] == 2
    assert results[4]["record"]["open_pipeline"] == 500.0  # the roll-up, as of the earlier operations
    [row] = stored(admin, "account")
    assert (row["id"], row["industry"], row["version"], row["open_deals"]) == (account["id"], "retail", 2, 1)
    assert [c["id"] for c in stored(admin, "contact")] == [contact["id"]]
    assert [d["id"] for d in stored(admin, "deal")] == [deal["id"]]


def test_upsert_delete_and_get_operations(admin: ApiUser, existing: dict[str, Any]) -> None:
    upsert = {"op": "upsert", "object": "contact", "field": "email", "value": "ng@example.com",
              "record": {"last_name": "Ng"}}
    response = admin.client.post(URL, json={"operations": [
        {**upsert, "ref": "first"}, {**upsert, "record": {"first_name": "Wei"}},
        {"op": "delete", "object": "account", "id": existing["id"], "version": 1},
        {"op": "get", "object": "contact", "id": "@{first.id}"},
    ]})
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 200, 204, 200]
    assert results[2]["record"] is None
    assert (results[3]["record"]["first_name"], results[3]["record"]["version"]) == ("Wei", 2)
    assert stored(admin, "account") == []


CREATE_A = {"ref": "a", "op": "create", "object": "account", "record": {"name": "A"}}
#: an update of the ``existing`` account ("{existing}" stands for its id)
TOUCH_EXISTING = {"op": "update", "object": "account", "id": "{existing}", "record": {"employees": 7}}


@pytest.mark.parametrize(("operations", "failed", "status", "code"), [
    ([CREATE_A, {"op": "create", "object": "contact", "record": {"account": "@{a.id}"}}, CREATE_A | {"ref": "c"}],
     1, 422, "records.validation_failed"),
    ([TOUCH_EXISTING, CREATE_A, {**TOUCH_EXISTING, "version": 1}], 2, 412, "records.stale_version"),
    ([CREATE_A, TOUCH_EXISTING, {"op": "delete", "object": "deal", "id": "missing"}], 2, 404, "records.not_found"),
    ([TOUCH_EXISTING, {"op": "create", "object": "contact", "record": {"last_name": "x", "account": "@{b.id}"}},
      CREATE_A], 1, 400, "composite.bad_reference"),
    ([CREATE_A, {"op": "delete", "object": "account", "id": "{existing}"},
      {"op": "create", "object": "invoice", "record": {}}], 2, 404, "records.unknown_object"),
], ids=["validation", "stale-version", "not-found", "bad-reference", "unknown-object"])
def test_all_or_none_rolls_everything_back_and_names_the_failed_operation(
        admin: ApiUser, existing: dict[str, Any], operations: list[dict[str, Any]], failed: int, status: int,
        code: str) -> None:
    operations = [{k: existing["id"] if v == "{existing}" else v for k, v in o.items()} for o in operations]
    before = {name: stored(admin, name) for name in ("account", "contact", "deal")}
    body = problem(admin.client.post(URL, json={"operations": operations}), 400, "composite.failed")
    assert body["detail"].startswith(f"operation {failed} ({operations[failed]['op']} ")
    assert body["detail"].endswith(f" [{code}]; nothing was written (all_or_none)")
    assert (body["all_or_none"], body["succeeded"]) == (True, False)
    results = body["results"]
    assert [r["status"] for r in results] == [424] * failed + [status] + [424] * (len(operations) - failed - 1)
    assert [r["ref"] for r in results] == [o.get("ref") for o in operations]
    assert [r["error"]["code"] for r in results] == \
        ["composite.rolled_back"] * failed + [code] + ["composite.not_run"] * (len(operations) - failed - 1)
    assert results[failed]["error"]["status"] == status
    for result in results[failed + 1:]:
        assert result["error"]["detail"] == f"not run: operation {failed} failed (all_or_none)"
    assert {name: stored(admin, name) for name in before} == before


def test_independent_operations_commit_one_by_one(admin: ApiUser) -> None:
    response = admin.client.post(URL, json={"all_or_none": False, "operations": [
        {"ref": "a", "op": "create", "object": "account", "record": {"name": "A"}},
        {"ref": "broken", "op": "create", "object": "contact", "record": {"first_name": "No last name"}},
        {"op": "create", "object": "contact", "record": {"last_name": "Ng", "account": "@{a.id}"}},
        {"op": "create", "object": "contact", "record": {"last_name": "Lee", "account": "@{broken.id}"}},
    ]})
    assert response.status_code == 200
    body = response.json()
    assert (body["all_or_none"], body["succeeded"]) == (False, False)
    results = body["results"]
    assert [r["status"] for r in results] == [201, 422, 201, 400]
    assert pointers(results[1]["error"]) == [("/last_name", "records.required")]
    assert results[3]["error"]["code"] == "composite.bad_reference"
    assert results[3]["error"]["detail"] == ("@{broken.id} refers to 'broken', which no earlier operation that "
                                             "succeeded is named")
    assert [a["name"] for a in stored(admin, "account")] == ["A"]
    assert [(c["last_name"], c["account"]) for c in stored(admin, "contact")] == [("Ng", results[0]["record"]["id"])]


@pytest.mark.parametrize(("reference", "detail"), [
    ("@{later.id}", "@{later.id} refers to 'later', which no earlier operation that succeeded is named"),
    ("@{a.colour}", "@{a.colour}: the record of 'a' has no field 'colour'"),
    ("@{a.version}", "'id' must be a string, but @{a.version} is a number"),
], ids=["forward", "unknown-field", "not-a-string"])
def test_a_bad_reference_fails_its_operation(untouched: ApiUser, reference: str, detail: str) -> None:
    response = untouched.client.post(URL, json={"operations": [
        CREATE_A, {"op": "get", "object": "account", "id": reference},
        {"ref": "later", "op": "create", "object": "account", "record": {"name": "Later"}},
    ]})
    result = response.json()["results"][1]
    assert (result["status"], result["error"]["code"], result["error"]["detail"]) == \
        (400, "composite.bad_reference", detail)
    assert stored(untouched, "account") == []


def test_at_most_200_operations(admin: ApiUser, existing: dict[str, Any]) -> None:
    get = {"op": "get", "object": "account", "id": existing["id"]}
    response = admin.client.post(URL, json={"operations": [get] * 200})
    assert response.status_code == 200 and len(response.json()["results"]) == 200
    too_many = admin.client.post(URL, json={"operations": [CREATE_A | {"ref": None}] * 201})
    problem(too_many, 400, "composite.too_many_operations", "a composite request holds at most 200 operations, got 201")
    assert [a["name"] for a in stored(admin, "account")] == ["Existing"]


@pytest.mark.parametrize(("operations", "errors"), [
    ([CREATE_A, {"op": "create", "object": "account"}], [("/operations/1/record", "composite.bad_operation")]),
    ([{"op": "merge", "object": "account"}, "create", CREATE_A],
     [("/operations/0/op", "composite.bad_operation"), ("/operations/1/op", "composite.bad_operation")]),
    ([CREATE_A, {"op": "get", "object": "account", "id": "x", "record": {}}],
     [("/operations/1/record", "composite.bad_operation")]),
    ([CREATE_A, {"op": "get", "object": ["account"], "id": {"x": 1}}],
     [("/operations/1/object", "composite.bad_operation"), ("/operations/1/id", "composite.bad_operation")]),
    ([CREATE_A, CREATE_A, CREATE_A | {"ref": "Not A Name"}],
     [("/operations/1/ref", "composite.duplicate_ref"), ("/operations/2/ref", "composite.bad_operation")]),
], ids=["missing-key", "unknown-op", "unexpected-key", "names-not-strings", "refs"])
def test_a_malformed_request_is_refused_before_anything_runs(untouched: ApiUser, operations: list[Any],
                                                             errors: list[tuple[str, str]]) -> None:
    body = problem(untouched.client.post(URL, json={"operations": operations}), 400, "composite.bad_request")
    assert pointers(body) == errors
    assert stored(untouched, "account") == []  # not even the valid operations ran


@pytest.mark.parametrize(("body", "detail"), [
    ({"operations": []}, "'operations' must be a non-empty list"),
    ({"operations": {"op": "get"}}, "'operations' must be a non-empty list"),
    ({"operations": [CREATE_A], "all_or_none": "yes"}, "'all_or_none' is true or false"),
    ({"operations": [CREATE_A], "atomic": True},
     "a composite request has 'operations' and 'all_or_none'; unexpected 'atomic'"),
], ids=["empty", "not-a-list", "all-or-none-not-a-boolean", "unknown-key"])
def test_the_request_shape_is_checked(untouched: ApiUser, body: dict[str, Any], detail: str) -> None:
    problem(untouched.client.post(URL, json=body), 400, "composite.bad_request", detail)
