"""The record page (sections, values by widget, lookups, related lists, history), deleting a
record, and the lookup type-ahead, as different users see them.

The reading tests share one seeded org per backend (``shop``), which they never change;
the delete tests get an org of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from tests.support.api import BACKENDS, PASSWORD, ApiOrg, ApiUser, served_org
from tests.support.bundles import sales_bundle
from tests.support.forms import form_data
from tests.support.pages import browser_for, token_in

pytestmark = pytest.mark.usefixtures("no_server_errors")

ACME = "Acme <b>Corp</b>"
ACME_SHOWN = "Acme &lt;b&gt;Corp&lt;/b&gt;"
PROFILES = [
    # sells: reads every deal, but never sees an amount
    {"name": "seller", "objects": [
        {"object": "account", "read": True},
        {"object": "contact", "read": True},
        {"object": "deal", "read": True, "create": True, "edit": True, "view_all": True,
         "fields": {"amount": "hidden"}},
    ]},
    # reads accounts and deals, nothing else
    {"name": "reader", "objects": [{"object": "account", "read": True}, {"object": "deal", "read": True,
                                                                          "view_all": True}]},
]


@dataclass
class Shop:
    org: ApiOrg
    ids: dict[str, str]
    browsers: dict[str, TestClient]


def _created(user: ApiUser, object_name: str, values: dict[str, Any]) -> str:
    response = user.client.post(f"/api/v1/records/{object_name}", json=values)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture(scope="module", params=BACKENDS)
def shop(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    bundle = sales_bundle()
    bundle["profiles"] = PROFILES
    with served_org(request, request.param, tmp_path_factory.mktemp("records"), bundle) as org:
        users = {"ada": org.user("admin", name="Ada", password=PASSWORD),
                 "sam": org.user("standard", name="Sam", password=PASSWORD),
                 "sel": org.user("seller", name="Sel", password=PASSWORD),
                 "rita": org.user("reader", name="Rita", password=PASSWORD)}
        ada, sam = users["ada"], users["sam"]
        ids = {"acme": _created(ada, "account", {"name": ACME, "industry": "technology"}),
               "globex": _created(ada, "account", {"name": "Globex"})}
        for n in range(1, 7):
            ids[f"deal{n}"] = _created(ada, "deal", {"name": f"Deal {n}", "account": ids["acme"], "amount": n * 100})
        ids["big"] = _created(ada, "deal", {"name": "Big", "account": ids["acme"], "amount": 1000, "probability": 25,
                                            "stage": "proposal"})
        assert ada.client.patch(f"/api/v1/records/deal/{ids['big']}", json={"amount": 1200}).status_code == 200
        ids["ng"] = _created(ada, "contact", {"last_name": "Ng", "account": ids["acme"]})
        ids["lee"] = _created(ada, "contact", {"last_name": "Lee", "account": ids["acme"]})
        ids["sams"] = _created(sam, "contact", {"last_name": "Samuels", "account": ids["globex"]})
        yield Shop(org, ids, {name: browser_for(org, user) for name, user in users.items()})


def opened(shop: Shop, user: str, path: str, status: int = 200) -> str:
    response = shop.browsers[user].get(path.format(**shop.ids))
    assert response.status_code == status, response.text
    return response.text


# -- the record page ------------------------------------------------------------------------------

def test_the_page_shows_the_layouts_sections_with_each_value_by_its_widget(shop: Shop) -> None:
    html = opened(shop, "ada", "/o/deal/{big}")
    assert '<span class="visually-hidden">Deal: </span>Big</h1>' in html
    assert '<h2 id="section-1">Deal</h2>\n  <dl class="record-fields cols-2">' in html  # two columns
    assert '<h2 id="section-2">Details</h2>\n  <dl class="record-fields">' in html  # one column
    assert "<dt>Amount</dt>\n      <dd><span class=\"num\">1,200.00</span></dd>" in html  # currency
    assert "<dt>Probability (%)</dt>\n      <dd><span class=\"num\">25.00 %</span></dd>" in html
    assert "<dt>Stage</dt>\n      <dd>Proposal</dd>" in html  # the picklist value's label
    assert "<dt>Weighted amount</dt>\n      <dd><span class=\"num\">300.00</span></dd>" in html  # a formula
    assert "<dt>Deal number</dt>\n      <dd>D-00007</dd>" in html  # an autonumber
    link = f'<dd><a href="/o/account/{shop.ids["acme"]}">{ACME_SHOWN}</a></dd>'
    assert link in html  # a lookup: a link titled by the looked-up record's name, escaped
    assert "<dt>Owner</dt>\n      <dd>Ada</dd>" in html and "<dt>Created</dt>\n      <dd>Ada, <time" in html
    assert ACME not in html


def test_the_page_shows_roll_ups_and_related_lists_with_view_all_and_new(shop: Shop) -> None:
    html = opened(shop, "ada", "/o/account/{acme}")
    assert "<dt>Open deals</dt>\n      <dd><span class=\"num\">7</span></dd>" in html
    assert "<dt>Open pipeline</dt>\n      <dd><span class=\"num\">3,300.00</span></dd>" in html
    deals = html[html.index('id="related-deal-account"'):]
    assert deals.count('<th scope="row">') == 5  # the five newest of seven
    assert f'<a href="/o/deal/{shop.ids["big"]}">Big</a>' in deals and "Deal 1<" not in deals
    acme = shop.ids["acme"]
    assert f'href="/o/deal?ff=account&amp;fo=eq&amp;fv={acme}">View all' in deals
    assert f'<a class="button" href="/o/deal/new?account={acme}">New Deal</a>' in deals
    contacts = html[html.index('id="related-contact-account"'):html.index('id="related-deal-account"')]
    assert "Ng</a>" in contacts and "Lee</a>" in contacts


def test_related_lists_hold_only_what_the_user_may_see(shop: Shop) -> None:
    html = opened(shop, "sam", "/o/account/{acme}")  # accounts are public; deals and contacts private
    assert "No deals yet." in html and "No contacts yet." in html
    assert f"/o/deal/new?account={shop.ids['acme']}" in html  # Sam may create deals


def test_new_in_a_related_list_only_for_users_who_may_create_the_child(shop: Shop) -> None:
    html = opened(shop, "rita", "/o/account/{acme}")
    assert "/o/deal/new" not in html and "Big</a>" in html
    assert 'id="related-contact-account"' not in html  # Rita may not read contacts at all


def test_the_history_shows_each_change_of_a_tracked_field(shop: Shop) -> None:
    html = opened(shop, "ada", "/o/deal/{big}")
    history = html[html.index('<h2 id="section-history">'):]
    assert '<th scope="row">Amount</th>' in history
    assert '<span class="num">1,000.00</span> <span aria-hidden="true">→</span>' in history
    assert '<span class="num">1,200.00</span></td>\n          <td>Ada</td>' in history
    assert "History" not in opened(shop, "ada", "/o/account/{acme}")  # accounts track nothing


def test_a_field_the_user_may_not_read_appears_nowhere(shop: Shop) -> None:
    html = opened(shop, "sel", "/o/deal/{big}")
    assert "<dt>Amount</dt>" not in html and "1,200.00" not in html and "1,000.00" not in html
    assert '<th scope="row">Amount</th>' not in html  # nor in the history
    assert "<dt>Weighted amount</dt>" in html  # a formula is a field of its own


def test_edit_and_delete_follow_the_users_permissions_on_the_record(shop: Shop) -> None:
    edit, delete = 'href="/o/account/{acme}/edit"', 'href="/o/account/{acme}/delete"'
    as_ada = opened(shop, "ada", "/o/account/{acme}")
    assert edit.format(**shop.ids) in as_ada and delete.format(**shop.ids) in as_ada
    as_sam = opened(shop, "sam", "/o/account/{acme}")  # he may edit accounts, but not Ada's
    assert "/edit" not in as_sam and "/delete" not in as_sam
    own = opened(shop, "sam", "/o/contact/{sams}")
    assert f'href="/o/contact/{shop.ids["sams"]}/edit"' in own and "/delete" in own
    assert opened(shop, "sam", "/o/account/{acme}/edit", 403)
    assert "Edit" not in opened(shop, "rita", "/o/deal/{big}")


@pytest.mark.parametrize(("user", "path", "status", "says"), [
    ("rita", "/o/contact/{ng}", 403, "may not read records of object"),
    ("sam", "/o/deal/{big}", 404, "has no record with id"),  # Ada's deal is private
    ("ada", "/o/deal/no-such-record", 404, "has no record with id"),
    ("ada", "/o/deal/" + "x" * 300, 404, "has no record with id"),
    ("ada", "/o/invoice/{big}", 404, "has no object"),
])
def test_what_the_user_may_not_see_is_an_error_page(shop: Shop, user: str, path: str, status: int,
                                                    says: str) -> None:
    html = opened(shop, user, path, status)
    assert "<h1>" in html and says in html.replace("&#39;", "'")


@contextmanager
def statements(org: ApiOrg) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            seen.append(statement)

    engines = (org.runtime.location.engine, org.rapport.db.platform)
    for engine in engines:
        sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        for engine in engines:
            sa.event.remove(engine, "before_cursor_execute", count)


def test_a_record_page_costs_the_same_statements_whatever_it_holds(shop: Shop) -> None:
    opened(shop, "ada", "/o/account/{globex}")
    costs = []
    for name in ("acme", "globex"):  # seven deals and two contacts, or none
        with statements(shop.org) as seen:
            opened(shop, "ada", f"/o/account/{{{name}}}")
        costs.append(len(seen))
    # the session, the revision (twice), the record, a query per related list, its sharing, the owner's name
    assert costs[0] == costs[1] <= 8, costs


# -- the lookup type-ahead ------------------------------------------------------------------------

def test_the_type_ahead_offers_matching_records_as_options(shop: Shop) -> None:
    html = opened(shop, "ada", "/o/account/lookup?account__title=acme&field=field-account")
    assert html.startswith('<ul role="listbox" id="field-account-listbox" aria-label="Accounts">')
    option = (f'<li role="option" id="field-account-option-1" aria-selected="false" data-lookup-option '
              f'data-id="{shop.ids["acme"]}" data-title="{ACME_SHOWN}"><button type="button" tabindex="-1">'
              f'{ACME_SHOWN}</button></li>')
    assert option in html and html.count("<li") == 1
    assert "Globex" in opened(shop, "ada", "/o/account/lookup?q=glo&field=field-account")
    assert opened(shop, "ada", "/o/account/lookup?q=").count("<li") == 2  # nothing typed: the first ones
    assert "No accounts match" in opened(shop, "ada", "/o/account/lookup?q=zzz")


def test_the_type_ahead_offers_only_records_the_user_may_see(shop: Shop) -> None:
    as_sam = opened(shop, "sam", "/o/contact/lookup?q=&field=field-primary_contact")
    assert "Samuels" in as_sam and "Ng" not in as_sam and "Lee" not in as_sam
    as_ada = opened(shop, "ada", "/o/contact/lookup?q=&field=field-primary_contact")
    assert "Ng" in as_ada and "Lee" in as_ada
    opened(shop, "rita", "/o/contact/lookup?q=n", 403)


def test_the_type_ahead_ignores_a_field_id_that_is_not_one(shop: Shop) -> None:
    html = opened(shop, "ada", '/o/account/lookup?q=glo&field="><script>')
    assert "<script>" not in html and 'id="lookup-option-1"' in html


# -- deleting ------------------------------------------------------------------------------------

@pytest.fixture
def acme(api_org: Callable[..., ApiOrg]) -> ApiOrg:
    return api_org(sales_bundle())


def test_delete_asks_first_then_deletes_and_goes_to_the_list(acme: ApiOrg) -> None:
    ada = acme.user("admin", name="Ada", password=PASSWORD)
    account = _created(ada, "account", {"name": "Gone <i>soon</i>"})
    browser = browser_for(acme, ada)
    page = browser.get(f"/o/account/{account}/delete")
    assert page.status_code == 200 and "Delete account “Gone &lt;i&gt;soon&lt;/i&gt;”?" in page.text
    assert ada.client.get(f"/api/v1/records/account/{account}").status_code == 200  # asking deletes nothing
    done = browser.post(f"/o/account/{account}/delete", data=form_data(page.text), follow_redirects=False)
    assert (done.status_code, done.headers["location"]) == (303, "/o/account")
    assert ada.client.get(f"/api/v1/records/account/{account}").status_code == 404
    assert "Deleted account &#39;Gone &lt;i&gt;soon&lt;/i&gt;&#39;." in browser.get("/").text


def test_a_refused_delete_says_why_and_keeps_the_record(acme: ApiOrg) -> None:
    ada = acme.user("admin", name="Ada", password=PASSWORD)
    account = _created(ada, "account", {"name": "Acme"})
    _created(ada, "deal", {"name": "Big", "account": account})  # deals restrict deleting their account
    browser = browser_for(acme, ada)
    page = browser.get(f"/o/account/{account}/delete")
    refused = browser.post(f"/o/account/{account}/delete", data=form_data(page.text))
    assert refused.status_code == 409 and 'class="alert" role="alert"' in refused.text
    assert ada.client.get(f"/api/v1/records/account/{account}").status_code == 200


def test_a_stale_delete_is_refused_until_confirmed_again(acme: ApiOrg) -> None:
    ada = acme.user("admin", name="Ada", password=PASSWORD)
    account = _created(ada, "account", {"name": "Acme"})
    browser = browser_for(acme, ada)
    page = browser.get(f"/o/account/{account}/delete")
    assert ada.client.patch(f"/api/v1/records/account/{account}", json={"name": "Acme 2"}).status_code == 200
    stale = browser.post(f"/o/account/{account}/delete", data=form_data(page.text))
    assert stale.status_code == 412 and "someone changed it since you read it" in stale.text
    again = browser.post(f"/o/account/{account}/delete", data=form_data(stale.text), follow_redirects=False)
    assert again.status_code == 303
    assert ada.client.get(f"/api/v1/records/account/{account}").status_code == 404


def test_only_users_who_may_delete_the_record_get_the_confirmation(acme: ApiOrg) -> None:
    ada, sam = acme.user("admin"), acme.user("standard", name="Sam", password=PASSWORD)
    account = _created(ada, "account", {"name": "Acme"})  # public to read, Ada's to change
    browser = browser_for(acme, sam)
    assert browser.get(f"/o/account/{account}/delete").status_code == 403
    home = browser.get("/")
    forged = browser.post(f"/o/account/{account}/delete", data={"csrf_token": token_in(home.text)})
    assert forged.status_code == 403 and "CSRF" not in forged.text  # refused for the record, not the form
    assert ada.client.get(f"/api/v1/records/account/{account}").status_code == 200
