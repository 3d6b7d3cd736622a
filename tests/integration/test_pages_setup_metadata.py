"""Setup pages for metadata history and components: revisions (diff, revert through the
preview), the trash (restore), and the layout, list view and validation rule editors."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from html import unescape
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.support.api import BACKENDS, PASSWORD, ApiOrg, served_org
from tests.support.bundles import drop_field, edited, field, obj, sales_bundle
from tests.support.forms import form_in, forms_in
from tests.support.pages import browser_for, token_in

pytestmark = pytest.mark.usefixtures("no_server_errors")

RATING = {"name": "rating", "label": "Rating", "type": "integer"}


# -- driving the editors' forms as a browser would ---------------------------------------

def press(browser: TestClient, page: Any, form_id: str, action: str, **changes: str) -> Any:
    """Change the editor form's values and press the button ``action``; the page that comes back."""
    form = form_in(page.text, form_id=form_id)
    values = {**form.values, **changes, "action": action}
    values = {k: v for k, v in values.items() if v is not None}
    return browser.post(form.action, data=values)


def apply_preview(browser: TestClient, preview: Any, confirm: bool = False) -> Any:
    """Press Apply on the plan preview page (ticking the data-loss confirmation if ``confirm``)."""
    assert preview.status_code == 200, preview.text
    form = next(f for f in forms_in(preview.text) if f.action == "/admin/apply" or f.action.endswith("/revert"))
    data = {k: v for k, v in form.values.items() if k != "confirm_data_loss"}
    if confirm:
        data["confirm_data_loss"] = "yes"
    return browser.post(form.action, data=data, follow_redirects=False)


def error_at(html: str, part: str) -> str:
    """The text of the problems shown at editor part ``part``."""
    found = re.search(rf'<div class="field-error" id="{re.escape(part)}-error">(.*?)</div>', html, re.S)
    assert found, f"no error at {part}:\n{html}"
    return unescape(re.sub(r"<[^>]+>", " ", found.group(1)))


def admin_browser(org: ApiOrg) -> TestClient:
    return browser_for(org, org.user("admin", password=PASSWORD))


def layout(org: ApiOrg, object_name: str, name: str) -> dict[str, Any] | None:
    bundle = org.runtime.metadata.bundle().to_dict()
    return next((c for c in bundle.get("layouts", []) if (c["object"], c["name"]) == (object_name, name)), None)


def revision_number(org: ApiOrg) -> int:
    return org.runtime.metadata.revisions()[-1].number


# -- an org the reading tests share: revision 2 adds a field, revision 3 renames it ----------

@pytest.fixture(scope="module", params=BACKENDS)
def sales(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiOrg]:
    with served_org(request, request.param, tmp_path_factory.mktemp("setup_metadata"), sales_bundle()) as org:
        with_rating = edited(sales_bundle())
        obj(with_rating, "account")["fields"].append(RATING)
        org.runtime.metadata.apply(with_rating, author="ann", message="add a rating")
        renamed = edited(with_rating)
        field(renamed, "account", "rating").update(name="score", renamed_from="rating")
        org.runtime.metadata.apply(renamed, author="bob", message="call it score")
        yield org


@pytest.fixture(scope="module")
def admin(sales: ApiOrg) -> TestClient:
    return admin_browser(sales)


def test_the_revisions_list_shows_number_author_message_and_steps(admin: TestClient) -> None:
    page = admin.get("/admin/revisions")
    assert page.status_code == 200
    body = page.text.split("<tbody>")[1]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    texts = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in rows]
    assert [t.split()[0] for t in texts] == ["3", "2", "1"]  # newest first
    assert "bob" in texts[0] and "call it score" in texts[0] and texts[0].endswith(" 1")
    assert "ann" in texts[1] and "add a rating" in texts[1]
    assert 'href="/admin/revisions/2"' in page.text


def test_a_revision_shows_its_diff_and_steps(admin: TestClient) -> None:
    added = admin.get("/admin/revisions/2")
    assert added.status_code == 200
    assert "What changed since revision 1" in added.text
    assert "add field &#39;account.rating&#39; (integer)" in added.text
    assert "add column &#39;account.rating&#39; (integer)" in added.text and "badge safe" in added.text
    assert 'href="/admin/revisions/2/revert"' in added.text
    renamed = admin.get("/admin/revisions/3")
    assert "rename field &#39;account.rating&#39; to &#39;score&#39;" in renamed.text  # a rename, not delete + add
    assert "delete field" not in renamed.text
    assert "/admin/revisions/3/revert" not in renamed.text  # the current revision
    first = admin.get("/admin/revisions/1")
    assert "create object &#39;deal&#39; with 11 fields" in first.text
    assert admin.get("/admin/revisions/9").status_code == 404


