"""Setup's landing page, the object manager, the field editor for every type and the live
formula check, driven through the pages as a browser would (forms posted as shown, then the
plan preview's apply form)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from html import unescape
from typing import Any

import pytest
from starlette.testclient import TestClient

from rapport.admin_ui.setup.field_options import OptionKind, options_of
from rapport.runtime.fields import FIELD_TYPES
from tests.support.api import BACKENDS, PASSWORD, ApiOrg, served_org
from tests.support.bundles import make_object, obj, sales_bundle
from tests.support.forms import form_in
from tests.support.pages import browser_for, token_in

pytestmark = pytest.mark.usefixtures("no_server_errors")

PROFILES = [{"name": "builder", "system_permissions": ["manage_metadata"],
             "objects": [{"object": "account", "read": True}]},
            {"name": "people", "system_permissions": ["manage_users"]}]


# -- a browser's view of forms ------------------------------------------------------------------

def fill(browser: TestClient, path: str, **changes: Any) -> Any:
    """Open ``path``, change its form's values (None: untick / clear) and post it."""
    opened = browser.get(path)
    assert opened.status_code == 200, opened.text
    action = path.split("?")[0]
    values = form_in(opened.text, action).values
    for key, value in changes.items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
    return browser.post(action, data=values)


def apply_preview(browser: TestClient, preview: Any, *, confirm: bool = False) -> Any:
    """Press Apply on the plan preview ``preview`` (ticking the data-loss box if ``confirm``)."""
    assert preview.status_code == 200, preview.text
    values = form_in(preview.text, "/admin/apply").values
    values.pop("confirm_data_loss", None)
    if confirm:
        values["confirm_data_loss"] = "yes"
    return browser.post("/admin/apply", data=values, follow_redirects=False)


def error_at(html: str, name: str) -> str:
    """The error message shown at input ``name``."""
    found = re.search(rf'<p class="field-error" id="(?:in|field)-{re.escape(name)}-error" role="alert">(.*?)</p>',
                      html, re.S)
    assert found, f"no error at {name!r} in:\n{html}"
    return unescape(found.group(1))


def value_of(html: str, name: str) -> str:
    found = re.search(rf'<input id="in-{re.escape(name)}" name="{re.escape(name)}" type="text" value="([^"]*)"', html)
    assert found, f"no input {name!r} in:\n{html}"
    return unescape(found.group(1))


# -- one org for the tests that change nothing ----------------------------------------------------

@pytest.fixture(scope="module", params=BACKENDS)
def sales(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiOrg]:
    bundle = {**sales_bundle(), "profiles": PROFILES}
    with served_org(request, request.param, tmp_path_factory.mktemp("setup"), bundle) as org:
        yield org


@pytest.fixture(scope="module")
def admin(sales: ApiOrg) -> TestClient:
    return browser_for(sales, sales.user("admin", name="ada", password=PASSWORD))


@pytest.fixture(scope="module")
def rep(sales: ApiOrg) -> TestClient:
    return browser_for(sales, sales.user("standard", name="sam", password=PASSWORD))


def test_setup_links_to_every_area_the_admin_may_use(admin: TestClient) -> None:
    setup = admin.get("/admin")
    assert setup.status_code == 200
    for link in ("/admin/objects", "/admin/revisions", "/admin/trash", "/admin/profiles", "/admin/users",
                 "/admin/keys"):
        assert f'href="{link}"' in setup.text


@pytest.mark.parametrize(("profile", "shown", "hidden"), [
    ("builder", ["/admin/objects", "/admin/revisions", "/admin/trash", "/admin/profiles"],
     ["/admin/users", "/admin/keys"]),
    ("people", ["/admin/users", "/admin/keys"],
     ["/admin/objects", "/admin/revisions", "/admin/trash", "/admin/profiles"]),
])
def test_setup_shows_only_what_the_users_permissions_allow(sales: ApiOrg, profile: str, shown: list[str],
                                                           hidden: list[str]) -> None:
    browser = browser_for(sales, sales.user(profile, password=PASSWORD))
    setup = browser.get("/admin").text
    assert all(f'href="{link}"' in setup for link in shown)
    assert not any(f'href="{link}"' in setup for link in hidden)
    assert browser.get("/admin/objects").status_code == (200 if profile == "builder" else 403)


