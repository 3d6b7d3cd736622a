"""In a real browser: a list page's filter rows (htmx and rapport.js), sorting and paging."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import LiveServer, snap
from tests.support.api import PASSWORD, ApiOrg
from tests.support.bundles import sales_bundle

pytestmark = pytest.mark.e2e

DEALS = [("Alpha", "1000.00", "prospecting"), ("Bravo", "55000.00", "proposal"), ("Charlie", "98765.43", "proposal")]


def names(page: Any) -> list[str]:
    return [str(n) for n in page.locator("table.records tbody tr td:first-child a").all_inner_texts()]


def settled(page: Any) -> None:
    """Wait until htmx has swapped and settled the page (a user cannot act within those ms;
    a test can, and would then submit the new form before htmx has taken it over)."""
    page.wait_for_function("!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')")


def query(page: Any) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(page.url).query, keep_blank_values=True)


def test_a_user_filters_sorts_and_pages_a_list(api_org: Callable[..., ApiOrg],
                                               live_server: Callable[[ApiOrg], LiveServer], page: Any) -> None:
    bundle = sales_bundle()
    bundle["list_views"] = []
    org = api_org(bundle)
    admin = org.user("admin", name="Ada", password=PASSWORD)
    account = admin.client.post("/api/v1/records/account", json={"name": "Acme"}).json()["id"]
    for name, amount, stage in DEALS:
        admin.client.post("/api/v1/records/deal", json={"name": name, "account": account, "amount": amount,
                                                        "stage": stage}).raise_for_status()
    server = live_server(org)
    page.goto(f"{server.url}/login?next=/o/deal")
    page.get_by_label("Username").fill(admin.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{server.url}/o/deal")
    assert page.get_by_role("heading", name="Deals").is_visible()
    assert names(page) == ["Charlie", "Bravo", "Alpha"]  # newest first

    page.get_by_role("button", name="Add filter").click()
    row = page.get_by_role("group", name="Filter 1")
    field = row.get_by_label("Field")
    expect(field).to_be_focused()  # the new row's field
    settled(page)
    field.select_option(label="Stage")  # the row asks again for the stage's conditions and values
    row.get_by_label("Value").locator("option", has_text="Proposal").wait_for(state="attached")
    expect(field).to_be_focused()  # focus stays where it was
    assert row.get_by_label("Condition").input_value() == "eq"
    row.get_by_label("Value").select_option(label="Proposal")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**ff=stage&fo=eq&fv=proposal**")
    assert names(page) == ["Charlie", "Bravo"]
    snap(page, "list-filtered")

    page.get_by_role("link", name="Amount").click()
    page.wait_for_url("**sort=amount**")
    assert names(page) == ["Bravo", "Charlie"]
    assert page.locator("th[aria-sort=ascending]").inner_text().startswith("Amount")
    page.get_by_role("link", name="Amount").click()
    page.wait_for_url("**sort=-amount**")
    assert names(page) == ["Charlie", "Bravo"]

    row = page.get_by_role("group", name="Filter 1")
    row.get_by_label("Condition").select_option(label="is empty")  # the value becomes yes/no
    row.get_by_label("Value").locator("option", has_text="Yes").wait_for(state="attached")
    row.get_by_label("Value").select_option(label="No")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**fo=is_null&fv=false**")
    assert names(page) == ["Charlie", "Bravo", "Alpha"]

    page.get_by_role("button", name="Add filter").click()
    row = page.get_by_role("group", name="Filter 2")
    row.get_by_label("Field").select_option(label="Deal name")
    row.get_by_label("Condition").select_option(label="contains")  # the row asks again for its value input
    row.get_by_label("Value").fill("HAR")  # typed while the page answers: kept when the answer comes
    page.wait_for_function("!document.querySelector('.htmx-request')")
    row.get_by_label("Value").press("Enter")  # Enter applies (never adds or removes a row)
    page.wait_for_url("**fo=contains&fv=HAR**")
    assert names(page) == ["Charlie"]
    snap(page, "list-two-filters")

    page.get_by_role("button", name="Remove filter 1").click()
    page.wait_for_function("document.querySelectorAll('[data-filter-row]').length === 1")
    assert [(k, v) for k, v in query(page) if k in ("ff", "sort")] == [("ff", "name"), ("sort", "-amount")]
    assert names(page) == ["Charlie"]

    page.goto(f"{server.url}/o/deal?limit=2&sort=name")
    assert names(page) == ["Alpha", "Bravo"]
    page.get_by_role("link", name="Next page").click()
    page.wait_for_url("**cursor=**")
    assert names(page) == ["Charlie"]
    page.get_by_role("link", name="First page").click()
    page.wait_for_url(f"{server.url}/o/deal?sort=name&limit=2")
    assert names(page) == ["Alpha", "Bravo"]