def test_previewing_a_revert_changes_nothing(sales: ApiOrg, admin: TestClient) -> None:
    preview = admin.get("/admin/revisions/1/revert")
    assert preview.status_code == 200
    assert "Revert the metadata to revision 1" in preview.text
    assert "delete field &#39;account.score&#39; (integer)" in preview.text
    form = form_in(preview.text, "/admin/revisions/1/revert")
    assert form.values["revision"] == "3" and "bundle" not in form.values
    assert revision_number(sales) == 3


# -- revert ----------------------------------------------------------------------------------

@pytest.fixture
def acme(api_org: Callable[..., ApiOrg]) -> ApiOrg:
    return api_org(sales_bundle())


def test_revert_goes_through_the_preview_and_restores_the_earlier_metadata(acme: ApiOrg) -> None:
    api = acme.user("admin").client
    account = api.post("/api/v1/records/account", json={"name": "Acme", "employees": 5}).json()
    changed = edited(sales_bundle())
    field(changed, "account", "employees").update(name="headcount", renamed_from="employees")
    for section in next(x for x in changed["layouts"] if x["object"] == "account")["sections"]:
        section["fields"] = ["headcount" if f == "employees" else f for f in section["fields"]]
    obj(changed, "account")["fields"].append(RATING)
    acme.runtime.metadata.apply(changed, author="tests", message="rename and rate")
    api.patch(f"/api/v1/records/account/{account['id']}", json={"rating": 4, "version": account["version"] + 1})
    browser = admin_browser(acme)

    preview = browser.get("/admin/revisions/1/revert")
    assert "rename field &#39;account.headcount&#39; to &#39;employees&#39;" in preview.text
    assert "data-losing" in preview.text and 'name="confirm_data_loss"' in preview.text

    unconfirmed = apply_preview(browser, preview)
    assert unconfirmed.status_code == 409 and "confirm" in unconfirmed.text
    assert revision_number(acme) == 2  # nothing changed

    stale = form_in(preview.text, "/admin/revisions/1/revert").values
    moved_on = browser.post("/admin/revisions/1/revert", data={**stale, "revision": "1", "confirm_data_loss": "yes"})
    assert moved_on.status_code == 409 and "plan it again" in moved_on.text
    assert revision_number(acme) == 2

    done = apply_preview(browser, preview, confirm=True)
    assert (done.status_code, done.headers["location"]) == (303, "/admin/revisions")
    assert "Applied as revision 3" in browser.get("/admin/revisions").text
    fields = [f["name"] for f in acme.runtime.metadata.bundle().to_dict()["objects"][0]["fields"]]
    assert "employees" in fields and "headcount" not in fields and "rating" not in fields
    assert api.get(f"/api/v1/records/account/{account['id']}").json()["employees"] == 5  # renamed back, kept
    assert "field &#39;account.rating&#39;" in browser.get("/admin/trash").text


# -- trash -----------------------------------------------------------------------------------

