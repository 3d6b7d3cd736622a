"""Global search: the API's /search and the header's search page, as the user."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.api import PASSWORD, ApiOrg, ApiUser, problem
from tests.support.bundles import edited, obj, sales_bundle
from tests.support.pages import browser_for

pytestmark = pytest.mark.usefixtures("no_server_errors")


def bundle() -> dict[str, Any]:
    changed = edited(sales_bundle())
    obj(changed, "deal")["searchable"] = False
    changed["profiles"] = [{"name": "seller", "objects": [
        {"object": "account", "read": True, "create": True, "fields": {"phone": "hidden"}},
        {"object": "contact", "read": True, "create": True},
        {"object": "deal", "read": True, "create": True},
    ]}]
    return changed


@pytest.fixture
def acme(api_org: Callable[..., ApiOrg]) -> ApiOrg:
    return api_org(bundle())


@pytest.fixture
def admin(acme: ApiOrg) -> ApiUser:
    return acme.user("admin")


def create(user: ApiUser, object_name: str, **values: Any) -> dict[str, Any]:
    answer = user.client.post(f"/api/v1/records/{object_name}", json=values)
    assert answer.status_code == 201, answer.text
    return answer.json()


def found(user: ApiUser, q: str, **params: Any) -> dict[str, list[Any]]:
    answer = user.client.get("/api/v1/search", params={"q": q, **params})
    assert answer.status_code == 200, answer.text
    return {g["object"]: [r.get(g["name_field"]) or r["id"] for r in g["records"]] for g in answer.json()["results"]}


def test_search_finds_records_of_every_searchable_object_by_any_text_field(admin: ApiUser) -> None:
    acme = create(admin, "account", name="Acme Rockets", phone="555-0100")
    create(admin, "account", name="Globex")
    create(admin, "contact", last_name="Rocketman", first_name="Ann", account=acme["id"])
    create(admin, "contact", last_name="Ng", email="ng@rocket.example")
    create(admin, "deal", name="Rocket fuel", account=acme["id"], amount=10, stage="prospecting",
           close_date="2027-01-01")  # deals are not searchable
    assert found(admin, "ROCKET") == {"account": ["Acme Rockets"], "contact": ["Ng", "Rocketman"]}
    assert found(admin, "555-01") == {"account": ["Acme Rockets"]}
    assert found(admin, "nothing like it") == {}
    assert found(admin, "rocket", objects="contact", limit=1) == {"contact": ["Ng"]}
    more = admin.client.get("/api/v1/search", params={"q": "rocket", "objects": "contact", "limit": 1}).json()
    assert more["results"][0]["more"] is True


def test_search_sees_only_what_the_user_may_see(acme: ApiOrg, admin: ApiUser) -> None:
    create(admin, "account", name="Initech", phone="555-0199")
    seller, other = acme.user("seller"), acme.user("seller")
    create(other, "contact", last_name="Lumbergh")  # contacts are private: only their owner sees them
    create(seller, "contact", last_name="Lumb")
    assert found(seller, "lumb") == {"contact": ["Lumb"]}
    assert found(seller, "555-0199") == {}  # the phone is hidden from sellers: no match through it
    group = seller.client.get("/api/v1/search", params={"q": "initech"}).json()["results"][0]
    assert "phone" not in group["records"][0]


@pytest.mark.parametrize(("params", "code", "detail"), [
    ({"q": "a"}, "search.too_short", "search for at least 2 characters"),
    ({"q": "x" * 101}, "search.too_long", "search for at most 100 characters"),
    ({"q": "acme", "limit": "0"}, "api.bad_parameter", "'limit' is the number of records per object, 1 to 50"),
])
def test_a_bad_search_is_refused_with_a_clear_message(admin: ApiUser, params: dict[str, str], code: str,
                                                      detail: str) -> None:
    problem(admin.client.get("/api/v1/search", params=params), 400, code, detail)


def test_the_search_page_lists_matches_per_object_linking_to_the_records(acme: ApiOrg, admin: ApiUser) -> None:
    record = create(admin, "account", name="Acme <b>Rockets</b>")
    create(admin, "contact", last_name="Nobody", email="acme@example.com")
    browser = browser_for(acme, acme.user("admin", password=PASSWORD))
    html = browser.get("/search", params={"q": "acme"}).text
    assert "Accounts" in html and "Contacts" in html
    assert f'href="/o/account/{record["id"]}"' in html
    assert "Acme &lt;b&gt;Rockets&lt;/b&gt;" in html and "<b>Rockets</b>" not in html
    assert "Email: acme@example.com" in html  # what matched, when it is not the title
    assert 'value="acme"' in html  # the box keeps the search
    assert "No records match" in browser.get("/search", params={"q": "zzzz"}).text
    short = browser.get("/search", params={"q": "a"})
    assert short.status_code == 400 and "Search for at least 2 characters." in short.text


def test_a_list_filters_by_part_of_an_email_phone_or_url_without_checking_it_as_a_whole(admin: ApiUser) -> None:
    create(admin, "contact", last_name="Ng", email="ng@rocket.example", phone="+1 555 0100")
    create(admin, "contact", last_name="Ode", email="ode@globex.example")
    for field, part in (("email", "rocket"), ("phone", "555"), ("email", "NG@")):
        answer = admin.client.get("/api/v1/records/contact", params={
            "filter": f'{{"field": "{field}", "op": "contains", "value": "{part}"}}', "fields": "last_name"})
        assert answer.status_code == 200, answer.text
        assert [r["last_name"] for r in answer.json()["records"]] == ["Ng"]
