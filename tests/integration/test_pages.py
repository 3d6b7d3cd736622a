"""The pages: login and logout with a session cookie and CSRF-protected forms, the home page."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.api import PASSWORD, ApiOrg, ApiUser
from tests.support.bundles import sales_bundle
from tests.support.pages import log_in, token_in

pytestmark = pytest.mark.usefixtures("no_server_errors")


@pytest.fixture
def acme(api_org: Callable[..., ApiOrg]) -> ApiOrg:
    return api_org(sales_bundle())


@pytest.fixture
def ann(acme: ApiOrg) -> ApiUser:
    return acme.user("standard", name="ann", password=PASSWORD)


def test_a_page_without_a_session_sends_the_browser_to_log_in(acme: ApiOrg) -> None:
    answer = acme.client().get("/", follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/login?next=/")


def test_logging_in_sets_a_session_cookie_and_opens_the_home_page(acme: ApiOrg, ann: ApiUser) -> None:
    browser, answer = log_in(acme, ann)
    assert answer.headers["location"] == "/"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("rapport_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    home = browser.get("/")
    assert home.status_code == 200 and home.headers["content-type"].startswith("text/html")
    assert "Log out" in home.text and "ann" in home.text.lower()


def test_a_wrong_password_shows_the_form_again_with_the_name_kept(acme: ApiOrg, ann: ApiUser) -> None:
    browser = acme.client()
    form = browser.get("/login")
    answer = browser.post("/login", data={"username": ann.username, "password": "not the password",
                                          "csrf_token": token_in(form.text), "next": "/"})
    assert answer.status_code == 401
    assert 'role="alert"' in answer.text and "The username or password is wrong." in answer.text
    assert f'value="{ann.username}"' in answer.text and "rapport_session" not in answer.headers.get("set-cookie", "")


def test_a_login_form_not_sent_from_the_login_page_is_refused(acme: ApiOrg, ann: ApiUser) -> None:
    answer = acme.client().post("/login", data={"username": ann.username, "password": PASSWORD,
                                                "csrf_token": "forged", "next": "/"})
    assert answer.status_code == 403 and "The form expired" in answer.text


@pytest.mark.parametrize("target", ["https://evil.test/", "//evil.test/", "/\\evil.test"])
def test_after_login_the_browser_only_goes_to_a_page_of_this_site(acme: ApiOrg, ann: ApiUser, target: str) -> None:
    _, answer = log_in(acme, ann, next_path=target)
    assert answer.headers["location"] == "/"


def test_logging_out_needs_the_forms_csrf_token_and_ends_the_session(acme: ApiOrg, ann: ApiUser) -> None:
    browser, _ = log_in(acme, ann)
    home = browser.get("/")
    forged = browser.post("/logout", data={"csrf_token": "forged"}, follow_redirects=False)
    assert forged.status_code == 403 and "CSRF token" in forged.text
    assert browser.get("/").status_code == 200  # still signed in
    out = browser.post("/logout", data={"csrf_token": token_in(home.text)}, follow_redirects=False)
    assert (out.status_code, out.headers["location"]) == (303, "/login")
    assert browser.get("/", follow_redirects=False).status_code == 303


def test_the_home_page_lists_what_the_user_may_see_with_recent_records(api_org: Callable[..., ApiOrg]) -> None:
    bundle = sales_bundle()
    bundle["profiles"] = [{"name": "seller", "objects": [{"object": "account", "read": True, "create": True}]}]
    acme = api_org(bundle)
    admin = acme.user("admin")
    for name in ("Acme <b>Corp</b>", "Globex"):
        assert admin.client.post("/api/v1/records/account", json={"name": name}).status_code == 201
    seller = acme.user("seller", name="sam", password=PASSWORD)
    browser, _ = log_in(acme, seller)
    home = browser.get("/").text
    assert "Accounts" in home and "Deals" not in home and "Contacts" not in home
    assert "Acme &lt;b&gt;Corp&lt;/b&gt;" in home and "<b>Corp</b>" not in home  # escaped
    assert home.index("Globex") < home.index("Acme")  # most recently changed first


def test_the_stylesheet_and_htmx_are_served_from_the_site(acme: ApiOrg) -> None:
    client = acme.client()
    page = client.get("/login").text
    assert 'src="/static/htmx.min.js"' in page and "https://" not in page  # nothing from a CDN
    htmx = client.get("/static/htmx.min.js")
    assert htmx.status_code == 200 and "htmx" in htmx.text
    assert client.get("/static/rapport.css").status_code == 200
