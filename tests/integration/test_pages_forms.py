"""The create and edit forms: saving through the record service, errors at their fields with
everything typed kept, stale edits, lookups without a script, and field-level permissions.

Every test posts what a browser would (tests/support/forms.py reads the page's form) and
checks the data through the API afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.support.api import PASSWORD, ApiOrg, ApiUser
from tests.support.bundles import sales_bundle
from tests.support.forms import field_error, form_data, input_value
from tests.support.pages import browser_for

pytestmark = pytest.mark.usefixtures("no_server_errors")

BIG_LOSS = {"object": "deal", "name": "big_deals_are_never_lost", "message": "Deals over a million are never lost",
            "error_condition": 'ISPICKVAL(stage, "closed_lost") && amount > 1000000'}
PROFILES = [
    {"name": "seller", "objects": [
        {"object": "account", "read": True},
        {"object": "deal", "read": True, "create": True, "edit": True,
         "fields": {"amount": "read", "next_step": "hidden"}},
    ]},
    {"name": "viewer", "objects": [{"object": "account", "read": True}, {"object": "deal", "read": True}]},
]


def _bundle() -> dict[str, Any]:
    """The sales bundle; the deal layout makes next_step required and probability read-only."""
    bundle = sales_bundle()
    layout = next(layout for layout in bundle["layouts"] if layout["object"] == "deal")
    on_layout = {"probability": {"field": "probability", "readonly": True},
                 "next_step": {"field": "next_step", "required": True}}
    for section in layout["sections"]:
        section["fields"] = [on_layout.get(name, name) for name in section["fields"]]
    bundle["validation_rules"].append(BIG_LOSS)
    bundle["profiles"] = PROFILES
    return bundle


@pytest.fixture
def acme(api_org: Callable[..., ApiOrg]) -> ApiOrg:
    return api_org(_bundle())


@pytest.fixture
def ada(acme: ApiOrg) -> ApiUser:
    return acme.user("admin", name="Ada", password=PASSWORD)


@pytest.fixture
def browser(acme: ApiOrg, ada: ApiUser) -> TestClient:
    return browser_for(acme, ada)


def created(user: ApiUser, object_name: str, values: dict[str, Any]) -> dict[str, Any]:
    response = user.client.post(f"/api/v1/records/{object_name}", json=values)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def record(user: ApiUser, object_name: str, record_id: str) -> dict[str, Any]:
    response = user.client.get(f"/api/v1/records/{object_name}/{record_id}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def deals(user: ApiUser) -> list[dict[str, Any]]:
    return user.client.get("/api/v1/records/deal").json()["records"]  # type: ignore[no-any-return]


def post_form(browser: TestClient, path: str, **typed: Any) -> Any:
    """Open the form at ``path``, type ``typed`` into it and submit it."""
    page = browser.get(path)
    assert page.status_code == 200, page.text
    return browser.post(path, data=form_data(page.text, **typed), follow_redirects=False)


# -- creating ------------------------------------------------------------------------------------

def test_a_new_record_is_saved_and_the_browser_goes_to_it(browser: TestClient, ada: ApiUser) -> None:
    account = created(ada, "account", {"name": "Acme"})
    saved = post_form(browser, "/o/deal/new", name="Big", account=account["id"], account__title="Acme",
                      amount="1,500.50", next_step="Call them\r\nsoon", close_date="2030-01-31")
    assert saved.status_code == 303, saved.text
    deal_id = saved.headers["location"].removeprefix("/o/deal/")
    deal = record(ada, "deal", deal_id)
    assert (deal["name"], deal["account"], deal["amount"], deal["close_date"]) == ("Big", account["id"], 1500.5,
                                                                                  "2030-01-31")
    assert deal["stage"] == "prospecting" and deal["next_step"] == "Call them\nsoon" and deal["owner"] == ada.id
    assert "Created deal &#39;Big&#39;." in browser.get(saved.headers["location"]).text


def test_errors_show_at_their_fields_and_everything_typed_is_kept(browser: TestClient, ada: ApiUser) -> None:
    account = created(ada, "account", {"name": "Acme <b>Corp</b>"})
    answer = post_form(browser, "/o/deal/new", name="", account="", account__title="Acme <b>Corp</b>", amount="-5",
                       stage="qualification", close_date="2030-01-31", next_step="")
    assert answer.status_code == 422
    html = answer.text
    assert field_error(html, "name") == "Deal name is required."  # the object's required field
    assert field_error(html, "next_step") == "Next step is required."  # required on this layout
    assert field_error(html, "amount") == "Amount must not be negative."  # a validation rule with a field
    assert '<div class="alert" role="alert" id="form-errors">' in html
    assert '<a href="#field-amount-wrap">Amount must not be negative.</a>' in html
    assert input_value(html, "amount") == "-5" and input_value(html, "close_date") == "2030-01-31"
    assert input_value(html, "account__title") == "Acme <b>Corp</b>" and "<b>Corp</b>" not in html
    assert input_value(html, "account") == account["id"]  # the typed title was resolved meanwhile
    assert '<option value="qualification" selected>' in html
    assert deals(ada) == []


def test_a_rule_without_a_field_shows_at_the_top(browser: TestClient, ada: ApiUser) -> None:
    account = created(ada, "account", {"name": "Acme"})
    answer = post_form(browser, "/o/deal/new", name="Huge", account=account["id"], account__title="Acme",
                       amount="2000000", stage="closed_lost", next_step="Mourn")
    assert answer.status_code == 422
    assert "<li>Deals over a million are never lost.</li>" in answer.text
    assert 'class="field-error"' not in answer.text and input_value(answer.text, "amount") == "2000000"


def test_the_address_pre_fills_a_new_record(browser: TestClient, ada: ApiUser) -> None:
    account = created(ada, "account", {"name": "Acme <b>Corp</b>"})
    html = browser.get(f"/o/deal/new?account={account['id']}").text
    assert input_value(html, "account") == account["id"]
    assert input_value(html, "account__title") == "Acme <b>Corp</b>" and "<b>Corp</b>" not in html
    saved = browser.post(f"/o/deal/new?account={account['id']}", follow_redirects=False,
                         data=form_data(html, name="Pre-filled", next_step="Go"))
    assert saved.status_code == 303, saved.text
    assert deals(ada)[0]["account"] == account["id"]


def test_a_pre_filled_field_the_layout_leaves_out_is_on_the_form(api_org: Callable[..., ApiOrg]) -> None:
    bundle = _bundle()
    layout = next(layout for layout in bundle["layouts"] if layout["object"] == "deal")
    layout["sections"][0]["fields"].remove("primary_contact")
    acme = api_org(bundle)
    ada = acme.user("admin", password=PASSWORD)
    account = created(ada, "account", {"name": "Acme"})
    contact = created(ada, "contact", {"last_name": "Ng", "account": account["id"]})
    browser = browser_for(acme, ada)
    path = f"/o/deal/new?primary_contact={contact['id']}"
    html = browser.get(path).text
    assert input_value(html, "primary_contact") == contact["id"] and input_value(html, "primary_contact__title") == "Ng"
    saved = browser.post(path, follow_redirects=False, data=form_data(
        html, name="Big", account=account["id"], account__title="Acme", next_step="Go"))
    assert saved.status_code == 303, saved.text
    assert deals(ada)[0]["primary_contact"] == contact["id"]


def test_a_user_who_may_not_create_gets_403(acme: ApiOrg) -> None:
    viewer = acme.user("viewer", password=PASSWORD)
    assert browser_for(acme, viewer).get("/o/deal/new").status_code == 403


# -- editing -------------------------------------------------------------------------------------

@pytest.fixture
def deal(ada: ApiUser) -> dict[str, Any]:
    account = created(ada, "account", {"name": "Acme"})
    return created(ada, "deal", {"name": "Big", "account": account["id"], "amount": 1000, "next_step": "Call"})


def test_an_edit_is_saved_and_shows_in_the_history(browser: TestClient, ada: ApiUser, deal: dict[str, Any]) -> None:
    saved = post_form(browser, f"/o/deal/{deal['id']}/edit", amount="2,000")
    assert (saved.status_code, saved.headers["location"]) == (303, f"/o/deal/{deal['id']}")
    after = record(ada, "deal", deal["id"])
    assert (after["amount"], after["version"], after["name"]) == (2000, 2, "Big")
    html = browser.get(saved.headers["location"]).text
    assert "Saved deal &#39;Big&#39;." in html
    history = html[html.index('id="section-history"'):]
    assert '<span class="num">1,000.00</span> <span aria-hidden="true">→</span>' in history
    assert '<span class="num">2,000.00</span></td>\n          <td>Ada</td>' in history


def test_saving_an_unchanged_form_writes_nothing(browser: TestClient, ada: ApiUser, deal: dict[str, Any]) -> None:
    saved = post_form(browser, f"/o/deal/{deal['id']}/edit")
    assert saved.status_code == 303
    assert "Nothing changed." in browser.get(saved.headers["location"]).text
    assert record(ada, "deal", deal["id"])["version"] == 1


def test_a_stale_edit_is_explained_and_saved_only_when_sent_again(acme: ApiOrg, browser: TestClient, ada: ApiUser,
                                                                   deal: dict[str, Any]) -> None:
    path = f"/o/deal/{deal['id']}/edit"
    page = browser.get(path)
    bob = acme.user("admin", name="Bob")
    assert bob.client.patch(f"/api/v1/records/deal/{deal['id']}", json={"stage": "proposal"}).status_code == 200
    stale = browser.post(path, data=form_data(page.text, amount="999"))
    assert stale.status_code == 412
    html = stale.text
    assert "<strong>Bob changed this deal at <time" in html and "since you opened it.</strong>" in html
    assert "<li>Stage: Proposal</li>" in html
    assert input_value(html, "amount") == "999"  # what Ada typed is kept
    assert '<option value="proposal" selected>' in html  # what she did not touch is current
    assert input_value(html, "_version") == "2"
    assert record(ada, "deal", deal["id"])["amount"] == 1000  # nothing was overwritten
    again = browser.post(path, data=form_data(html), follow_redirects=False)
    assert again.status_code == 303, again.text
    after = record(ada, "deal", deal["id"])
    assert (after["amount"], after["stage"], after["version"]) == (999, "proposal", 3)


def test_a_stale_edit_of_the_same_field_says_what_it_is_now(acme: ApiOrg, browser: TestClient, ada: ApiUser,
                                                            deal: dict[str, Any]) -> None:
    path = f"/o/deal/{deal['id']}/edit"
    page = browser.get(path)
    assert ada.client.patch(f"/api/v1/records/deal/{deal['id']}", json={"amount": 1500}).status_code == 200
    html = browser.post(path, data=form_data(page.text, amount="999")).text
    assert field_error(html, "amount") == "Changed meanwhile to “1,500.00”; saving keeps your value."
    assert input_value(html, "amount") == "999"


# -- lookups without a script --------------------------------------------------------------------

@pytest.mark.parametrize(("typed", "error"), [
    ("globex", None),  # one account of that name (but for case)
    ("Nope", "No account is named 'Nope'."),
    ("Twin", "2 accounts are named 'Twin': choose one from the list."),
])
def test_a_typed_title_is_resolved_to_the_one_record_of_that_name(browser: TestClient, ada: ApiUser, typed: str,
                                                                  error: str | None) -> None:
    globex = created(ada, "account", {"name": "Globex"})
    for _ in range(2):
        created(ada, "account", {"name": "Twin"})
    answer = post_form(browser, "/o/deal/new", name="Big", account="", account__title=typed, next_step="Go")
    if error is None:
        assert answer.status_code == 303, answer.text
        assert deals(ada)[0]["account"] == globex["id"]
    else:
        assert answer.status_code == 422 and field_error(answer.text, "account") == error
        assert input_value(answer.text, "account__title") == typed and deals(ada) == []


def test_a_title_typed_over_a_chosen_record_is_resolved_again(browser: TestClient, ada: ApiUser,
                                                              deal: dict[str, Any]) -> None:
    globex = created(ada, "account", {"name": "Globex"})
    saved = post_form(browser, f"/o/deal/{deal['id']}/edit", account__title="Globex")  # the old id still posted
    assert saved.status_code == 303, saved.text
    assert record(ada, "deal", deal["id"])["account"] == globex["id"]


# -- field-level permissions and the layout's read-only fields ---------------------------------

def test_read_only_fields_show_as_values_and_hidden_ones_not_at_all(acme: ApiOrg, ada: ApiUser,
                                                                    deal: dict[str, Any]) -> None:
    seller = acme.user("seller", password=PASSWORD)
    html = browser_for(acme, seller).get("/o/deal/new").text
    assert 'name="amount" type="text" inputmode="decimal" autocomplete="off" value="" readonly' in html
    assert "next_step" not in html and "Next step" not in html
    assert '<span class="required" aria-hidden="true">*</span>' in html.split('id="field-name-wrap"')[1][:300]
    assert 'id="field-weighted_amount"' in html  # a formula: shown, never an input


def test_a_forged_post_of_a_read_only_field_is_refused(acme: ApiOrg, ada: ApiUser, deal: dict[str, Any]) -> None:
    seller = acme.user("seller", password=PASSWORD)
    browser = browser_for(acme, seller)
    answer = post_form(browser, "/o/deal/new", name="Mine", account=deal["account"], account__title="Acme",
                       amount="5")
    assert answer.status_code == 422
    assert field_error(answer.text, "amount") == "Amount is read-only for you: you may see it but not change it."
    assert [d["name"] for d in deals(ada)] == ["Big"]


def test_a_forged_post_of_a_field_read_only_on_the_layout_is_refused(browser: TestClient, ada: ApiUser,
                                                                     deal: dict[str, Any]) -> None:
    answer = post_form(browser, f"/o/deal/{deal['id']}/edit", probability="99", name="Renamed")
    assert answer.status_code == 422
    assert field_error(answer.text, "probability") == "Probability (%) is read-only on this form and was not changed."
    assert input_value(answer.text, "name") == "Renamed"
    assert record(ada, "deal", deal["id"])["version"] == 1


def test_a_forged_post_of_a_hidden_field_is_not_taken(acme: ApiOrg, ada: ApiUser) -> None:
    seller = acme.user("seller", password=PASSWORD)
    account = created(ada, "account", {"name": "Acme"})
    browser = browser_for(acme, seller)
    page = browser.get("/o/deal/new")
    saved = browser.post("/o/deal/new", follow_redirects=False, data=form_data(
        page.text, name="Mine", account=account["id"], account__title="Acme", next_step="forged"))
    assert saved.status_code == 303, saved.text
    assert record(ada, "deal", saved.headers["location"].rsplit("/", 1)[1])["next_step"] is None


def test_a_user_who_may_not_change_the_record_gets_403(acme: ApiOrg, ada: ApiUser, deal: dict[str, Any]) -> None:
    sam = acme.user("standard", name="Sam", password=PASSWORD)
    browser = browser_for(acme, sam)
    assert browser.get(f"/o/account/{deal['account']}/edit").status_code == 403  # public to read, Ada's to change
    assert browser.get(f"/o/deal/{deal['id']}/edit").status_code == 404  # private: Sam cannot see it
