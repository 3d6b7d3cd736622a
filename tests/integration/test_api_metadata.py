"""The metadata endpoints (bundle, components, plan, apply, revisions, JSON Schemas) and the
describe endpoints, through the HTTP client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.api import BACKENDS, ApiOrg, ApiUser, pointers, problem, served_org
from tests.support.bundles import drop_field, edited, obj, sales_bundle

SCHEMAS = ["bundle", "common", "object", "field", "layout", "list_view", "validation_rule", "workflow_rule", "script",
           "profile", "permission_set"]
RATING = {"name": "rating", "label": "Rating", "type": "integer"}
ADD_RATING_STEP = {"step": "AddColumn", "description": "add column 'account.rating' (integer)", "safety": "safe",
                   "ddl": True, "affected_rows": 0}
DROP_BIRTHDATE_STEP = {"step": "DropColumn", "safety": "data_losing", "ddl": True, "affected_rows": 1,
                       "description": "delete field 'contact.birthdate': its values are moved aside, restorable "
                                      "until purged"}

pytestmark = pytest.mark.usefixtures("no_server_errors")


def with_rating(bundle: dict[str, Any]) -> dict[str, Any]:
    changed = edited(bundle)
    obj(changed, "account")["fields"].append(RATING)
    return changed


def without_birthdate(bundle: dict[str, Any]) -> dict[str, Any]:
    changed = edited(bundle)
    drop_field(changed, "contact", "birthdate")
    return changed


# -- reading, and refusals (one org for the module: nothing here changes it) ----------------------------------

@pytest.fixture(scope="module", params=BACKENDS)
def sales(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiOrg]:
    with served_org(request, request.param, tmp_path_factory.mktemp("metadata"), sales_bundle()) as org:
        yield org


@pytest.fixture(scope="module")
def reader(sales: ApiOrg) -> ApiUser:
    return sales.user("admin")


@pytest.fixture(scope="module")
def rep(sales: ApiOrg) -> ApiUser:
    return sales.user("standard")


def test_the_bundle_comes_with_its_revision(reader: ApiUser) -> None:
    body = reader.client.get("/api/v1/metadata").json()
    assert body["revision"] == 1
    bundle = body["bundle"]
    assert sorted(bundle) == ["layouts", "list_views", "objects", "validation_rules"]
    demo = sales_bundle()
    assert [o["name"] for o in bundle["objects"]] == [o["name"] for o in demo["objects"]]
    for loaded, given in zip(bundle["objects"], demo["objects"]):
        assert [f["name"] for f in loaded["fields"]] == [f["name"] for f in given["fields"]]
    assert [r["name"] for r in bundle["validation_rules"]] == ["amount_not_negative", "won_needs_amount"]


@pytest.mark.parametrize(("kind", "name", "expected"), [
    ("objects", "deal", {"name": "deal", "label": "Deal", "plural_label": "Deals"}),
    ("layouts", "account.default", {"object": "account", "name": "default"}),
    ("list_views", "deal.open_deals", {"object": "deal", "name": "open_deals", "sort": ["close_date", "-amount"]}),
    ("validation_rules", "deal.won_needs_amount", {"object": "deal", "name": "won_needs_amount", "field": "amount",
                                                   "message": "A won deal needs its amount"}),
])
def test_one_component_by_kind_and_name(reader: ApiUser, kind: str, name: str, expected: dict[str, Any]) -> None:
    response = reader.client.get(f"/api/v1/metadata/{kind}/{name}")
    assert response.status_code == 200
    component = response.json()
    assert {k: component[k] for k in expected} == expected


def test_a_component_holds_all_of_its_definition(reader: ApiUser) -> None:
    deal = reader.client.get("/api/v1/metadata/objects/deal").json()
    stage = next(f for f in deal["fields"] if f["name"] == "stage")
    assert [v["value"] for v in stage["values"]][:2] == ["prospecting", "qualification"]
    layout = reader.client.get("/api/v1/metadata/layouts/account.default").json()
    assert [r["object"] for r in layout["related_lists"]] == ["contact", "deal"]


@pytest.mark.parametrize(("path", "code", "detail"), [
    ("/objects/invoice", "metadata.component_not_found", "the org's metadata has no object 'invoice'"),
    ("/layouts/deal.compact", "metadata.component_not_found", "the org's metadata has no layout 'deal.compact'"),
    ("/list_views/deal.all", "metadata.component_not_found", "the org's metadata has no list view 'deal.all'"),
    ("/widgets/deal", "metadata.unknown_kind", "there is no kind of metadata 'widgets'; kinds are objects, layouts, "
     "list_views, validation_rules, workflow_rules, scripts, profiles, permission_sets"),
    ("/revisions/2", "metadata.revision_not_found", "revision 2 does not exist (revisions run from 1 to 1)"),
    ("/revisions/0", "metadata.revision_not_found", "the org has no revision 0"),
    ("/schemas/widget", "metadata.unknown_schema",
     f"there is no metadata schema 'widget'; schemas are {', '.join(SCHEMAS)}"),
])
def test_what_does_not_exist_is_404(reader: ApiUser, path: str, code: str, detail: str) -> None:
    problem(reader.client.get(f"/api/v1/metadata{path}"), 404, code, detail)


def test_revisions_list_and_one_revision(reader: ApiUser) -> None:
    [summary] = reader.client.get("/api/v1/metadata/revisions").json()["revisions"]
    assert {k: summary[k] for k in ("number", "author", "message", "steps")} == \
        {"number": 1, "author": "tests", "message": "", "steps": 8}
    revision = reader.client.get("/api/v1/metadata/revisions/1").json()
    assert {k: revision[k] for k in summary} == summary
    assert revision["bundle"] == reader.client.get("/api/v1/metadata").json()["bundle"]
    assert [s["step"] for s in revision["plan"]] == ["CreateTable"] * 3 + ["MetadataOnly"] * 5


def test_schemas_list_and_each_schema(reader: ApiUser) -> None:
    listed = reader.client.get("/api/v1/metadata/schemas").json()["schemas"]
    assert listed == [{"name": name, "url": f"/api/v1/metadata/schemas/{name}"} for name in SCHEMAS]
    for entry in listed:
        response = reader.client.get(entry["url"])
        assert response.status_code == 200 and response.headers["content-type"] == "application/schema+json"
        assert response.json()["$id"] == f"https://rapport.dev/schemas/{entry['name']}.json"
    assert reader.client.get("/api/v1/metadata/schemas/bundle.json").json()["$id"].endswith("/bundle.json")


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/metadata", None), ("GET", "/metadata/objects/deal", None), ("GET", "/metadata/revisions", None),
    ("GET", "/metadata/revisions/1", None), ("POST", "/metadata/plan", sales_bundle()),
    ("POST", "/metadata/apply", {"bundle": sales_bundle()}),
])
def test_metadata_needs_the_manage_metadata_permission(rep: ApiUser, method: str, path: str, body: Any) -> None:
    response = rep.client.request(method, f"/api/v1{path}", json=body)
    problem(response, 403, "permissions.system_permission", "this needs the system permission 'manage_metadata', "
                                                            "which your profile and permission sets do not grant")


INVALID = {"objects": [{"name": "Bad Name", "fields": [{"name": "x", "type": "nope"}]}]}
INVALID_POINTERS = [("/objects/0/fields/0/type", "metadata.not_allowed"), ("/objects/0/label", "metadata.missing_key"),
                    ("/objects/0/name", "metadata.bad_name")]


@pytest.mark.parametrize(("path", "body"), [("/metadata/plan", INVALID), ("/metadata/apply", {"bundle": INVALID})])
def test_an_invalid_bundle_is_422_with_every_problem(reader: ApiUser, path: str, body: dict[str, Any]) -> None:
    response = reader.client.post(f"/api/v1{path}", json=body)
    error = problem(response, 422, "metadata.invalid", "metadata bundle is invalid (3 problems)")
    assert pointers(error) == INVALID_POINTERS
    assert reader.client.get("/api/v1/metadata").json()["revision"] == 1


TAKES = 'apply takes {"bundle": {...}, "message": "...", "confirm_data_loss": false, "expected_revision": 4}; '
TYPES = "'message' is a string, 'confirm_data_loss' true or false and 'expected_revision' a revision number"


@pytest.mark.parametrize(("body", "detail"), [
    ({}, TAKES + "'bundle' is missing"),
    ({"bundle": {}, "force": True}, TAKES + "unexpected 'force'"),
    ({"bundle": {}, "message": 3}, TYPES),
    ({"bundle": {}, "confirm_data_loss": "yes"}, TYPES),
    ({"bundle": {}, "expected_revision": "4"}, TYPES),
    ({"bundle": {}, "expected_revision": -1}, TYPES),
])
def test_apply_takes_a_bundle_a_message_and_a_confirmation(reader: ApiUser, body: dict[str, Any],
                                                           detail: str) -> None:
    problem(reader.client.post("/api/v1/metadata/apply", json=body), 400, "api.bad_body", detail)


def test_apply_with_an_expected_revision_refuses_when_someone_applied_since(admin: ApiUser) -> None:
    bundle = admin.client.get("/api/v1/metadata").json()
    first = admin.client.post("/api/v1/metadata/apply", json={
        "bundle": bundle["bundle"] | {"list_views": [{"object": "account", "name": "every", "label": "Every account"}]},
        "expected_revision": bundle["revision"]})
    assert first.status_code == 201, first.text
    stale = admin.client.post("/api/v1/metadata/apply", json={
        "bundle": bundle["bundle"], "expected_revision": bundle["revision"]})
    problem(stale, 409, "schema.revision_moved",
            f"the metadata changed since this change was planned (revision {bundle['revision']}; it is now at "
            f"revision {bundle['revision'] + 1}): plan it again")
    assert admin.client.get("/api/v1/metadata").json()["revision"] == bundle["revision"] + 1


# -- describe --------------------------------------------------------------------------------

def test_objects_lists_each_object_with_the_callers_permissions(reader: ApiUser) -> None:
    everything = {"read": True, "create": True, "edit": True, "delete": True, "view_all": True, "modify_all": True}
    assert reader.client.get("/api/v1/objects").json() == {"objects": [
        {"name": "account", "label": "Account", "plural_label": "Accounts", "permissions": everything},
        {"name": "contact", "label": "Contact", "plural_label": "Contacts", "permissions": everything},
        {"name": "deal", "label": "Deal", "plural_label": "Deals", "permissions": everything},
    ]}


def test_describe_an_object(reader: ApiUser) -> None:
    account = reader.client.get("/api/v1/objects/account").json()
    assert (account["name"], account["name_field"], account["sharing"]) == ("account", "name", "public_read")
    fields = {f["name"]: f for f in account["fields"]}
    assert list(fields)[:7] == ["id", "owner", "created_at", "created_by", "updated_at", "updated_by", "version"]
    assert [v["value"] for v in fields["industry"]["values"]] == ["technology", "manufacturing", "retail", "finance",
                                                                  "healthcare"]
    assert (fields["name"]["required"], fields["name"]["max_length"]) == (True, 120)
    assert (fields["open_deals"]["createable"], fields["name"]["createable"]) == (False, True)
    assert fields["employees"]["operators"] == ["is_null", "eq", "ne", "in", "not_in", "lt", "lte", "gt", "gte"]
    assert account["relationships"] == [{"name": "contacts", "object": "contact", "field": "account"},
                                        {"name": "deals", "object": "deal", "field": "account"}]
    assert [layout["name"] for layout in account["layouts"]] == ["default"]
    deal = reader.client.get("/api/v1/objects/deal").json()
    assert [view["name"] for view in deal["list_views"]] == ["open_deals"]
    weighted = next(f for f in deal["fields"] if f["name"] == "weighted_amount")
    assert (weighted["type"], weighted["expression"]) == ("formula", "amount * probability / 100")


# -- plan and apply (an org per test) ----------------------------------------------------------

@pytest.fixture
def acme(api_org: Callable[..., ApiOrg]) -> ApiOrg:
    return api_org(sales_bundle())


@pytest.fixture
def admin(acme: ApiOrg) -> ApiUser:
    return acme.user("admin")


def test_plan_lists_the_changes_and_changes_nothing(admin: ApiUser) -> None:
    contact = admin.client.post("/api/v1/records/contact", json={"last_name": "Ng", "birthdate": "1990-12-31"}).json()
    before = admin.client.get("/api/v1/metadata").json()
    response = admin.client.post("/api/v1/metadata/plan", json=without_birthdate(with_rating(sales_bundle())))
    assert response.status_code == 200
    assert response.json() == {
        "changes": [{"kind": "FieldRemoved", "description": "delete field 'contact.birthdate' (date)"},
                    {"kind": "FieldAdded", "description": "add field 'account.rating' (integer)"}],
        "steps": [DROP_BIRTHDATE_STEP, ADD_RATING_STEP], "data_losing": 1, "refused": []}
    assert admin.client.get("/api/v1/metadata").json() == before
    assert admin.client.get(f"/api/v1/records/contact/{contact['id']}").json()["birthdate"] == "1990-12-31"
    problem(admin.client.post("/api/v1/records/account", json={"name": "A", "rating": 5}), 422,
            "records.validation_failed")


def test_plan_of_the_current_bundle_is_empty(admin: ApiUser) -> None:
    response = admin.client.post("/api/v1/metadata/plan", json=sales_bundle())
    assert response.json() == {"changes": [], "steps": [], "data_losing": 0, "refused": []}


def test_apply_makes_a_revision_and_applying_again_changes_nothing(admin: ApiUser) -> None:
    bundle = with_rating(sales_bundle())
    response = admin.client.post("/api/v1/metadata/apply", json={"bundle": bundle, "message": "ratings"})
    assert response.status_code == 201
    assert response.json() == {"revision": 2, "changed": True, "plan": {
        "changes": [{"kind": "FieldAdded", "description": "add field 'account.rating' (integer)"}],
        "steps": [ADD_RATING_STEP], "data_losing": 0, "refused": []}}
    assert admin.client.get("/api/v1/metadata").json()["revision"] == 2
    again = admin.client.post("/api/v1/metadata/apply", json={"bundle": bundle})
    assert again.status_code == 200
    assert again.json() == {"revision": 2, "changed": False,
                            "plan": {"changes": [], "steps": [], "data_losing": 0, "refused": []}}
    revisions = admin.client.get("/api/v1/metadata/revisions").json()["revisions"]
    assert [(r["number"], r["author"], r["message"], r["steps"]) for r in revisions] == [
        (1, "tests", "", 8), (2, "Admin", "ratings", 1)]
    created = admin.client.post("/api/v1/records/account", json={"name": "A", "rating": 5})
    assert created.status_code == 201 and created.json()["rating"] == 5


def test_a_data_losing_apply_needs_confirmation(admin: ApiUser) -> None:
    admin.client.post("/api/v1/records/contact", json={"last_name": "Ng", "birthdate": "1990-12-31"})
    bundle = without_birthdate(sales_bundle())
    refused = admin.client.post("/api/v1/metadata/apply", json={"bundle": bundle})
    body = problem(refused, 409, "schema.confirmation_required")
    assert body["errors"] == [{"pointer": "", "code": "schema.data_losing_step",
                               "message": DROP_BIRTHDATE_STEP["description"]}]
    assert body["plan"]["steps"] == [DROP_BIRTHDATE_STEP]
    assert admin.client.get("/api/v1/metadata").json()["revision"] == 1
    confirmed = admin.client.post("/api/v1/metadata/apply", json={"bundle": bundle, "confirm_data_loss": True})
    assert confirmed.status_code == 201 and confirmed.json()["revision"] == 2
    assert "birthdate" not in admin.client.get("/api/v1/records/contact").json()["records"][0]