def test_moved_aside_data_is_in_the_trash_and_restoring_brings_the_values_back(acme: ApiOrg) -> None:
    api = acme.user("admin").client
    contact = api.post("/api/v1/records/contact", json={"last_name": "Lee", "birthdate": "1990-04-01"}).json()
    without = edited(sales_bundle())
    drop_field(without, "contact", "birthdate")
    acme.runtime.metadata.apply(without, author="tests", confirm_data_loss=True)
    browser = admin_browser(acme)

    trash = browser.get("/admin/trash")
    assert "field &#39;contact.birthdate&#39;" in trash.text and "1 value(s)" in trash.text
    assert 'href="/admin/revisions/2"' in trash.text
    entry = acme.runtime.metadata.trash()[0]["id"]
    confirm = browser.get(f"/admin/trash/{entry}/restore")
    assert "What restoring does" in confirm.text and "must not have a field named &#39;birthdate&#39;" in confirm.text
    assert "birthdate" not in api.get(f"/api/v1/records/contact/{contact['id']}").json()  # not yet

    # a field of that name exists again: the restore is refused, and the page says what it needs
    again = edited(without)
    obj(again, "contact")["fields"].append({"name": "birthdate", "label": "Birthdate", "type": "text"})
    acme.runtime.metadata.apply(again, author="tests")
    refused = browser.post(f"/admin/trash/{entry}/restore", data={"csrf_token": token_in(confirm.text)})
    assert refused.status_code == 409
    assert "has a field &#39;birthdate&#39; again" in refused.text and "What restoring needs" in refused.text
    acme.runtime.metadata.apply(without, author="tests", confirm_data_loss=True)

    restored = browser.post(f"/admin/trash/{entry}/restore", data={"csrf_token": token_in(confirm.text)},
                            follow_redirects=False)
    assert (restored.status_code, restored.headers["location"]) == (303, "/admin/trash")
    assert "Restored field &#39;contact.birthdate&#39; as revision 5" in browser.get("/admin/trash").text
    assert api.get(f"/api/v1/records/contact/{contact['id']}").json()["birthdate"] == "1990-04-01"
    twice = browser.post(f"/admin/trash/{entry}/restore", data={"csrf_token": token_in(confirm.text)})
    assert twice.status_code == 409 and "already restored" in twice.text


# -- the layout editor -------------------------------------------------------------------------

def test_the_layout_editor_adds_a_section_moves_a_field_and_marks_it_required(acme: ApiOrg) -> None:
    browser = admin_browser(acme)
    page = browser.get("/admin/objects/deal/layouts/default")
    assert page.status_code == 200
    values = form_in(page.text, form_id="layout-editor").values
    assert values["s0_label"] == "Deal" and values["s0_f3"] == "amount" and values["s1_label"] == "Details"

    page = press(browser, page, "layout-editor", "add_section")
    assert page.status_code == 200
    assert form_in(page.text, form_id="layout-editor").values["s2_label"] == "Section 3"
    assert 'id="s2_label" name="s2_label" type="text" value="Section 3" autofocus' in page.text
    page = press(browser, page, "layout-editor", "move_field:0:3", s2_label="Money", s0_f3_to="2")
    values = form_in(page.text, form_id="layout-editor").values
    assert values["s2_label"] == "Money" and values["s2_f0"] == "amount"
    assert "amount" not in [v for k, v in values.items() if k.startswith("s0_f")]
    page = press(browser, page, "layout-editor", "field_up:1:0")  # a no-op at the top: nothing breaks
    assert page.status_code == 200
    assert layout(acme, "deal", "default")["sections"][0]["fields"][3] == "amount"  # nothing stored yet

    preview = press(browser, page, "layout-editor", "preview", s2_f0_required="yes")
    assert "Change layout &#39;default&#39; of deal" in preview.text
    assert "change layout &#39;deal.default&#39;" in preview.text
    applied = apply_preview(browser, preview)
    assert (applied.status_code, applied.headers["location"]) == (303, "/admin/objects/deal")
    stored = layout(acme, "deal", "default")
    assert stored["sections"][2] == {"label": "Money", "columns": 1, "fields": [{"field": "amount", "required": True}]}
    assert "amount" not in stored["sections"][0]["fields"]


def test_the_layout_editor_creates_a_layout_with_a_related_list_and_deletes_it(acme: ApiOrg) -> None:
    browser = admin_browser(acme)
    page = browser.get("/admin/objects/account/layouts/new")
    values = form_in(page.text, form_id="layout-editor").values
    assert values["name"] == "" and values["s0_f0"] == "name"  # starts with every field
    assert form_in(page.text, form_id="layout-editor").choices["add_related"] == ["contact.account", "deal.account"]
    page = press(browser, page, "layout-editor", "add_related", add_related="deal.account")
    assert form_in(page.text, form_id="layout-editor").values["r0_columns"] == "name, primary_contact, amount"
    page = press(browser, page, "layout-editor", "remove_field:0:1")
    preview = press(browser, page, "layout-editor", "preview", name="compact", r0_columns="name, amount")
    assert apply_preview(browser, preview).status_code == 303
    stored = layout(acme, "account", "compact")
    assert stored["related_lists"] == [{"object": "deal", "field": "account", "columns": ["name", "amount"]}]
    assert "industry" not in stored["sections"][0]["fields"]

    editor = browser.get("/admin/objects/account/layouts/compact")
    deleting = browser.post("/admin/objects/account/layouts/compact/delete",
                            data={"csrf_token": token_in(editor.text)})
    assert "delete layout &#39;account.compact&#39;" in deleting.text
    assert layout(acme, "account", "compact") is not None  # the preview is the confirmation
    assert apply_preview(browser, deleting).status_code == 303
    assert layout(acme, "account", "compact") is None