def test_setup_is_403_without_either_permission(rep: TestClient) -> None:
    answer = rep.get("/admin")
    assert answer.status_code == 403 and "manage_metadata" in answer.text


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/admin/objects"), ("GET", "/admin/objects/new"), ("POST", "/admin/objects/new"),
    ("GET", "/admin/objects/deal"), ("POST", "/admin/objects/deal"), ("GET", "/admin/objects/deal/delete"),
    ("GET", "/admin/objects/deal/fields/new"), ("GET", "/admin/objects/deal/fields/new?type=text"),
    ("POST", "/admin/objects/deal/fields/new"), ("GET", "/admin/objects/deal/fields/amount"),
    ("POST", "/admin/objects/deal/fields/amount"), ("GET", "/admin/objects/deal/fields/amount/delete"),
    ("POST", "/admin/formula/check"),
])
def test_a_standard_user_gets_403_on_every_object_page(rep: TestClient, method: str, path: str) -> None:
    token = token_in(rep.get("/").text)
    answer = rep.request(method, path, data={"csrf_token": token, "type": "text", "label": "X",
                                             "object": "deal", "expression": "1"} if method == "POST" else None)
    assert answer.status_code == 403, answer.text
    assert "manage_metadata" in answer.text and "<form" not in answer.text.split("</header>")[1]


def test_the_object_list_shows_each_object_with_its_fields_and_links(admin: TestClient) -> None:
    page = admin.get("/admin/objects").text
    rows = re.findall(r"<tr>\s*<td><a href=\"(/admin/objects/\w+)\">(\w+)</a></td>\s*<td><code>(\w+)</code></td>"
                      r"\s*<td>\w+</td>\s*<td class=\"num\">(\d+)</td>", page)
    assert rows == [("/admin/objects/account", "Account", "account", "10"),
                    ("/admin/objects/contact", "Contact", "contact", "7"),
                    ("/admin/objects/deal", "Deal", "deal", "11")]
    assert 'href="/admin/objects/new"' in page and 'href="/o/deal"' in page


def test_the_object_page_lists_fields_layouts_list_views_and_rules(admin: TestClient) -> None:
    page = admin.get("/admin/objects/deal").text
    for link, text in [("/admin/objects/deal/fields/amount", "Amount"),
                       ("/admin/objects/deal/fields/weighted_amount", "Weighted amount"),
                       ("/admin/objects/deal/layouts/default", "default"),
                       ("/admin/objects/deal/list_views/open_deals", "Open deals"),
                       ("/admin/objects/deal/validation_rules/won_needs_amount", "A won deal needs its amount"),
                       ("/admin/objects/deal/fields/new", "New field"),
                       ("/admin/objects/deal/layouts/new", "New layout"),
                       ("/admin/objects/deal/list_views/new", "New list view"),
                       ("/admin/objects/deal/validation_rules/new", "New validation rule"),
                       ("/admin/objects/deal/delete", "Delete object")]:
        assert re.search(rf'href="{link}">{text}', page), link
    assert "Lookup (account)" in page and "Formula (currency)" in page
    row = re.search(r'fields/name">Deal name</a>.*?</tr>', page, re.S)
    assert row and "name field" in row.group(0) and "Yes" in row.group(0)  # the title, required
    properties = form_in(page, "/admin/objects/deal").values
    assert (properties["label"], properties["name_field"], properties["sharing"]) == ("Deal", "name", "private")
    assert properties["track_history"] == "true" and properties["searchable"] == "true"


def test_the_type_picker_offers_every_registered_type(admin: TestClient) -> None:
    page = admin.get("/admin/objects/deal/fields/new").text
    offered = re.findall(r'href="/admin/objects/deal/fields/new\?type=(\w+)"', page)
    assert sorted(offered) == sorted(FIELD_TYPES)
    assert "An amount of money, stored as numeric." in page  # each type's description


