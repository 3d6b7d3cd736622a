"""In a real browser, issue 5 end to end: an admin builds an object in Setup, an end user works
with the pages generated from it, and a user without access to one field never sees it.

The admin creates "Deal" with text, picklist, currency, date, lookup and formula fields
(checking the formula live: first an error at its character, then "valid"), adds a
validation rule, and grants the org's two profiles access to the new object in the profile
editor (through the UI, since the object does not exist when the org starts): "Seller" may
read, create and edit deals; "Trainee" too, but with the deal's Amount hidden. Each change
goes through the plan preview and is applied there.

The seller then creates a deal through the generated form (choosing its account with the
lookup's type-ahead and the keyboard), is stopped by the rule with its message at the right
field and everything typed kept, fixes it, finds the deal in the list with a filter, edits
it and sees the formula's value follow. The trainee's list, record page and form have no
trace of Amount.

Every page visited is kept as a screenshot in ``artifacts/screenshots/``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import LiveServer, snap
from tests.e2e.steps import REQUIRED, add_field, apply_change, column_texts, log_in, log_out, wrapper_of
from tests.support.api import PASSWORD, ApiOrg, ApiUser

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("no_server_errors")]

#: the org before the admin starts: accounts, and two profiles that know nothing of deals yet
START = {
    "objects": [{"name": "account", "label": "Account", "plural_label": "Accounts", "name_field": "name",
                 "sharing": "public_read",
                 "fields": [{"name": "name", "label": "Account name", "type": "text", "required": True}]}],
    "profiles": [
        {"name": "seller", "label": "Seller", "objects": [{"object": "account", "read": True}]},
        {"name": "trainee", "label": "Trainee", "objects": [{"object": "account", "read": True}]},
    ],
}
DEAL_ADMIN = "/admin/objects/deal"
RULE_MESSAGE = "A won deal needs a close date."


def test_an_admin_builds_an_app_and_people_use_it(api_org: Callable[..., ApiOrg],
                                                 live_server: Callable[[ApiOrg], LiveServer], page: Any) -> None:
    org = api_org(START)
    admin = org.user("admin", name="Ada", password=PASSWORD)
    seller = org.user("seller", name="Sam", password=PASSWORD)
    trainee = org.user("trainee", name="Tia", password=PASSWORD)
    for name in ("Acme Rockets", "Acme Bakery", "Globex"):
        admin.client.post("/api/v1/records/account", json={"name": name}).raise_for_status()
    server = live_server(org)

    build_the_deal_object(page, server.url, admin)
    # two deals of someone else's, so that the seller's filter has something to leave out
    for name, stage in (("Moon base", "open"), ("Star map", "lost")):
        admin.client.post("/api/v1/records/deal", json={"name": name, "stage": stage, "amount": "900"}
                          ).raise_for_status()
    deal_url = sell_a_deal(page, server.url, seller)
    look_without_the_amount(page, server.url, trainee, deal_url)


# -- the admin ----------------------------------------------------------------------------------

def build_the_deal_object(page: Any, url: str, admin: ApiUser) -> None:
    page.goto(f"{url}/admin")
    page.wait_for_url(re.compile(r"/login\?next="))
    snap(page, "01-login")
    page.get_by_label("Username").fill(admin.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}/admin")
    assert page.get_by_role("heading", name="Setup", exact=True).is_visible()
    snap(page, "02-setup")

    page.get_by_role("link", name="Objects and fields").click()
    page.wait_for_url(f"{url}/admin/objects")
    snap(page, "03-objects")
    page.get_by_role("link", name="New object").click()
    page.wait_for_url(f"{url}/admin/objects/new")
    page.get_by_label("Label" + REQUIRED, exact=True).fill("Deal")
    assert page.get_by_label("API name" + REQUIRED).input_value() == "deal"  # follows the label
    page.get_by_label("Plural label").fill("Deals")
    page.get_by_label("Label of the name field").fill("Deal name")
    page.get_by_label("Who sees the records").select_option("public_read")
    snap(page, "04-new-object")
    page.get_by_role("button", name="Review the change").click()
    apply_change(page, "05-new-object-preview", "Create object 'Deal'", f"{url}/admin/objects")

    page.get_by_role("link", name="Deal", exact=True).click()
    page.wait_for_url(f"{url}{DEAL_ADMIN}")
    assert page.get_by_role("heading", name="Deal deal").is_visible()
    snap(page, "06-object-page")
    add_the_fields(page, f"{url}{DEAL_ADMIN}")
    add_the_rule(page, f"{url}{DEAL_ADMIN}")
    grant_the_profiles(page, url)
    log_out(page, url)


def add_the_fields(page: Any, object_url: str) -> None:
    add_field(page, object_url, "Deal", "Text", "Region", shot="07-field-text")

    def stage_values(form: Any) -> None:
        for i, (value, label) in enumerate((("open", "Open"), ("won", "Won"), ("lost", "Lost")), start=1):
            form.get_by_label(f"Value {i}", exact=True).fill(value)
            form.get_by_label(f"Label of value {i}", exact=True).fill(label)
        form.get_by_label("Value 1 is the default").check()
    add_field(page, object_url, "Deal", "Picklist", "Stage", stage_values, shot="08-field-picklist")

    add_field(page, object_url, "Deal", "Currency", "Amount", shot="09-field-currency")
    add_field(page, object_url, "Deal", "Date", "Close date", shot="10-field-date")

    def account_target(form: Any) -> None:
        form.get_by_label("Related object" + REQUIRED).select_option(label="Account (account)")
    add_field(page, object_url, "Deal", "Lookup", "Account", account_target, shot="11-field-lookup")

    def commission_formula(form: Any) -> None:
        form.get_by_label("Return type").select_option(label="Currency")
        expression = form.get_by_label("Formula" + REQUIRED)
        check = form.locator("#formula-check")
        broken = 'IF(ISPICKVAL(stage, "won"), amount * 0.1 +, 0)'
        column = broken.index("+,") + 2  # the comma where a value should follow the "+"
        expression.fill(broken)
        problem = check.locator(".formula-problem")
        problem.wait_for()
        assert problem.locator(".field-error").inner_text() == \
            f"Line 1, column {column}: Unexpected ','; expected a value, a field, a function or an operator."
        assert problem.locator("pre.caret").inner_text() == f"{broken}\n{' ' * (column - 1)}^"
        snap(form, "12-formula-check-error")
        expression.fill('IF(ISPICKVAL(stage, "won"), amount * 0.1, 0)')
        check.get_by_text("Valid: returns currency").wait_for()
        snap(form, "13-formula-check-valid")
    add_field(page, object_url, "Deal", "Formula", "Commission", commission_formula, shot="14-field-formula")
    snap(page, "15-object-page-with-fields")


def add_the_rule(page: Any, object_url: str) -> None:
    page.get_by_role("link", name="New validation rule").click()
    page.wait_for_url(f"{object_url}/validation_rules/new")
    page.get_by_label("Name" + REQUIRED, exact=True).fill("won_needs_close_date")
    page.get_by_label("Error condition" + REQUIRED).fill('ISPICKVAL(stage, "won") && ISBLANK(close_date)')
    page.locator("#expression-check").get_by_text("Valid: returns boolean").wait_for()
    page.get_by_label("Error message" + REQUIRED).fill(RULE_MESSAGE)
    page.get_by_label("Show the message at").select_option(label="Close date (close_date)")
    snap(page, "16-rule-editor")
    page.get_by_role("button", name="Preview change").click()
    apply_change(page, "17-rule-preview", "Add validation rule 'won_needs_close_date' to deal", object_url)
    assert page.get_by_role("link", name=RULE_MESSAGE).is_visible()


def grant_the_profiles(page: Any, url: str) -> None:
    """Seller: read, create and edit deals. Trainee: the same, with Amount hidden."""
    for profile, hide_amount in (("Seller", False), ("Trainee", True)):
        page.get_by_role("navigation", name="Your account").get_by_role("link", name="Setup").click()
        page.wait_for_url(f"{url}/admin")
        page.get_by_role("link", name="Profiles and permission sets").click()
        page.wait_for_url(f"{url}/admin/profiles")
        page.get_by_role("link", name=profile, exact=True).click()
        page.wait_for_url(f"{url}/admin/profiles/{profile.lower()}")
        for permission in ("Read", "Create", "Edit"):
            page.get_by_label(f"{permission}: Deals", exact=True).check()
        if hide_amount:
            access = page.locator("details.field-access").filter(has=page.locator("summary", has_text="Deals"))
            access.locator("summary").click()
            access.get_by_label("Amount", exact=True).select_option(label="Hidden")
        snap(page, f"18-profile-{profile.lower()}")
        page.get_by_role("button", name="Review the change").click()
        editor = page.url
        apply_change(page, f"19-profile-{profile.lower()}-preview", f"Change profile '{profile}'", editor)
        assert page.get_by_label("Edit: Deals", exact=True).is_checked()


# -- the seller -----------------------------------------------------------------------------------

def sell_a_deal(page: Any, url: str, seller: ApiUser) -> str:
    """The seller creates a deal, meets the rule, fixes it, filters the list, edits the deal;
    the address of the deal's page."""
    log_in(page, url, seller)
    assert page.get_by_role("link", name="Setup").count() == 0, "Setup is for admins"
    page.get_by_role("link", name="Deals").click()
    page.wait_for_url(f"{url}/o/deal")
    page.get_by_role("link", name="New Deal").click()
    page.wait_for_url(f"{url}/o/deal/new")
    snap(page, "20-new-deal")
    page.get_by_label("Deal name" + REQUIRED).fill("Rocket fuel")
    page.get_by_label("Region").fill("North")
    page.get_by_label("Stage").select_option(label="Won")
    page.get_by_label("Amount").fill("12,500")
    choose_account(page, "rock", "Acme Rockets")
    page.get_by_role("button", name="Save").click()

    page.wait_for_url(f"{url}/o/deal/new")
    alert = page.locator("#form-errors")
    assert alert.get_by_role("link", name=f"Close date: {RULE_MESSAGE}", exact=True).is_visible()
    close_date = wrapper_of(page, "Close date")
    assert close_date.locator(".field-error").inner_text() == RULE_MESSAGE
    assert page.locator(".field-error").count() == 1, "the message is at Close date only"
    assert page.get_by_label("Close date").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Deal name" + REQUIRED).input_value() == "Rocket fuel"
    assert page.get_by_label("Region").input_value() == "North"
    assert page.get_by_label("Stage").input_value() == "won"
    assert page.get_by_label("Amount").input_value() == "12,500"
    assert page.get_by_role("combobox", name="Account").input_value() == "Acme Rockets"
    snap(page, "22-new-deal-error")
    page.get_by_label("Close date").fill("2030-06-30")
    page.get_by_role("button", name="Save").click()

    page.wait_for_url(re.compile(rf"{re.escape(url)}/o/deal/[^/]+$"))
    deal_url = page.url
    assert page.get_by_role("status").inner_text() == "Created deal 'Rocket fuel'."
    assert page.get_by_role("heading", name="Rocket fuel").is_visible()
    assert shown(page, "Commission") == "1,250.00"
    assert shown(page, "Account") == "Acme Rockets"
    assert shown(page, "Close date") == "2030-06-30"
    snap(page, "23-deal-page")

    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Deals").click()
    page.wait_for_url(f"{url}/o/deal")
    assert sorted(column_texts(page)) == ["Moon base", "Rocket fuel", "Star map"]
    page.get_by_role("button", name="Add filter").click()
    row = page.get_by_role("group", name="Filter 1")
    row.get_by_label("Field").select_option(label="Stage")
    row.get_by_label("Value").locator("option", has_text="Won").wait_for(state="attached")
    row.get_by_label("Value").select_option(label="Won")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**ff=stage&fo=eq&fv=won**")
    assert column_texts(page) == ["Rocket fuel"]
    snap(page, "24-deals-filtered")

    page.get_by_role("link", name="Rocket fuel").click()
    page.wait_for_url(deal_url)
    page.get_by_role("link", name="Edit").click()
    page.wait_for_url(f"{deal_url}/edit")
    assert page.get_by_role("combobox", name="Account").input_value() == "Acme Rockets"
    snap(page, "25-edit-deal")
    page.get_by_label("Amount").fill("20,000")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(deal_url)
    assert page.get_by_role("status").inner_text().startswith("Saved")
    assert shown(page, "Amount") == "20,000.00"
    assert shown(page, "Commission") == "2,000.00"
    snap(page, "26-deal-after-edit")
    log_out(page, url)
    return deal_url


