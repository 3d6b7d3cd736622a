"""Setup pages for users, API keys, profiles and permission sets: what an admin does through the
forms changes what people can do through the API, with the API's own rules and messages."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from html import unescape
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from tests.support.api import BACKENDS, PASSWORD, ApiOrg, ApiUser, served_org
from tests.support.bundles import sales_bundle
from tests.support.forms import form_in
from tests.support.pages import browser_for, submit, token_in

pytestmark = pytest.mark.usefixtures("no_server_errors")

NEW_PASSWORD = "a different secret phrase"


def bundle_with_grants() -> dict[str, Any]:
    bundle = sales_bundle()
    bundle["profiles"] = [
        {"name": "seller", "label": "Seller", "objects": [
            {"object": "account", "read": True, "create": True, "edit": True},
            {"object": "deal", "read": True, "create": True, "edit": True, "delete": True,
             "default_field_access": "edit", "fields": {"next_step": "edit"}}]},
        {"name": "user_admin", "label": "User admin", "system_permissions": ["manage_users"]},
    ]
    bundle["permission_sets"] = [
        {"name": "contact_reader", "label": "Contact reader", "objects": [{"object": "contact", "read": True}]},
    ]
    return bundle


def form_fields(html: str, action: str, **changes: str | list[str] | None) -> dict[str, list[str]]:
    """What a browser sends with the form posting to ``action``, each name's values as a list,
    with ``changes`` (``None`` drops a field; dots in names as ``__``)."""
    fields: dict[str, list[str]] = {}
    for name, sent in form_in(html, action).fields:
        fields.setdefault(name, []).append(sent)
    for key, change in changes.items():
        name = key.replace("__", ".")
        if change is None:
            fields.pop(name, None)
        else:
            fields[name] = change if isinstance(change, list) else [change]
    return fields


def post_form(browser: TestClient, page_path: str, action: str | None = None, **changes: Any) -> httpx.Response:
    """Open ``page_path`` and submit its form (to ``action``) with ``changes``, as a browser would."""
    opened = browser.get(page_path)
    assert opened.status_code == 200, opened.text
    target = action or page_path
    return browser.post(target, data=form_fields(opened.text, target, **changes), follow_redirects=False)


def apply_preview(browser: TestClient, preview: httpx.Response) -> httpx.Response:
    """Press Apply on a plan preview page."""
    assert preview.status_code == 200, preview.text
    assert "Review the change" in preview.text
    return browser.post("/admin/apply", data=form_fields(preview.text, "/admin/apply"), follow_redirects=False)


def error_at(html: str, control_id: str) -> str:
    """The error message shown at the control with id ``control_id``."""
    found = re.search(rf'id="{re.escape(control_id)}-error"[^>]*>([^<]*)<', html)
    assert found, f"no error at {control_id}"
    return unescape(found.group(1))


def value_of(html: str, control_id: str) -> str:
    found = re.search(rf'<input id="{re.escape(control_id)}"[^>]* value="([^"]*)"', html)
    assert found, f"no input {control_id}"
    return unescape(found.group(1))


# -- one org for the tests that change nothing --------------------------------------------------------------

@pytest.fixture(scope="module", params=BACKENDS)
def acme(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiOrg]:
    with served_org(request, request.param, tmp_path_factory.mktemp("setup-users"), bundle_with_grants()) as org:
        yield org


@pytest.fixture(scope="module")
def admin(acme: ApiOrg) -> ApiUser:
    ada = acme.user("admin", name="ada", password=PASSWORD)
    acme.rapport.update_user(acme.name, ada.username, name="Ada <b>Admin</b>")
    return ada


@pytest.fixture(scope="module")
def admin_browser(acme: ApiOrg, admin: ApiUser) -> TestClient:
    return browser_for(acme, admin)


def test_the_user_list_shows_each_users_account_profile_and_sets(acme: ApiOrg, admin: ApiUser,
                                                                  admin_browser: TestClient) -> None:
    seller = acme.user("seller", permission_sets=["contact_reader"], name="sam")
    page = admin_browser.get("/admin/users")
    assert page.status_code == 200
    row = page.text[page.text.index(seller.username) - 200:]
    assert ">sam</a>" in row and ">Seller<" in row and "Contact reader" in row
    assert "Ada &lt;b&gt;Admin&lt;/b&gt;" in page.text and "<b>Admin</b>" not in page.text  # escaped
    assert f'href="/admin/users/{seller.username}"' in page.text


def test_someone_without_manage_users_gets_403_and_changes_nothing(acme: ApiOrg) -> None:
    standard = acme.user("standard", password=PASSWORD)
    browser = browser_for(acme, standard)
    for path in ("/admin/users", "/admin/users/new", f"/admin/users/{standard.username}", "/admin/keys"):
        answer = browser.get(path)
        assert answer.status_code == 403, path
        assert "manage_users" in answer.text
    token = token_in(browser.get("/").text)
    created = browser.post("/admin/users/new", data={"csrf_token": token, "username": "mallory", "name": "M",
                                                     "profile": "admin", "password": PASSWORD,
                                                     "password_again": PASSWORD})
    assert created.status_code == 403
    promoted = browser.post(f"/admin/users/{standard.username}", data={"csrf_token": token, "name": "S",
                                                                       "profile": "admin", "active": "yes"})
    assert promoted.status_code == 403
    assert standard.client.get("/api/v1/me").json()["user"]["profile"] == "standard"
    assert "mallory" not in [u["username"] for u in acme.user("admin").client.get("/api/v1/users").json()["users"]]


def test_managing_users_does_not_open_the_profile_editor(acme: ApiOrg) -> None:
    browser = browser_for(acme, acme.user("user_admin", password=PASSWORD))
    assert browser.get("/admin/users").status_code == 200
    for path in ("/admin/profiles", "/admin/profiles/seller", "/admin/permission_sets/new"):
        assert browser.get(path).status_code == 403, path


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"name": ""}, "user-name", "Name '' is not allowed: use 1-255 characters."),
    ({"password": "short", "password_again": "short"}, "user-password",
     "The password is too weak: it must have at least 10 characters."),
    ({"password": "aaaaaaaaaaaa", "password_again": "aaaaaaaaaaaa"}, "user-password",
     "The password is too weak: it must not be one character repeated."),
    ({"password_again": "something else"}, "user-password-again",
     "The two passwords differ: type the same password in both boxes."),
    ({"username": "x"}, "user-username", "Username 'x' is not allowed: use 3-80 lower-case letters, digits and "
     "'.', '_', '@', '+', '-', starting with a letter or digit (an email address works)."),
    ({"email": "not an address"}, "user-email",
     "Email 'not an address' is not an email address (name@domain, at most 255 characters)."),
])
def test_bad_input_is_shown_at_its_field_with_everything_typed_kept(
        acme: ApiOrg, admin_browser: TestClient, changes: dict[str, str], field: str, message: str) -> None:
    typed = {"username": "nina@acme.test", "name": "Nina <Nyström>", "email": "nina@acme.test",
             "profile": "seller", "permission_sets": "contact_reader", "password": PASSWORD,
             "password_again": PASSWORD, **changes}
    answer = submit(admin_browser, "/admin/users/new", data=typed)
    assert answer.status_code in (400, 422), answer.text
    assert error_at(answer.text, field) == message
    assert 'aria-invalid="true"' in answer.text and 'role="alert"' in answer.text
    for control, name in (("user-username", "username"), ("user-name", "name"), ("user-email", "email")):
        assert value_of(answer.text, control) == typed[name]
    assert '<option value="seller" selected>' in answer.text
    assert 'value="contact_reader" checked' in answer.text
    assert PASSWORD not in answer.text and value_of(answer.text, "user-password") == ""
    assert admin_browser.get("/admin/users").text.count("nina@acme.test") == 0  # nothing was created


def test_a_taken_username_is_refused_at_the_username(acme: ApiOrg, admin: ApiUser, admin_browser: TestClient) -> None:
    answer = submit(admin_browser, "/admin/users/new", data={
        "username": admin.username.upper(), "name": "Copy", "email": "", "profile": "standard",
        "password": PASSWORD, "password_again": PASSWORD})
    assert answer.status_code == 409
    assert error_at(answer.text, "user-username") == f"Username {admin.username!r} is already taken."
    assert value_of(answer.text, "user-username") == admin.username.upper()


def test_the_built_in_profiles_are_shown_read_only(admin_browser: TestClient) -> None:
    page = admin_browser.get("/admin/profiles/standard")
    assert page.status_code == 200 and "cannot be changed" in page.text
    assert "Review the change" not in page.text
    delete_deals = re.search(r'<input [^>]*id="o-deal-delete"[^>]*>', page.text)
    assert delete_deals and "checked" in delete_deals.group(0) and "disabled" in delete_deals.group(0)
    admin_page = admin_browser.get("/admin/profiles/admin").text
    assert re.search(r'value="manage_metadata"[^>]* checked disabled', admin_page)
    refused = admin_browser.post("/admin/profiles/admin", data={"csrf_token": token_in(page.text)})
    assert refused.status_code == 403 and "is built in and cannot be changed" in refused.text


def test_the_profiles_page_lists_built_in_and_own_profiles_and_permission_sets(admin_browser: TestClient) -> None:
    page = admin_browser.get("/admin/profiles").text
    for link in ("/admin/profiles/admin", "/admin/profiles/standard", "/admin/profiles/seller",
                 "/admin/permission_sets/contact_reader", "/admin/profiles/new", "/admin/permission_sets/new"):
        assert f'href="{link}"' in page
    assert admin_browser.get("/admin/profiles/nobody").status_code == 404
    assert admin_browser.get("/admin/users/nobody@acme.test").status_code == 404


def test_the_loaders_problems_are_shown_at_their_controls_with_the_choices_kept(
        acme: ApiOrg, admin_browser: TestClient) -> None:
    revision = len(acme.runtime.metadata.revisions())
    # deal's name is required and has no default: who may create deals must be able to edit it
    answer = post_form(admin_browser, "/admin/profiles/seller", f__deal__name="hidden", f__deal__amount="read",
                       o__contact__read="yes", label="Seller (EU)")
    assert answer.status_code == 422
    assert error_at(answer.text, "f-deal-name") == (
        "Profile 'seller': field 'name' of object 'deal' is required and has no default, so users who may create "
        "deal records must be able to edit it (it is 'hidden').")
    assert '<a href="#f-deal-name">' in answer.text  # in the summary above the form, linked to the control
    kept = form_fields(answer.text, "/admin/profiles/seller")
    assert kept["f.deal.name"] == ["hidden"] and kept["f.deal.amount"] == ["read"]
    assert kept["o.contact.read"] == ["yes"] and kept["label"] == ["Seller (EU)"]
    reserved = post_form(admin_browser, "/admin/profiles/new", name="standard")
    assert reserved.status_code == 422
    assert "is reserved for a built-in profile" in error_at(reserved.text, "grant-name")
    assert len(acme.runtime.metadata.revisions()) == revision  # nothing was applied


def test_saving_a_profile_unchanged_changes_nothing(admin_browser: TestClient) -> None:
    preview = post_form(admin_browser, "/admin/profiles/seller")
    assert preview.status_code == 200 and "Nothing would change" in preview.text


# -- tests that change data: an org each ---------------------------------------------------------------------

@pytest.fixture
def org(api_org: Callable[..., ApiOrg]) -> ApiOrg:
    return api_org(bundle_with_grants())


@pytest.fixture
def browser(org: ApiOrg) -> TestClient:
    return browser_for(org, org.user("admin", name="ada", password=PASSWORD))


def login_status(org: ApiOrg, username: str, password: str) -> int:
    client = org.client()
    form = client.get("/login")
    answer = client.post("/login", data={"username": username, "password": password,
                                         "csrf_token": token_in(form.text), "next": "/"}, follow_redirects=False)
    return answer.status_code


def test_an_admin_creates_a_user_who_can_then_log_in(org: ApiOrg, browser: TestClient) -> None:
    answer = submit(browser, "/admin/users/new", data={
        "username": "Nina+Sales@Acme.test", "name": "Nina", "email": "nina@acme.test", "profile": "seller",
        "permission_sets": "contact_reader", "password": PASSWORD, "password_again": PASSWORD},
        follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/admin/users/nina+sales@acme.test")
    page = browser.get(answer.headers["location"]).text
    assert "Created user nina+sales@acme.test." in page and "has no API keys" in page
    user = org.user("admin").client.get("/api/v1/users/nina+sales@acme.test").json()
    assert (user["name"], user["profile"], user["permission_sets"], user["active"]) == (
        "Nina", "seller", ["contact_reader"], True)
    assert login_status(org, "nina+sales@acme.test", PASSWORD) == 303


def test_an_admin_changes_a_users_profile_password_and_deactivates_them(org: ApiOrg, browser: TestClient) -> None:
    sam = org.user("standard", name="sam", password=PASSWORD)
    page = f"/admin/users/{sam.username}"
    moved = post_form(browser, page, profile="seller", permission_sets=["contact_reader"], email="sam@acme.test")
    assert (moved.status_code, moved.headers["location"]) == (303, page)
    assert "Saved." in browser.get(page).text
    me = sam.client.get("/api/v1/me").json()["user"]
    assert (me["profile"], me["permission_sets"], me["email"]) == ("seller", ["contact_reader"], "sam@acme.test")

    weak = post_form(browser, page, name="Samuel", password=sam.username, password_again=sam.username)
    assert weak.status_code == 400
    assert error_at(weak.text, "user-password") == "The password is too weak: it must not be the username."
    assert value_of(weak.text, "user-name") == "Samuel"
    assert sam.client.get("/api/v1/me").json()["user"]["name"] == "sam"  # a refused form changes nothing

    renamed = post_form(browser, page, password=NEW_PASSWORD, password_again=NEW_PASSWORD)
    assert renamed.status_code == 303
    assert login_status(org, sam.username, PASSWORD) == 401
    assert login_status(org, sam.username, NEW_PASSWORD) == 303

    deactivated = post_form(browser, page, active=None)
    assert deactivated.status_code == 303
    assert login_status(org, sam.username, NEW_PASSWORD) == 401
    assert sam.client.get("/api/v1/me").status_code == 401  # their API key too
    assert "Inactive" in browser.get("/admin/users").text


def test_your_own_page_warns_before_you_lock_yourself_out(org: ApiOrg) -> None:
    ada = org.user("admin", name="ada", password=PASSWORD)
    browser = browser_for(org, ada)
    assert "This is your own account" in browser.get(f"/admin/users/{ada.username}").text
    other = org.user("standard")
    assert "This is your own account" not in browser.get(f"/admin/users/{other.username}").text


def test_an_api_key_is_shown_once_works_and_stops_working_when_revoked(org: ApiOrg, browser: TestClient) -> None:
    sam = org.user("seller", name="sam")
    page = f"/admin/users/{sam.username}"
    created = submit(browser, page, f"{page}/keys", data={"key_name": "nightly import"})
    assert created.status_code == 201
    assert "Copy the key now: it will not be shown again." in created.text
    secret = value_of(created.text, "secret")
    assert secret.startswith("rk_")
    answer = org.client(Authorization=f"Bearer {secret}").get("/api/v1/me")
    assert answer.status_code == 200 and answer.json()["user"]["username"] == sam.username

    user_page = browser.get(page).text
    assert "nightly import" in user_page and secret not in user_page
    listing = browser.get("/admin/keys").text
    assert "nightly import" in listing and sam.username in listing and secret not in listing
    key_id = next(k["id"] for k in org.user("admin").client.get("/api/v1/keys").json()["keys"]
                  if k["name"] == "nightly import")
    confirm = browser.get(f"/admin/keys/{key_id}/revoke?back={page}")
    assert confirm.status_code == 200 and "This cannot be undone" in confirm.text
    revoked = browser.post(f"/admin/keys/{key_id}/revoke", data=form_fields(
        confirm.text, f"/admin/keys/{key_id}/revoke"), follow_redirects=False)
    assert (revoked.status_code, revoked.headers["location"]) == (303, page)
    assert "Revoked the API key 'nightly import'" in unescape(browser.get(page).text)
    assert org.client(Authorization=f"Bearer {secret}").get("/api/v1/me").status_code == 401
    assert sam.client.get("/api/v1/me").status_code == 200  # the user's other keys still work


def test_a_bad_key_name_is_shown_at_the_name_with_what_was_typed(org: ApiOrg, browser: TestClient) -> None:
    sam = org.user("standard")
    page = f"/admin/users/{sam.username}"
    answer = submit(browser, page, f"{page}/keys", data={"key_name": " padded "})
    assert answer.status_code == 400
    assert "is not allowed: use 1-80 printable characters" in error_at(answer.text, "key-name")
    assert value_of(answer.text, "key-name") == " padded "


def test_a_profile_edited_in_the_editor_changes_what_its_users_may_do(org: ApiOrg, browser: TestClient) -> None:
    seller = org.user("seller")
    account = seller.client.post("/api/v1/records/account", json={"name": "Acme"}).json()
    deal = seller.client.post("/api/v1/records/deal", json={
        "name": "Big deal", "account": account["id"], "stage": "prospecting", "amount": 1000}).json()
    assert deal["amount"] == 1000

    preview = post_form(browser, "/admin/profiles/seller", f__deal__amount="hidden", o__deal__delete=None)
    assert "Change profile &#39;Seller&#39;" in preview.text
    applied = apply_preview(browser, preview)
    assert (applied.status_code, applied.headers["location"]) == (303, "/admin/profiles/seller")

    record = seller.client.get(f"/api/v1/records/deal/{deal['id']}")
    assert record.status_code == 200 and "amount" not in record.json() and record.json()["name"] == "Big deal"
    refused = seller.client.delete(f"/api/v1/records/deal/{deal['id']}")
    assert refused.status_code == 403 and refused.json()["code"] == "permissions.object_access"
    assert seller.client.patch(f"/api/v1/records/deal/{deal['id']}", json={"next_step": "call"}).status_code == 200
    editor = browser.get("/admin/profiles/seller").text
    assert re.search(r'<option value="hidden" selected>', editor[editor.index('id="f-deal-amount"'):])


def test_a_new_permission_set_made_in_the_editor_and_given_to_a_user_adds_access(
        org: ApiOrg, browser: TestClient) -> None:
    seller = org.user("seller")
    assert seller.client.get("/api/v1/records/contact").status_code == 403
    preview = post_form(browser, "/admin/permission_sets/new", name="contact_editor", label="Contact editor",
                        o__contact__read="yes", o__contact__create="yes", f__contact__birthdate="hidden")
    applied = apply_preview(browser, preview)
    assert (applied.status_code, applied.headers["location"]) == (303, "/admin/profiles")
    grant = org.runtime.metadata.bundle().to_dict()["permission_sets"][-1]
    assert grant == {"name": "contact_editor", "label": "Contact editor", "objects": [
        {"object": "contact", "read": True, "create": True, "fields": {"birthdate": "hidden"}}]}

    assigned = post_form(browser, f"/admin/users/{seller.username}", permission_sets=["contact_editor"])
    assert assigned.status_code == 303
    created = seller.client.post("/api/v1/records/contact", json={"last_name": "Lee"})
    assert created.status_code == 201 and "birthdate" not in created.json()


def test_a_new_profile_is_offered_on_the_user_form(org: ApiOrg, browser: TestClient) -> None:
    preview = post_form(browser, "/admin/profiles/new", name="auditor", label="Auditor",
                        system_permissions="view_all_data")
    assert apply_preview(browser, preview).status_code == 303
    assert '<option value="auditor">Auditor</option>' in browser.get("/admin/users/new").text
    created = submit(browser, "/admin/users/new", data={
        "username": "audrey", "name": "Audrey", "profile": "auditor", "password": "", "password_again": ""},
        follow_redirects=False)
    assert created.status_code == 303
    assert "none (API keys only)" in browser.get("/admin/users/audrey").text
    assert login_status(org, "audrey", "") == 401