@pytest.mark.parametrize("type_name", sorted(FIELD_TYPES))
def test_the_form_of_every_type_has_that_types_options(admin: TestClient, type_name: str) -> None:
    page = admin.get(f"/admin/objects/account/fields/new?type={type_name}")
    assert page.status_code == 200
    form = form_in(page.text, "/admin/objects/account/fields/new")
    posted = set(form.values) | set(form.choices)
    for option in options_of(type_name):
        name = f"{option.input}-rows" if option.kind is OptionKind.VALUES else option.input
        assert name in posted or f'name="{name}"' in page.text, (type_name, name)
    assert {"label", "name", "type", "csrf_token"} <= posted
    assert form.values["type"] == type_name
    computed = not FIELD_TYPES[type_name].writable
    assert ('name="default_formula"' in page.text) is not computed


#: what a field of each type needs besides a label, to be added
NEEDS: dict[str, dict[str, str]] = {
    "picklist": {"values-0-value": "a"}, "multipicklist": {"values-0-value": "a", "values-1-value": "b"},
    "lookup": {"target": "contact"}, "master_detail": {"target": "contact"},
    "formula": {"expression": "employees * 2"}, "rollup": {"relation": "deal.account", "function": "count"},
    "autonumber": {"format": "A-{0000}"},
}


@pytest.mark.parametrize("type_name", sorted(FIELD_TYPES))
def test_a_field_of_every_type_can_be_added(admin: TestClient, type_name: str) -> None:
    preview = fill(admin, f"/admin/objects/account/fields/new?type={type_name}", label="Extra",
                   **NEEDS.get(type_name, {}))
    assert preview.status_code == 200, preview.text
    assert "Add field &#39;Extra&#39; to Account" in preview.text and 'action="/admin/apply"' in preview.text
    assert "account.extra" in preview.text  # a step adds it


def test_the_roll_up_form_offers_the_relations_and_fields_that_fit(admin: TestClient) -> None:
    page = admin.get("/admin/objects/account/fields/new?type=rollup").text
    choices = form_in(page, "/admin/objects/account/fields/new").choices
    assert choices["relation"] == ["", "contact.account", "deal.account"]
    assert choices["function"] == ["", "count", "sum", "min", "max"]
    assert "amount" in choices["field"] and "close_date" in choices["field"] and "name" not in choices["field"]
    narrowed = admin.get("/admin/objects/account/fields/new?type=rollup&relation=contact.account").text
    assert form_in(narrowed, "/admin/objects/account/fields/new").choices["field"] == ["", "birthdate"]


def test_a_fields_form_shows_what_it_is(admin: TestClient) -> None:
    amount = form_in(admin.get("/admin/objects/deal/fields/amount").text, "/admin/objects/deal/fields/amount")
    assert {k: amount.values[k] for k in ("label", "name", "type", "precision", "scale", "indexed")} == \
        {"label": "Amount", "name": "amount", "type": "currency", "precision": "18", "scale": "2", "indexed": "true"}
    # the types that can take its values over
    assert amount.choices["type"] == ["text", "textarea", "integer", "number", "currency", "percent"]
    stage = form_in(admin.get("/admin/objects/deal/fields/stage").text, "/admin/objects/deal/fields/stage").values
    assert (stage["values-0-value"], stage["values-0-label"], stage["values-0-default"]) == \
        ("prospecting", "Prospecting", "true")
    assert stage["values-5-value"] == "closed_lost" and stage["values-6-value"] == ""  # and empty rows to add
    formula = admin.get("/admin/objects/deal/fields/weighted_amount").text
    assert "Valid: returns currency" in formula and 'hx-post="/admin/formula/check"' in formula


def test_the_formula_check_says_what_a_valid_formula_returns(admin: TestClient) -> None:
    token = token_in(admin.get("/admin").text)
    for expression, return_type, returns in [("amount * probability / 100", "currency", "currency"),
                                             ("amount > 1000", "", "boolean"),
                                             ('account.name & " – " & name', "", "text")]:
        answer = admin.post("/admin/formula/check", data={"csrf_token": token, "object": "deal",
                                                          "expression": expression, "return_type": return_type})
        assert answer.status_code == 200 and "<html" not in answer.text
        assert f"Valid: returns {returns}" in answer.text, expression