# -- the list view editor ----------------------------------------------------------------------

def test_the_list_view_editor_creates_a_view_with_columns_filter_and_sort(acme: ApiOrg) -> None:
    browser = admin_browser(acme)
    page = browser.get("/admin/objects/deal/list_views/new")
    assert form_in(page.text, form_id="list-view-editor").values["c0"] == "name"
    assert "account.name" in form_in(page.text, form_id="list-view-editor").choices["add_column"]
    page = press(browser, page, "list-view-editor", "add_column", add_column="account.name")
    page = press(browser, page, "list-view-editor", "add_column", add_column="amount")
    page = press(browser, page, "list-view-editor", "add_filter")
    page = press(browser, page, "list-view-editor", "refresh:0", f0_field="amount")  # the field's operators
    ops = form_in(page.text, form_id="list-view-editor").choices["f0_op"]
    assert "gte" in ops and "is_null" in ops and "is_not_null" in ops and "contains" not in ops
    page = press(browser, page, "list-view-editor", "add_filter", f0_op="gte", f0_value="1000")
    page = press(browser, page, "list-view-editor", "refresh:1", f1_field="stage")
    page = press(browser, page, "list-view-editor", "add_sort", f1_op="in", f1_value="proposal, negotiation")
    page = press(browser, page, "list-view-editor", "add_sort", o0_field="amount", o0_dir="desc")
    page = press(browser, page, "list-view-editor", "column_up:2", o1_field="close_date")
    preview = press(browser, page, "list-view-editor", "preview", name="big_deals", label="Big deals")
    assert "Add list view &#39;big_deals&#39; to deal" in preview.text
    assert apply_preview(browser, preview).status_code == 303
    views = acme.runtime.metadata.bundle().to_dict()["list_views"]
    assert next(v for v in views if v["name"] == "big_deals") == {
        "object": "deal", "name": "big_deals", "label": "Big deals", "columns": ["name", "amount", "account.name"],
        "filter": {"and": [{"field": "amount", "op": "gte", "value": 1000},
                           {"field": "stage", "op": "in", "value": ["proposal", "negotiation"]}]},
        "sort": ["-amount", "close_date"]}

    editor = browser.get("/admin/objects/deal/list_views/big_deals")
    values = form_in(editor.text, form_id="list-view-editor").values
    assert (values["f0_field"], values["f0_op"], values["f0_value"]) == ("amount", "gte", "1000")
    assert (values["f1_value"], values["o0_dir"]) == ("proposal, negotiation", "desc")


def test_a_filter_the_rows_cannot_show_is_edited_as_json(acme: ApiOrg) -> None:
    browser = admin_browser(acme)
    editor = browser.get("/admin/objects/deal/list_views/open_deals")
    values = form_in(editor.text, form_id="list-view-editor").values
    assert (values["f0_field"], values["f0_op"], values["f0_value"]) == ("stage", "not_in", "closed_won, closed_lost")
    either = {"or": [{"field": "amount", "op": "gt", "value": 5}, {"field": "amount", "op": "is_null", "value": True}]}
    bundle = acme.runtime.metadata.bundle().to_dict()
    bundle["list_views"][0]["filter"] = either
    acme.runtime.metadata.apply(bundle, author="tests")
    editor = browser.get("/admin/objects/deal/list_views/open_deals")
    values = form_in(editor.text, form_id="list-view-editor").values
    assert values["filter_mode"] == "json" and '"or"' in values["filter_json"]
    broken = press(browser, editor, "list-view-editor", "preview", filter_json='{"or": [')
    assert broken.status_code == 422 and "The filter is not valid JSON" in error_at(broken.text, "filter")
    assert form_in(broken.text, form_id="list-view-editor").values["filter_json"] == '{"or": ['  # kept