def choose_account(page: Any, typed: str, title: str) -> None:
    """Type part of the account's name in the lookup and choose it from the type-ahead with
    the keyboard."""
    box = page.get_by_role("combobox", name="Account")
    box.click()
    box.press_sequentially(typed, delay=30)
    options = page.get_by_role("listbox").get_by_role("option")
    expect(options).to_have_text([title])  # on focus it offers every account; typing narrows them
    snap(page, "21-lookup-type-ahead")
    box.press("ArrowDown")
    box.press("Enter")
    assert box.input_value() == title
    assert page.get_by_role("listbox").count() == 0


def shown(page: Any, label: str) -> str:
    """The value a record page shows for the field labelled ``label``."""
    field = page.locator(".record-field").filter(has=page.locator("dt", has_text=re.compile(f"^{label}$")))
    return str(field.locator("dd").inner_text()).strip()


# -- the trainee, without access to Amount ---------------------------------------------------------

def look_without_the_amount(page: Any, url: str, trainee: ApiUser, deal_url: str) -> None:
    log_in(page, url, trainee)
    page.get_by_role("link", name="Deals").click()
    page.wait_for_url(f"{url}/o/deal")
    assert sorted(column_texts(page)) == ["Moon base", "Rocket fuel", "Star map"]
    page.get_by_role("button", name="Add filter").click()
    field = page.get_by_role("group", name="Filter 1").get_by_label("Field")
    field.wait_for()
    choices = field.locator("option").all_inner_texts()
    assert {"Deal name", "Region", "Stage", "Close date", "Account", "Commission"} <= set(choices), choices
    assert_no_amount(page)
    snap(page, "27-trainee-deals")

    page.get_by_role("link", name="Rocket fuel").click()
    page.wait_for_url(deal_url)
    assert shown(page, "Commission") == "2,000.00"  # a formula has its own access
    assert_no_amount(page)
    snap(page, "28-trainee-deal")

    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Deals").click()
    page.get_by_role("link", name="New Deal").click()
    page.wait_for_url(f"{url}/o/deal/new")
    assert page.get_by_label("Region").is_visible()
    assert_no_amount(page)
    snap(page, "29-trainee-new-deal")


def assert_no_amount(page: Any) -> None:
    """Amount is nowhere: no label, no column, no filter choice, no value."""
    assert page.get_by_text("Amount").count() == 0
    html = page.content()
    assert "Amount" not in html and 'value="amount"' not in html and "20,000" not in html