@pytest.mark.parametrize(("expression", "return_type", "message", "line", "caret"), [
    ("amount *", "currency", "Line 1, column 8: The formula ends too early", "amount *", "       ^"),
    ("amount +\n  amout", "currency", "Line 2, column 3: Object &#39;deal&#39; has no field &#39;amout&#39;; "
                                      "did you mean &#39;amount&#39;?", "  amout", "  ^"),
    ("close_date", "currency", "Line 1, column 1: The formula must give a number; it gives a date.",
     "close_date", "^"),
])
def test_the_formula_check_shows_an_error_at_its_place(admin: TestClient, expression: str, return_type: str,
                                                       message: str, line: str, caret: str) -> None:
    token = token_in(admin.get("/admin").text)
    answer = admin.post("/admin/formula/check", data={"csrf_token": token, "object": "deal",
                                                      "expression": expression, "return_type": return_type})
    assert answer.status_code == 200 and "Valid" not in answer.text
    assert message in answer.text
    assert f"{line}\n{caret}</pre>" in answer.text


def test_the_formula_check_checks_a_rules_condition_as_the_loader_does(admin: TestClient) -> None:
    token = token_in(admin.get("/admin").text)
    check = {"csrf_token": token, "object": "deal", "expression": "ISCHANGED(stage) && amount > 10"}
    as_condition = admin.post("/admin/formula/check", data={**check, "use": "condition"})
    assert "Valid: returns boolean" in as_condition.text
    as_field = admin.post("/admin/formula/check", data=check)
    assert "ISCHANGED sees the record before a write" in as_field.text
    not_boolean = admin.post("/admin/formula/check", data={**check, "use": "condition", "expression": "amount"})
    assert "The formula must give a boolean (true/false); it gives a number." in not_boolean.text


def test_the_formula_check_needs_the_forms_csrf_token(admin: TestClient) -> None:
    answer = admin.post("/admin/formula/check", data={"object": "deal", "expression": "amount"})
    assert answer.status_code == 403


@pytest.mark.parametrize(("changes", "at", "message"), [
    ({"label": "", "name": "", "max_length": "80"}, "label", "Enter a label"),
    ({"label": "Amount", "name": "amount"}, "name", "The object already has a field named 'amount'"),
    ({"label": "Owner", "name": "owner"}, "name", "'owner' is a system field every object has"),
    ({"label": "Big", "name": "Big Name"}, "name", "'Big Name' is not a valid API name"),
    ({"label": "New", "name": "new"}, "name", "'new' is taken by the address of Setup's form for a new one"),
    ({"label": "Code", "max_length": "999"}, "max_length", "max_length 999 is above the maximum 255"),
    ({"label": "Code", "max_length": "lots"}, "max_length", "Maximum length: 'lots' is not a whole number"),
    ({"label": "Code", "default": "x" * 300, "max_length": "20"}, "default", "Default value: "),
])
def test_bad_input_shows_the_message_at_the_field_and_keeps_what_was_typed(
        admin: TestClient, changes: dict[str, str], at: str, message: str) -> None:
    typed = {"help_text": "Kept <b>as typed</b>", "unique": "true", **changes}
    answer = fill(admin, "/admin/objects/deal/fields/new?type=text", **typed)
    assert answer.status_code == 422
    assert message in error_at(answer.text, at)
    assert 'aria-invalid="true"' in answer.text
    form = form_in(answer.text, "/admin/objects/deal/fields/new").values
    assert form["help_text"] == "Kept <b>as typed</b>" and form["unique"] == "true"
    for key in ("label", "max_length"):
        assert form[key] == typed.get(key, form[key])
    assert "<b>as typed</b>" not in answer.text  # escaped


def test_picklist_values_that_are_wrong_show_at_the_values_and_stay(admin: TestClient) -> None:
    answer = fill(admin, "/admin/objects/deal/fields/new?type=picklist", label="Region",
                  **{"values-0-value": "north", "values-1-value": "north", "values-2-value": "a;b"})
    assert answer.status_code == 422
    message = error_at(answer.text, "values")
    assert "'north' is listed twice" in message and "'a;b' must not contain ';'" in message
    form = form_in(answer.text, "/admin/objects/deal/fields/new").values
    assert [form[f"values-{i}-value"] for i in range(4)] == ["north", "north", "a;b", ""]