# -- the validation rule editor ------------------------------------------------------------------

def test_the_rule_editor_creates_a_rule_the_records_api_enforces(acme: ApiOrg) -> None:
    api = acme.user("admin").client
    account = api.post("/api/v1/records/account", json={"name": "Acme"}).json()
    browser = admin_browser(acme)
    page = browser.get("/admin/objects/deal/validation_rules/new")
    assert 'hx-post="/admin/formula/check"' in page.text
    preview = browser.post("/admin/objects/deal/validation_rules/new", data={
        "csrf_token": token_in(page.text), "name": "not_too_big", "expression": "amount > 1000000",
        "message": "Ask finance first", "field": "amount", "active": "yes", "object": "deal",
        "return_type": "boolean"})
    assert "Add validation rule &#39;not_too_big&#39; to deal" in preview.text
    assert apply_preview(browser, preview).status_code == 303
    deal = {"name": "Big", "account": account["id"], "stage": "prospecting"}
    refused = api.post("/api/v1/records/deal", json={**deal, "amount": 2000000})
    assert refused.status_code == 422
    assert {"pointer": "/amount", "message": "Ask finance first"}.items() <= refused.json()["errors"][0].items()
    assert api.post("/api/v1/records/deal", json={**deal, "amount": 10}).status_code == 201

    editor = browser.get("/admin/objects/deal/validation_rules/not_too_big")
    values = form_in(editor.text, form_id="rule-editor").values
    assert (values["expression"], values["message"], values["field"], values.get("active")) == \
        ("amount > 1000000", "Ask finance first", "amount", "yes")
    inactive = {**values, "active": None}
    preview = browser.post("/admin/objects/deal/validation_rules/not_too_big",
                           data={k: v for k, v in inactive.items() if v is not None})
    assert apply_preview(browser, preview).status_code == 303
    assert api.post("/api/v1/records/deal", json={**deal, "amount": 2000000}).status_code == 201


def test_a_list_view_and_a_rule_are_deleted_through_the_preview(acme: ApiOrg) -> None:
    browser = admin_browser(acme)
    token = token_in(browser.get("/admin/revisions").text)
    for path, change in [("/admin/objects/deal/list_views/open_deals", "delete list view &#39;deal.open_deals&#39;"),
                         ("/admin/objects/deal/validation_rules/amount_not_negative",
                          "delete validation rule &#39;deal.amount_not_negative&#39;")]:
        preview = browser.post(f"{path}/delete", data={"csrf_token": token})
        assert change in preview.text
        assert apply_preview(browser, preview).status_code == 303
        assert browser.get(path).status_code == 404
        assert browser.post(f"{path}/delete", data={"csrf_token": token}).status_code == 404
    bundle = acme.runtime.metadata.bundle().to_dict()
    assert "list_views" not in bundle
    assert [r["name"] for r in bundle["validation_rules"]] == ["won_needs_amount"]


def test_the_rule_editor_checks_its_condition_live_as_a_rule_condition(admin: TestClient) -> None:
    editor = admin.get("/admin/objects/deal/validation_rules/new").text
    check = dict(re.findall(r'<input type="hidden" name="(object|return_type|use)" value="([^"]*)">', editor))
    assert check == {"object": "deal", "return_type": "boolean", "use": "condition"}
    answer = admin.post("/admin/formula/check", data={**check, "csrf_token": token_in(editor),
                                                      "expression": "ISCHANGED(stage) && amount < 10"})
    assert answer.status_code == 200 and "Valid" in answer.text, answer.text


# -- bad input: shown where it belongs, everything typed kept, nothing changed ---------------------

def test_a_rule_with_an_invalid_formula_shows_the_error_at_the_condition(sales: ApiOrg, admin: TestClient) -> None:
    page = admin.get("/admin/objects/deal/validation_rules/new")
    answer = admin.post("/admin/objects/deal/validation_rules/new", data={
        "csrf_token": token_in(page.text), "name": "odd", "expression": "amount > 'x' &&",
        "message": "Keep <this>", "field": "amount", "active": "yes"})
    assert answer.status_code == 422
    at_condition = error_at(answer.text, "expression")
    assert "validation rule 'deal.odd'" in at_condition and "^" in at_condition
    values = form_in(answer.text, form_id="rule-editor").values
    assert (values["name"], values["expression"], values["message"], values["field"]) == \
        ("odd", "amount > 'x' &&", "Keep <this>", "amount")
    assert "Keep &lt;this&gt;" in answer.text  # escaped
    assert revision_number(sales) == 3


