"""In a real browser: logging in, the home page, the header's search, logging out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, snap
from tests.support.api import PASSWORD, ApiOrg
from tests.support.bundles import sales_bundle

pytestmark = pytest.mark.e2e


def test_a_user_logs_in_searches_and_logs_out(api_org: Callable[..., ApiOrg],
                                             live_server: Callable[[ApiOrg], LiveServer], page: Any) -> None:
    org = api_org(sales_bundle())
    admin = org.user("admin", name="Ada", password=PASSWORD)
    admin.client.post("/api/v1/records/account", json={"name": "Acme Rockets"}).raise_for_status()
    server = live_server(org)

    page.goto(f"{server.url}/")
    assert page.url.startswith(f"{server.url}/login")
    snap(page, "login")
    page.get_by_label("Username").fill(admin.username)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text() == "The username or password is wrong."
    assert page.get_by_label("Username").input_value() == admin.username
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{server.url}/")
    assert page.get_by_role("heading", name="Accounts").is_visible()
    snap(page, "home")

    page.get_by_label("Search records").fill("rocket")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server.url}/search?q=rocket")
    assert page.get_by_role("link", name="Acme Rockets").is_visible()
    snap(page, "search")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{server.url}/login")
    page.goto(f"{server.url}/")
    assert page.url.startswith(f"{server.url}/login")