def test_picklist_rows_are_added_and_removed(admin: TestClient) -> None:
    more = fill(admin, "/admin/objects/deal/fields/stage", action="more_values", restricted=None,
                **{"values-6-value": "on_hold"})
    rows = form_in(more.text, "/admin/objects/deal/fields/stage").values
    assert more.status_code == 200 and rows["values-6-value"] == "on_hold"
    assert "restricted" not in rows  # what was unticked stays so
    assert int(rows["values-rows"]) == 13 and rows["values-12-value"] == ""  # six more empty rows

    added = fill(admin, "/admin/objects/deal/fields/stage",
                 **{"values-6-value": "on_hold", "values-6-label": "On hold"})
    assert added.status_code == 200 and "Change field &#39;Stage&#39; of Deal" in added.text

    removed = fill(admin, "/admin/objects/deal/fields/stage", **{"values-5-remove": "true"})
    assert removed.status_code == 422  # filters still name the value: each says where it is
    assert "&#39;closed_lost&#39; is not one of" in removed.text
    for place in ('href="/admin/objects/deal/list_views/open_deals">list view &#39;Open deals&#39; of Deal',
                  'href="/admin/objects/account/fields/open_pipeline">field &#39;Open pipeline&#39; of Account'):
        assert place in removed.text
    kept = form_in(removed.text, "/admin/objects/deal/fields/stage").values
    assert [kept[f"values-{i}-value"] for i in range(6)] == \
        ["prospecting", "qualification", "proposal", "negotiation", "closed_won", ""]


def test_a_formula_field_with_an_error_shows_it_at_the_expression(admin: TestClient) -> None:
    answer = fill(admin, "/admin/objects/deal/fields/new?type=formula", label="Margin", expression="amount - cost",
                  return_type="currency")
    assert answer.status_code == 422
    assert "object 'deal' has no field 'cost'" in error_at(answer.text, "expression")
    assert "amount - cost\n         ^" in answer.text
    assert form_in(answer.text, "/admin/objects/deal/fields/new").values["expression"] == "amount - cost"


def test_a_change_that_breaks_other_metadata_says_what_and_where(admin: TestClient) -> None:
    answer = fill(admin, "/admin/objects/deal/fields/amount", type="text", form_type="text")
    assert answer.status_code == 422
    assert "The change cannot be planned yet" in answer.text
    assert "Roll-up &#39;open_pipeline&#39; cannot sum field &#39;deal.amount&#39; (text)" in answer.text
    assert 'href="/admin/objects/account/fields/open_pipeline">field &#39;Open pipeline&#39; of Account' in answer.text


@pytest.mark.parametrize(("changes", "at", "message"), [
    ({"label": ""}, "label", "Enter a label"),
    ({"label": "Deal", "name": "deal"}, "name", "There already is an object named 'deal'"),
    ({"label": "Thing", "name": "1thing"}, "name", "'1thing' is not a valid API name"),
])
def test_a_new_objects_form_shows_its_errors_at_the_fields(admin: TestClient, changes: dict[str, str], at: str,
                                                           message: str) -> None:
    answer = fill(admin, "/admin/objects/new", description="Kept", **changes)
    assert answer.status_code == 422
    assert message in error_at(answer.text, at)
    assert form_in(answer.text, "/admin/objects/new").values["description"] == "Kept"


def test_an_object_others_point_at_cannot_be_deleted_and_the_page_says_why(admin: TestClient) -> None:
    answer = admin.get("/admin/objects/account/delete")
    assert answer.status_code == 409
    assert "Object Account cannot be deleted yet" in answer.text
    assert "field &#39;account&#39; of object &#39;contact&#39; points at object &#39;account&#39;" in answer.text
    assert 'href="/admin/objects/contact/fields/account">field &#39;Account&#39; of Contact</a>' in answer.text
    assert 'action="/admin/apply"' not in answer.text


def test_the_name_field_cannot_be_deleted(admin: TestClient) -> None:
    answer = admin.get("/admin/objects/deal/fields/name/delete")
    assert answer.status_code == 409 and "is the name field of Deal" in answer.text


@pytest.mark.parametrize("path", ["/admin/objects/nothing", "/admin/objects/nothing/fields/new",
                                  "/admin/objects/deal/fields/nothing", "/admin/objects/deal/fields/nothing/delete",
                                  "/admin/objects/nothing/delete"])
def test_what_does_not_exist_is_404(admin: TestClient, path: str) -> None:
    assert admin.get(path).status_code == 404


# -- changes, each on an org of its own ----------------------------------------------------------