def test_a_rule_without_name_or_message_says_so_at_each(admin: TestClient) -> None:
    page = admin.get("/admin/objects/deal/validation_rules/new")
    answer = admin.post("/admin/objects/deal/validation_rules/new",
                        data={"csrf_token": token_in(page.text), "expression": "amount < 0"})
    assert answer.status_code == 422
    assert "Give the validation rule a name" in error_at(answer.text, "name")
    assert "Write the message" in error_at(answer.text, "message")
    assert form_in(answer.text, form_id="rule-editor").values["expression"] == "amount < 0"


def test_a_layout_naming_a_missing_field_shows_the_error_at_its_row(sales: ApiOrg, admin: TestClient) -> None:
    page = admin.get("/admin/objects/deal/layouts/default")
    answer = press(admin, page, "layout-editor", "preview", s0_f1="nonexistent", s1_label="Renamed")
    assert answer.status_code == 422
    assert "'nonexistent' is not a field of object 'deal'" in error_at(answer.text, "s0_f1")
    assert 'href="#s0_f1"' in answer.text  # the summary links to the row
    values = form_in(answer.text, form_id="layout-editor").values
    assert values["s0_f1"] == "nonexistent" and values["s1_label"] == "Renamed"
    assert revision_number(sales) == 3


def test_a_layout_draft_is_checked_before_the_loader(admin: TestClient) -> None:
    page = admin.get("/admin/objects/deal/layouts/new")
    answer = press(admin, page, "layout-editor", "preview", s0_label="", s0_f1="name")
    assert answer.status_code == 422
    assert "Give the layout a name" in error_at(answer.text, "name")
    assert "Give the section a title" in error_at(answer.text, "s0_label")
    assert "already placed" in error_at(answer.text, "s0_f1")


def test_a_list_view_filter_value_that_does_not_fit_shows_at_its_row(sales: ApiOrg, admin: TestClient) -> None:
    empty = admin.get("/admin/objects/deal/list_views/new")
    page = press(admin, empty, "list-view-editor", "add_filter")
    answer = press(admin, page, "list-view-editor", "preview", name="odd", f0_field="amount", f0_op="gte",
                   f0_value="abc")
    assert answer.status_code == 422
    assert "expected a number" in error_at(answer.text, "f0")
    values = form_in(answer.text, form_id="list-view-editor").values
    assert (values["name"], values["f0_value"]) == ("odd", "abc")
    clash = press(admin, empty, "list-view-editor", "preview", name="open_deals")  # the loader's duplicate check
    assert clash.status_code == 422 and "defined more than once" in error_at(clash.text, "name")
    assert revision_number(sales) == 3


# -- who may use these pages --------------------------------------------------------------------

SETUP_PAGES = ["/admin/revisions", "/admin/revisions/1", "/admin/revisions/1/revert", "/admin/trash",
               "/admin/objects/deal/layouts/default", "/admin/objects/deal/layouts/new",
               "/admin/objects/deal/list_views/open_deals", "/admin/objects/deal/validation_rules/new"]


@pytest.fixture(scope="module")
def standard(sales: ApiOrg) -> TestClient:
    return browser_for(sales, sales.user("standard", password=PASSWORD))


@pytest.mark.parametrize("path", SETUP_PAGES)
def test_a_user_without_manage_metadata_gets_403(standard: TestClient, path: str) -> None:
    assert standard.get(path).status_code == 403
    token = token_in(standard.get("/").text)
    assert standard.post(path, data={"csrf_token": token, "action": "preview"}).status_code in (403, 405)


@pytest.mark.parametrize("path", ["/admin/objects/nope/layouts/default", "/admin/objects/deal/layouts/nope",
                                  "/admin/objects/deal/list_views/nope", "/admin/objects/deal/validation_rules/nope",
                                  "/admin/trash/99/restore"])
def test_what_does_not_exist_is_a_404_page(admin: TestClient, path: str) -> None:
    answer = admin.get(path)
    assert answer.status_code == 404 and "text/html" in answer.headers["content-type"]
