"""A record's field history through the API: newest first, only the fields and records the
caller may see, a page at a time, and described in the caller's OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.api import ApiOrg, ApiUser, problem
from tests.support.bundles import sales_bundle

pytestmark = pytest.mark.usefixtures("no_server_errors")

#: a profile that may read and edit deals, but not see their amount
SELLER = {"name": "seller", "objects": [
    {"object": "account", "read": True, "create": True},
    {"object": "deal", "read": True, "create": True, "edit": True, "view_all": True,
     "fields": {"amount": "hidden"}},
]}


@pytest.fixture
def acme(api_org: Callable[..., ApiOrg]) -> ApiOrg:
    bundle = sales_bundle()
    bundle["profiles"] = [SELLER]
    return api_org(bundle)


@pytest.fixture
def ann(acme: ApiOrg) -> ApiUser:
    return acme.user("standard", name="ann")


@pytest.fixture
def deal(ann: ApiUser) -> dict[str, Any]:
    """Ann's deal, changed twice: amount 100 → 250 with stage → proposal, then amount → 300."""
    account = ann.client.post("/api/v1/records/account", json={"name": "Acme"}).json()
    created = ann.client.post("/api/v1/records/deal", json={"name": "Big", "account": account["id"], "amount": 100})
    assert created.status_code == 201, created.text
    record = created.json()
    for change in ({"amount": 250, "stage": "proposal"}, {"amount": 300}):
        response = ann.client.patch(f"/api/v1/records/deal/{record['id']}", json=change)
        assert response.status_code == 200, response.text
    return record


def history(user: ApiUser, deal: dict[str, Any], **params: Any) -> dict[str, Any]:
    response = user.client.get(f"/api/v1/records/deal/{deal['id']}/history", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_history_lists_each_change_newest_first_with_who_and_when(ann: ApiUser, deal: dict[str, Any]) -> None:
    body = history(ann, deal)
    changes = [(c["field"], c["old_value"], c["new_value"]) for c in body["changes"]]
    # the values as records carry them; the fields of one write come newest row first
    assert changes == [("amount", 250, 300), ("stage", "prospecting", "proposal"), ("amount", 100, 250)]
    assert body["next_cursor"] is None
    assert {c["changed_by"] for c in body["changes"]} == {ann.id}
    assert all(c["changed_at"].endswith("Z") and len(c["id"]) == 36 for c in body["changes"])
    assert body["changes"][0]["changed_at"] >= body["changes"][-1]["changed_at"]


def test_an_object_that_tracks_nothing_has_an_empty_history(ann: ApiUser, deal: dict[str, Any]) -> None:
    account = ann.client.get(f"/api/v1/records/deal/{deal['id']}").json()["account"]
    assert ann.client.patch(f"/api/v1/records/account/{account}", json={"name": "Acme 2"}).status_code == 200
    response = ann.client.get(f"/api/v1/records/account/{account}/history")
    assert response.json() == {"changes": [], "next_cursor": None}


def test_pages_of_history_hold_every_change_once(ann: ApiUser, deal: dict[str, Any]) -> None:
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(3):
        body = history(ann, deal, limit=1, **({"cursor": cursor} if cursor else {}))
        assert len(body["changes"]) == 1
        seen += [c["id"] for c in body["changes"]]
        cursor = body["next_cursor"]
    assert cursor is None and len(set(seen)) == 3
    assert seen == [c["id"] for c in history(ann, deal)["changes"]]


def test_a_field_the_caller_may_not_read_has_no_history_for_them(acme: ApiOrg, deal: dict[str, Any]) -> None:
    seller = acme.user("seller")
    assert [c["field"] for c in history(seller, deal)["changes"]] == ["stage"]


@pytest.mark.parametrize(("params", "code"), [
    ({"limit": "0"}, "query.bad_limit"), ({"limit": "201"}, "query.bad_limit"),
    ({"cursor": "not-a-cursor"}, "query.bad_cursor"), ({"sort": "field"}, "api.unknown_parameter"),
])
def test_bad_paging_is_400(ann: ApiUser, deal: dict[str, Any], params: dict[str, str], code: str) -> None:
    problem(ann.client.get(f"/api/v1/records/deal/{deal['id']}/history", params=params), 400, code)


def test_only_a_record_the_caller_may_see_has_a_history(acme: ApiOrg, deal: dict[str, Any]) -> None:
    bob = acme.user("standard", name="bob")  # deals are private: Ann's deal is not Bob's to see
    problem(bob.client.get(f"/api/v1/records/deal/{deal['id']}/history"), 404, "records.not_found")
    problem(bob.client.get("/api/v1/records/deal/nope/history"), 404, "records.not_found")
    problem(bob.client.get("/api/v1/records/invoice/x/history"), 404, "records.unknown_object")


def test_an_object_the_caller_may_not_read_is_403(api_org: Callable[..., ApiOrg]) -> None:
    bundle = sales_bundle()
    bundle["profiles"] = [{"name": "accounts_only", "objects": [{"object": "account", "read": True}]}]
    acme = api_org(bundle)
    reader = acme.user("accounts_only")
    problem(reader.client.get("/api/v1/records/deal/x/history"), 403, "permissions.object_access")


def test_the_document_describes_history_for_the_objects_the_caller_reads(acme: ApiOrg) -> None:
    doc = acme.user("standard").client.get("/api/v1/openapi.json").json()
    operation = doc["paths"]["/records/deal/{id}/history"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/FieldHistory"}
    assert {p.get("name") or p["$ref"].rsplit("/", 1)[1] for p in operation["parameters"]} == {"id", "limit", "cursor"}
    assert "FieldChange" in doc["components"]["schemas"]