@pytest.fixture
def acme(api_org: Callable[..., ApiOrg]) -> ApiOrg:
    bundle = sales_bundle()
    tier = {"name": "tier", "type": "picklist", "values": [{"value": "gold"}, {"value": "silver"}], "default": "silver"}
    bundle["objects"].append(make_object("note", {"name": "body", "type": "textarea"}, tier, label="Note"))
    return api_org(bundle)


@pytest.fixture
def ada(acme: ApiOrg) -> TestClient:
    return browser_for(acme, acme.user("admin", name="ada", password=PASSWORD))


def add_field(browser: TestClient, object_name: str, type_name: str, **values: Any) -> None:
    preview = fill(browser, f"/admin/objects/{object_name}/fields/new?type={type_name}", **values)
    assert f"Add field &#39;{values['label']}&#39;" in preview.text, preview.text
    applied = apply_preview(browser, preview)
    assert (applied.status_code, applied.headers["location"]) == (303, f"/admin/objects/{object_name}")


def test_an_admin_builds_an_object_and_its_fields_and_records_use_them(acme: ApiOrg, ada: TestClient) -> None:
    preview = fill(ada, "/admin/objects/new", label="Invoice", plural_label="Invoices", sharing="public_read",
                   name_field_label="Invoice number")
    assert "Create object &#39;Invoice&#39;" in preview.text and "create table" in preview.text.lower()
    created = apply_preview(ada, preview)
    assert (created.status_code, created.headers["location"]) == (303, "/admin/objects")
    assert "Invoice" in ada.get("/admin/objects").text  # the name 'invoice' came from the label

    add_field(ada, "invoice", "text", label="Reference", max_length="40", unique="true")
    add_field(ada, "invoice", "picklist", label="Status", **{
        "values-0-value": "draft", "values-0-label": "Draft", "values-0-default": "true",
        "values-1-value": "sent", "values-1-label": "Sent", "values-2-label": "Paid"})
    add_field(ada, "invoice", "currency", label="Total", required="true")
    add_field(ada, "invoice", "date", label="Due date", default="2030-01-31")
    add_field(ada, "invoice", "lookup", label="Customer", target="account", on_delete="restrict",
              relationship_name="invoices")
    add_field(ada, "invoice", "formula", label="Total with tax", return_type="currency", expression="total * 1.2")
    add_field(ada, "account", "rollup", label="Invoiced", relation="invoice.customer", function="sum", field="total")

    fields = acme.runtime.model().objects["invoice"].defn
    assert (fields.label, fields.plural_label, fields.sharing, fields.name_field) == \
        ("Invoice", "Invoices", "public_read", "name")
    assert [(f.name, f.type) for f in fields.fields] == [
        ("name", "text"), ("reference", "text"), ("status", "picklist"), ("total", "currency"),
        ("due_date", "date"), ("customer", "lookup"), ("total_with_tax", "formula")]
    assert [v.value for v in fields.field("status").values] == ["draft", "sent", "Paid"]

    api = acme.user("admin").client
    account = api.post("/api/v1/records/account", json={"name": "Acme"}).json()
    made = api.post("/api/v1/records/invoice", json={"name": "INV-1", "reference": "R-1", "total": "100",
                                                     "customer": account["id"]})
    assert made.status_code == 201, made.text
    record = made.json()
    assert (record["status"], record["due_date"], record["total_with_tax"]) == ("draft", "2030-01-31", 120.0)
    assert api.post("/api/v1/records/invoice", json={"name": "INV-2", "total": 1, "status": "void"}).status_code == 422
    assert api.get(f"/api/v1/records/account/{account['id']}").json()["invoiced"] == 100.0


def test_deleting_a_field_with_data_asks_for_confirmation_and_shows_the_rows(acme: ApiOrg, ada: TestClient) -> None:
    api = acme.user("admin").client
    for name in ("Ann", "Bob"):
        made = api.post("/api/v1/records/contact", json={"last_name": name, "birthdate": "1990-01-02"})
        assert made.status_code == 201
    preview = ada.get("/admin/objects/contact/fields/birthdate/delete")
    assert preview.status_code == 200
    row = re.search(r'<tr class="safety-data_losing">(.*?)</tr>', preview.text, re.S)
    assert row and "delete field &#39;contact.birthdate&#39;" in row.group(1) and "<td>2</td>" in row.group(1)
    assert 'name="confirm_data_loss"' in preview.text

    refused = apply_preview(ada, preview)
    assert refused.status_code == 409 and "birthdate" in refused.text
    assert acme.runtime.model().objects["contact"].defn.field("birthdate") is not None

    applied = apply_preview(ada, preview, confirm=True)
    assert (applied.status_code, applied.headers["location"]) == (303, "/admin/objects/contact")
    assert acme.runtime.model().objects["contact"].defn.field("birthdate") is None
    assert "Applied as revision" in ada.get("/admin/objects/contact").text


