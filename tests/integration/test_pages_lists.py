"""The list page ``/o/{object}``: list views (columns, filter, sort), the user's filter rows,
sorting headers, keyset pages, counts on request, and what a user may not see."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from tests.support.api import BACKENDS, PASSWORD, ApiOrg, served_org
from tests.support.bundles import obj, sales_bundle
from tests.support.pages import browser_for

pytestmark = pytest.mark.usefixtures("no_server_errors")

VIEWS = [
    {"object": "deal", "name": "big_deals", "label": "Big deals", "columns": ["name", "account", "amount", "stage"],
     "filter": {"field": "amount", "op": "gte", "value": 50000}, "sort": ["-amount"]},
    {"object": "deal", "name": "all_deals", "label": "All the deals",
     "columns": ["name", "account", "amount", "stage", "close_date", "secret_code"], "sort": ["name"]},
]
PROFILES = [
    {"name": "rep", "objects": [
        {"object": "deal", "read": True, "fields": {"amount": "hidden", "secret_code": "hidden"}},
        {"object": "account", "read": True, "fields": {"name": "hidden"}},
        {"object": "contact", "read": True, "create": True},
    ]},
    {"name": "blind", "objects": [{"object": "account", "read": True}]},
]
# name, account, amount, stage, close date
DEALS = [
    ("Alpha", "Acme <b>Corp</b>", "1000.00", "prospecting", "2026-03-01"),
    ("Bravo", "Acme <b>Corp</b>", "55000.00", "proposal", "2026-02-01"),
    ("Charlie", "Globex", "98765.43", "negotiation", "2026-01-15"),
    ("Delta", "Globex", "20000.00", "closed_won", "2026-01-01"),
    ("Echo", "Acme <b>Corp</b>", "75000.00", "closed_lost", "2026-04-01"),
    ("Foxtrot", "Globex", None, "qualification", "2026-05-01"),
    ("Golf", "Acme <b>Corp</b>", "5000.00", "proposal", "2026-06-01"),
]
# last name, first name, email, birthdate, do not call
CONTACTS = [
    ("Smith", "John", "john@example.test", "1980-05-01", True),
    ("Smithers", "Waylon", None, "1995-02-02", False),
    ("Jones", "Ann", "ann@example.test", None, False),
]


def lists_bundle() -> dict[str, Any]:
    bundle = sales_bundle()
    for name in ("deal", "contact"):
        obj(bundle, name)["sharing"] = "public_read"
    obj(bundle, "deal")["fields"].append({"name": "secret_code", "label": "Secret code", "type": "text"})
    bundle["list_views"] += VIEWS
    bundle["profiles"] = PROFILES
    return bundle


@dataclass
class Sales:
    org: ApiOrg
    ids: dict[str, str]  # every record's id by its name
    admin: TestClient
    rep: TestClient
    blind: TestClient


@pytest.fixture(scope="module", params=BACKENDS)
def sales(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sales]:
    with served_org(request, request.param, tmp_path_factory.mktemp("lists"), lists_bundle()) as org:
        records = org.runtime.records()
        ids = {a["name"]: a["id"] for a in records.create_many("account", [{"name": "Acme <b>Corp</b>"},
                                                                           {"name": "Globex"}])}
        for last, first, email, birthdate, do_not_call in CONTACTS:
            contact = records.create("contact", {"last_name": last, "first_name": first, "email": email,
                                                 "birthdate": birthdate, "do_not_call": do_not_call,
                                                 "account": ids["Globex"]})
            ids[last] = contact["id"]
        for name, account, amount, stage, close_date in DEALS:
            deal = records.create("deal", {"name": name, "account": ids[account], "amount": amount, "stage": stage,
                                           "close_date": close_date, "secret_code": f"s3cr3t-{name}",
                                           "primary_contact": ids["Smith"] if name == "Golf" else None})
            ids[name] = deal["id"]
        users = {p: org.user(p, name=p, password=PASSWORD) for p in ("admin", "rep", "blind")}
        yield Sales(org, ids, *(browser_for(org, users[p]) for p in ("admin", "rep", "blind")))


def opened(browser: TestClient, url: str, status: int = 200) -> str:
    answer = browser.get(url)
    assert answer.status_code == status, answer.text
    return answer.text


def body_of(page: str) -> str:
    return page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]


def listed(page: str, object_name: str) -> list[str]:
    """The titles of the records listed (the links to their pages), in order."""
    return [html.unescape(t) for t in re.findall(rf'<a href="/o/{object_name}/[^"/]+">([^<]*)</a>', body_of(page))]


def headers(page: str) -> list[str]:
    head = page.split("<thead>", 1)[1].split("</thead>", 1)[0]
    cells = re.findall(r"<th[^>]*>(.*?)</th>", head, re.S)
    return [html.unescape(re.sub(r"<[^>]+>|[▲▼]", "", cell)).strip() for cell in cells]


def link(page: str, text: str) -> str:
    found = re.search(rf'<a href="([^"]+)"[^>]*>{re.escape(text)}</a>', page)
    assert found, f"no link {text!r}"
    return html.unescape(found.group(1))


def row_error(page: str, index: int) -> str | None:
    found = re.search(rf'<p class="field-error" id="filter-{index}-error" role="alert">([^<]*)</p>', page)
    return html.unescape(found.group(1)) if found else None


# -- list views -------------------------------------------------------------------------------------------------------

def test_the_first_view_shows_its_columns_filter_and_sort(sales: Sales) -> None:
    page = opened(sales.admin, "/o/deal")
    assert "<h1>Deals</h1>" in page and "<title>Open deals · Deals · Rapport</title>" in page
    assert headers(page) == ["Deal name", "Account name", "Stage", "Amount", "Weighted amount", "Close date"]
    # the filter leaves out closed deals, the sort is by close date
    assert listed(page, "deal") == ["Charlie", "Bravo", "Alpha", "Foxtrot", "Golf"]
    assert f'<a href="/o/deal/{sales.ids["Charlie"]}">Charlie</a>' in page
    assert f'<a href="/o/account/{sales.ids["Globex"]}">Globex</a>' in page  # looked-up name links to its record
    assert ">Negotiation<" in page and ">negotiation<" not in page  # the picklist's label
    assert "98,765.43" in page and 'datetime="2026-01-15"' in page


def test_the_view_selector_switches_views(sales: Sales) -> None:
    page = opened(sales.admin, "/o/deal?view=big_deals")
    assert re.search(r'<option value="big_deals" selected>Big deals</option>', page)
    assert headers(page) == ["Deal name", "Account", "Amount", "Stage"]
    assert listed(page, "deal") == ["Charlie", "Echo", "Bravo"]
    # a lookup column shows the looked-up record's name, linked to it
    assert f'<a href="/o/account/{sales.ids["Acme <b>Corp</b>"]}">Acme &lt;b&gt;Corp&lt;/b&gt;</a>' in page


def test_an_object_without_views_gets_all_records_newest_first(sales: Sales) -> None:
    page = opened(sales.admin, "/o/contact")
    assert "<title>All Contacts · Contacts · Rapport</title>" in page
    # the name field, then five other stored fields (the sixth, "Do not call", is left out)
    assert headers(page) == ["Last name", "First name", "Email", "Phone", "Account", "Birthdate"]
    assert listed(page, "contact") == ["Jones", "Smithers", "Smith"]


def test_an_unknown_view_shows_the_first_one_with_a_message(sales: Sales) -> None:
    page = opened(sales.admin, "/o/deal?view=nope")
    assert "There is no list view &#39;nope&#39; of Deals; showing &#39;Open deals&#39; instead." in page
    assert listed(page, "deal") == ["Charlie", "Bravo", "Alpha", "Foxtrot", "Golf"]


# -- the user's filters -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "names"), [
    ("/o/contact?ff=last_name&fo=contains&fv=MITH", ["Smithers", "Smith"]),
    ("/o/deal?view=all_deals&ff=amount&fo=gte&fv=55000", ["Bravo", "Charlie", "Echo"]),
    ("/o/deal?view=all_deals&ff=amount&fo=gte&fv=1,000.5&ff=amount&fo=lt&fv=20000", ["Golf"]),
    ("/o/deal?view=all_deals&ff=stage&fo=eq&fv=proposal", ["Bravo", "Golf"]),
    ("/o/deal?view=all_deals&ff=stage&fo=in&fv=proposal,+closed_won", ["Bravo", "Delta", "Golf"]),
    ("/o/deal?view=all_deals&ff=close_date&fo=lt&fv=2026-02-01", ["Charlie", "Delta"]),
    ("/o/contact?ff=birthdate&fo=gte&fv=1990-01-01", ["Smithers"]),
    ("/o/contact?ff=do_not_call&fo=eq&fv=true", ["Smith"]),
    ("/o/contact?ff=do_not_call&fo=eq&fv=false", ["Jones", "Smithers"]),
    ("/o/contact?ff=email&fo=is_null&fv=true", ["Smithers"]),
    ("/o/deal?view=all_deals&ff=amount&fo=is_null&fv=false&ff=name&fo=starts_with&fv=d", ["Delta"]),
    ("/o/deal?ff=weighted_amount&fo=is_null", ["Charlie", "Bravo", "Alpha", "Foxtrot", "Golf"]),
    ("/o/deal?view=big_deals&ff=stage&fo=ne&fv=closed_lost", ["Charlie", "Bravo"]),  # and-ed with the view's
    ("/o/deal?view=all_deals&ff=account.name&fo=eq&fv=Globex", ["Charlie", "Delta", "Foxtrot"]),
], ids=["text-contains", "number-gte", "number-range", "picklist-eq", "picklist-in", "date-lt", "date-gte",
        "boolean-true", "boolean-false", "is-null", "not-null-and-text", "formula-is-null", "and-view",
        "looked-up-field"])
def test_a_users_filter_rows_narrow_the_list(sales: Sales, url: str, names: list[str]) -> None:
    page = opened(sales.admin, url)
    assert sorted(listed(page, "deal" if "/deal" in url else "contact")) == sorted(names)
    assert 'class="field-error"' not in page


def test_a_related_lists_view_all_link_lists_the_parents_records(sales: Sales) -> None:
    page = opened(sales.admin, f"/o/deal?view=all_deals&ff=account&fo=eq&fv={sales.ids['Globex']}")
    assert listed(page, "deal") == ["Charlie", "Delta", "Foxtrot"]


def test_each_row_offers_the_operators_and_value_input_of_its_field(sales: Sales) -> None:
    page = opened(sales.admin, "/o/deal?view=all_deals&ff=stage&fo=eq&fv=proposal&ff=close_date&fo=gte&fv=2026-01-01"
                               "&ff=stage&fo=in&fv=proposal,negotiation&ff=amount&fo=is_null&fv=false")
    stage_ops = re.search(r'<select id="filter-0-op".*?</select>', page, re.S)
    assert stage_ops and re.findall(r'<option value="(\w+)"', stage_ops.group(0)) == [
        "eq", "ne", "in", "not_in", "lt", "lte", "gt", "gte", "contains", "starts_with", "is_null"]
    assert ">starts with<" in stage_ops.group(0) and ">is empty<" in stage_ops.group(0)
    assert '<option value="proposal" selected>Proposal</option>' in page  # a picklist's values in a select
    assert re.search(r'<input id="filter-1-value" name="fv" type="date" value="2026-01-01"', page)
    assert re.search(r'<input id="filter-2-value" name="fv" type="text" value="proposal,negotiation"'
                     r'[^>]*placeholder="values, separated by commas"', page)
    assert re.search(r'<select id="filter-3-value" name="fv"[^>]*>\s*<option value="true">Yes</option>\s*'
                     r'<option value="false" selected>No</option>', page)
    boolean = opened(sales.admin, "/o/contact?ff=do_not_call&fo=eq&fv=")
    boolean_ops = re.findall(r'<select id="filter-0-op".*?</select>', boolean, re.S)[0]
    assert boolean_ops.count("<option") == 3  # eq, ne, is_null
    assert "Enter a value to apply this filter." in boolean and len(listed(boolean, "contact")) == 3


def test_hidden_fields_are_neither_columns_nor_filter_choices(sales: Sales) -> None:
    page = opened(sales.rep, "/o/deal?view=all_deals&ff=&fo=&fv=")  # a new row: every field to choose from
    assert headers(page) == ["Deal name", "Account", "Stage", "Close date"]
    assert 'value="stage"' in page and 'value="weighted_amount"' in page
    assert 'value="amount"' not in page and 'value="secret_code"' not in page
    assert "Secret code" not in page and "s3cr3t" not in page and "98,765.43" not in page and "98765" not in page
    assert listed(page, "deal") == ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf"]
    admin_page = opened(sales.admin, "/o/deal?view=all_deals&ff=&fo=&fv=")
    assert 'value="secret_code"' in admin_page and "s3cr3t-Alpha" in admin_page


def test_without_the_name_field_rows_open_by_their_id_and_lookups_show_ids(sales: Sales) -> None:
    accounts = opened(sales.rep, "/o/account")
    assert headers(accounts)[0] == "Record ID" and "Name" not in headers(accounts)
    assert sorted(listed(accounts, "account")) == sorted([sales.ids["Globex"], sales.ids["Acme <b>Corp</b>"]])
    assert "Globex" not in accounts
    deals = opened(sales.rep, "/o/deal?view=all_deals&ff=name&fo=eq&fv=Charlie")
    globex = sales.ids["Globex"]
    assert f'<a href="/o/account/{globex}">{globex}</a>' in deals and "Globex" not in deals
    assert re.search(r'<th scope="col">Account</th>', deals)  # the names it would sort by are hidden: no link


def test_a_filter_or_sort_on_a_hidden_field_is_refused_without_telling_what_it_holds(sales: Sales) -> None:
    page = opened(sales.rep, "/o/deal?view=all_deals&ff=secret_code&fo=eq&fv=s3cr3t-Alpha")
    assert (row_error(page, 0) or "").startswith("Object 'deal' has no field 'secret_code' (fields: account, ")
    assert listed(page, "deal") == [] and "Secret code" not in page
    sorted_page = opened(sales.rep, "/o/deal?view=all_deals&sort=-amount")
    assert "The list cannot be sorted by &#39;amount&#39;" in sorted_page
    assert listed(sorted_page, "deal")[0] == "Alpha"  # the view's own sort
    view_page = opened(sales.rep, "/o/deal?view=big_deals")
    assert "The list view &#39;Big deals&#39; has a filter that cannot be applied" in view_page
    assert listed(view_page, "deal") == []


def test_a_bad_filter_value_is_shown_at_its_row_and_the_page_still_renders(sales: Sales) -> None:
    page = opened(sales.admin, "/o/deal?view=all_deals&ff=stage&fo=eq&fv=proposal&ff=amount&fo=gte&fv=abc")
    assert row_error(page, 0) is None
    assert row_error(page, 1) == "Operator 'gte' on field 'amount': expected a number, got 'abc'."
    assert re.search(r'<input id="filter-1-value" name="fv" type="text" value="abc"', page)  # kept as typed
    assert 'aria-describedby="filter-1-error" aria-invalid="true"' in page
    assert "fix the ones marked below" in page and headers(page)[0] == "Deal name"
    assert listed(page, "deal") == [] and "No records are shown until the problems above are fixed." in page
    bad_date = opened(sales.admin, "/o/contact?ff=birthdate&fo=lt&fv=31/01/1990")
    assert "expected a date like" in (row_error(bad_date, 0) or "")


def test_adding_and_removing_a_row_keeps_the_other_rows(sales: Sales) -> None:
    answer = sales.admin.get("/o/deal?view=all_deals&ff=stage&fo=eq&fv=proposal&sort=-amount&add=1",
                             follow_redirects=False)
    assert answer.status_code == 303
    assert parse_qsl(urlsplit(answer.headers["location"]).query, keep_blank_values=True) == [
        ("view", "all_deals"), ("ff", "stage"), ("fo", "eq"), ("fv", "proposal"), ("ff", ""), ("fo", ""), ("fv", ""),
        ("sort", "-amount")]
    added = opened(sales.admin, answer.headers["location"])
    assert 'id="filter-1-field" name="ff" data-filter-field autofocus' in added
    assert listed(added, "deal") == ["Bravo", "Golf"]
    removed = sales.admin.get("/o/deal?view=all_deals&ff=stage&fo=eq&fv=proposal&ff=name&fo=eq&fv=Golf&remove=0",
                              follow_redirects=False)
    assert parse_qsl(urlsplit(removed.headers["location"]).query) == [
        ("view", "all_deals"), ("ff", "name"), ("fo", "eq"), ("fv", "Golf")]


def test_html_in_data_and_in_the_query_string_is_escaped(sales: Sales) -> None:
    page = opened(sales.admin, "/o/deal?view=all_deals&ff=name&fo=contains&fv=%3Cscript%3Ealert(1)%3C/script%3E")
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    accounts = opened(sales.admin, "/o/account")
    assert "Acme &lt;b&gt;Corp&lt;/b&gt;" in accounts and "<b>Corp</b>" not in accounts


# -- sorting, pages, counts -------------------------------------------------------------------------------------------

def test_a_column_header_toggles_the_sort(sales: Sales) -> None:
    page = opened(sales.admin, "/o/deal?view=all_deals&ff=stage&fo=ne&fv=closed_lost")
    assert re.search(r'<th scope="col" aria-sort="ascending"><a href="[^"]*sort=-name', page)  # the view's sort
    ascending = opened(sales.admin, link(page, "Amount"))
    assert listed(ascending, "deal") == ["Alpha", "Golf", "Delta", "Bravo", "Charlie", "Foxtrot"]  # empty last
    assert re.search(r'<th scope="col" class="num" aria-sort="ascending"><a href="[^"]*sort=-amount', ascending)
    assert "fv=closed_lost" in link(ascending, 'Amount<span aria-hidden="true"> ▲</span>')  # the filter is kept
    descending = opened(sales.admin, link(ascending, 'Amount<span aria-hidden="true"> ▲</span>'))
    assert listed(descending, "deal") == ["Foxtrot", "Charlie", "Bravo", "Delta", "Golf", "Alpha"]
    assert 'aria-sort="descending"' in descending and descending.count("aria-sort=") == 1
    by_account = opened(sales.admin, link(page, "Account"))  # a lookup sorts by the looked-up name
    assert "sort=account.name" in link(page, "Account")
    assert listed(by_account, "account")[:3] == ["Acme <b>Corp</b>"] * 3


def test_the_next_page_has_the_next_records_and_no_duplicates(sales: Sales) -> None:
    first = opened(sales.admin, "/o/deal?view=all_deals&ff=stage&fo=ne&fv=closed_won&sort=-close_date&limit=4")
    assert "First page" not in first
    second_url = link(first, "Next page")
    assert {"ff": "stage", "fo": "ne", "fv": "closed_won", "sort": "-close_date", "limit": "4", "view": "all_deals"} \
        .items() <= dict(parse_qsl(urlsplit(second_url).query)).items()
    second = opened(sales.admin, second_url)
    assert listed(first, "deal") == ["Golf", "Foxtrot", "Echo", "Alpha"]
    assert listed(second, "deal") == ["Bravo", "Charlie"]
    assert "Next page" not in second and link(second, "First page") == (
        "/o/deal?view=all_deals&ff=stage&fo=ne&fv=closed_won&sort=-close_date&limit=4")


def test_a_tampered_cursor_or_a_bad_page_size_is_a_message(sales: Sales) -> None:
    page = opened(sales.admin, "/o/deal?view=all_deals&cursor=bm9wZQ")
    assert "The cursor is not one this API issued" in page and "First page" in page
    big = opened(sales.admin, "/o/deal?view=all_deals&limit=5000")
    assert "The page size must be a whole number from 1 to 200, not &#39;5000&#39;" in big
    assert len(listed(big, "deal")) == 7 and "limit=" not in link(big, "Amount")


def test_rows_are_counted_only_on_request(sales: Sales) -> None:
    with statements(sales.org) as seen:
        page = opened(sales.admin, "/o/deal?view=all_deals&ff=stage&fo=eq&fv=proposal")
    assert "Count rows" in page and 'role="status"' not in page
    assert not any("count(" in s.lower() for s in seen)
    counted = opened(sales.admin, link(page, "Count rows"))
    assert '<span role="status">2 records</span>' in counted and listed(counted, "deal") == ["Bravo", "Golf"]
    assert "count=" not in link(counted, "Amount")


@contextmanager
def statements(org: ApiOrg) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    engines = (org.runtime.location.engine, org.rapport.db.platform)
    for engine in engines:
        sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        for engine in engines:
            sa.event.remove(engine, "before_cursor_execute", count)


def test_a_page_runs_one_query_for_its_records_whatever_their_number(sales: Sales) -> None:
    def cost(limit: int) -> list[str]:
        with statements(sales.org) as seen:
            page = opened(sales.admin, f"/o/deal?view=all_deals&ff=amount&fo=gte&fv=1&limit={limit}")
        assert len(listed(page, "deal")) == min(limit, 6)
        return [s for s in seen if re.search(r'\bFROM\s+"?(\w+"?\.)?"?deal"?\b', s, re.I)]

    cost(1)
    small, large = cost(2), cost(50)
    assert len(small) == len(large) == 1


# -- permissions and addresses ----------------------------------------------------------------------------------------

def test_the_new_button_shows_only_to_who_may_create(sales: Sales) -> None:
    assert '<a class="button primary" href="/o/deal/new">New Deal</a>' in opened(sales.admin, "/o/deal")
    assert "/o/deal/new" not in opened(sales.rep, "/o/deal")
    assert '<a class="button primary" href="/o/contact/new">New Contact</a>' in opened(sales.rep, "/o/contact")


def test_an_object_the_user_may_not_read_is_403_and_an_unknown_one_404(sales: Sales) -> None:
    refused = opened(sales.blind, "/o/deal", status=403)
    assert "You may not read records of object &#39;deal&#39;" in refused and "Alpha" not in refused
    assert "has no object &#39;nothing&#39;" in opened(sales.admin, "/o/nothing", status=404)


def test_an_htmx_request_gets_the_address_to_show(sales: Sales) -> None:
    answer = sales.admin.get("/o/deal?view=all_deals&ff=stage&fo=eq&fv=proposal&ff=&fo=&fv=",
                             headers={"HX-Request": "true"})
    assert answer.headers["HX-Push-Url"] == "/o/deal?view=all_deals&ff=stage&fo=eq&fv=proposal&ff=&fo=&fv="
    assert 'id="list-page"' in answer.text