def test_narrowing_a_field_shows_the_data_losing_step(acme: ApiOrg, ada: TestClient) -> None:
    api = acme.user("admin").client
    assert api.post("/api/v1/records/account", json={"name": "Acme Corporation"}).status_code == 201
    preview = fill(ada, "/admin/objects/account/fields/name", max_length="4", label="Name")
    assert preview.status_code == 200, preview.text
    assert "Change field &#39;Name&#39; of Account" in preview.text
    assert re.search(r'<tr class="safety-data_losing">.*?<td>1</td>', preview.text, re.S)
    assert apply_preview(ada, preview, confirm=True).status_code == 303
    assert acme.runtime.model().objects["account"].defn.field("name").max_length == 4


def test_changing_a_fields_type_shows_the_new_types_options_then_converts(acme: ApiOrg, ada: TestClient) -> None:
    switched = fill(ada, "/admin/objects/note/fields/body", type="text", action="retype")
    assert switched.status_code == 200 and "Set the options of a text field" in switched.text
    form = form_in(switched.text, "/admin/objects/note/fields/body").values
    assert (form["form_type"], form["type"], form["max_length"]) == ("text", "text", "32768")
    form["max_length"] = "200"
    preview = ada.post("/admin/objects/note/fields/body", data=form)
    assert preview.status_code == 200, preview.text
    assert "safety-converting" in preview.text or "safety-data_losing" in preview.text
    assert apply_preview(ada, preview, confirm=True).status_code == 303
    body = acme.runtime.model().objects["note"].defn.field("body")
    assert (body.type, body.max_length) == ("text", 200)


def test_what_a_fields_form_does_not_show_is_kept(acme: ApiOrg, ada: TestClient) -> None:
    preview = fill(ada, "/admin/objects/note/fields/tier", label="Level")
    assert apply_preview(ada, preview).status_code == 303
    tier = acme.runtime.model().objects["note"].defn.field("tier")
    assert (tier.label, tier.default) == ("Level", "silver")  # a default given by hand, not on the form


def test_editing_an_objects_properties(acme: ApiOrg, ada: TestClient) -> None:
    preview = fill(ada, "/admin/objects/contact", label="Person", plural_label="People", name_field="first_name",
                   searchable=None, description="People we know")
    assert "Change object &#39;Person&#39;" in preview.text
    assert apply_preview(ada, preview).status_code == 303
    contact = acme.runtime.model().objects["contact"].defn
    assert (contact.label, contact.plural_label, contact.name_field, contact.searchable, contact.description) == \
        ("Person", "People", "first_name", False, "People we know")
    assert [f.name for f in contact.fields] == [f["name"] for f in obj(sales_bundle(), "contact")["fields"]]


def test_a_name_field_must_be_a_text_field(acme: ApiOrg, ada: TestClient) -> None:
    answer = fill(ada, "/admin/objects/contact", name_field="birthdate")
    assert answer.status_code == 422
    assert "'birthdate' is not a text field of Contact" in error_at(answer.text, "name_field")


def test_deleting_an_object_shows_its_rows_and_needs_the_confirmation(acme: ApiOrg, ada: TestClient) -> None:
    api = acme.user("admin").client
    assert api.post("/api/v1/records/note", json={"body": "hello"}).status_code == 201
    preview = ada.get("/admin/objects/note/delete")
    assert "Delete object &#39;Note&#39;" in preview.text
    assert re.search(r'<tr class="safety-data_losing">.*?<td>1</td>', preview.text, re.S)
    assert apply_preview(ada, preview).status_code == 409
    assert apply_preview(ada, preview, confirm=True).headers["location"] == "/admin/objects"
    assert "note" not in acme.runtime.model().objects
