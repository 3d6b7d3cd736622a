"""Accounts through the HTTP client: logging in (session cookie, CSRF, logout, the lock after
failed logins), your own account and API keys, user administration, and orgs kept apart."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rapport.platform.ratelimit import MemoryRateLimiter
from tests.support.api import BACKENDS, CLOCK, PASSWORD, ApiOrg, ApiUser, problem, served_org
from tests.support.bundles import sales_bundle

LOGIN = "/api/v1/auth/login"
CSRF = "X-CSRF-Token"
EVERYTHING = ["manage_metadata", "manage_users", "modify_all_data", "view_all_data"]

pytestmark = pytest.mark.usefixtures("no_server_errors")


@pytest.fixture(scope="module", params=BACKENDS)
def office(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiOrg]:
    """One org for the module's tests that leave it as they found it (sessions aside)."""
    with served_org(request, request.param, tmp_path_factory.mktemp("office"), sales_bundle()) as org:
        yield org


@pytest.fixture(scope="module")
def boss(office: ApiOrg) -> ApiUser:
    return office.user("admin")


@pytest.fixture(scope="module")
def clerk(office: ApiOrg) -> ApiUser:
    return office.user("standard", password=PASSWORD)


@pytest.fixture(scope="module")
def member(office: ApiOrg) -> ApiUser:
    """A user of the standard profile with a password (and an API key)."""
    return office.user("standard", password=PASSWORD)


@pytest.fixture
def acme(api_org: Callable[..., ApiOrg]) -> ApiOrg:
    """An org of the test's own, for tests that change users and keys."""
    return api_org()


@pytest.fixture
def admin(acme: ApiOrg) -> ApiUser:
    return acme.user("admin")


@pytest.fixture
def worker(acme: ApiOrg) -> ApiUser:
    return acme.user("standard")


def log_in(acme: ApiOrg, user: ApiUser) -> tuple[Any, str]:
    """A client holding a session cookie of ``user``, and the session's CSRF token."""
    client = acme.client()
    response = client.post(LOGIN, json={"username": user.username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return client, response.json()["csrf_token"]


# -- sessions --------------------------------------------------------------------------------

def test_login_sets_an_http_only_session_cookie(office: ApiOrg, member: ApiUser) -> None:
    response = office.client().post(LOGIN, json={"username": member.username.upper(), "password": PASSWORD})
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("rapport_session=")
    assert {"HttpOnly", "Path=/", "SameSite=lax"} <= {part.strip() for part in cookie.split(";")}
    assert "secure" not in cookie.lower()  # plain http here; set over https
    body = response.json()
    assert (body["user"]["username"], body["org"]["name"], body["system_permissions"]) == \
        (member.username, office.name, [])
    assert body["user"]["last_login_at"] is not None and len(body["csrf_token"]) >= 32


def test_a_session_reads_freely_but_writes_only_with_its_csrf_token(office: ApiOrg, member: ApiUser) -> None:
    client, csrf = log_in(office, member)
    assert client.get("/api/v1/me").json()["user"]["id"] == member.id
    assert client.get("/api/v1/records/account").status_code == 200
    denied = ("a request with a session cookie that changes data needs the header 'x-csrf-token' with the "
              "csrf_token from login")
    mine = {"field": "owner", "op": "eq", "value": member.id}
    for headers in ({}, {CSRF: "not-the-token"}, {CSRF: ""}):
        response = client.post("/api/v1/records/account", json={"name": "Acme"}, headers=headers)
        problem(response, 403, "auth.csrf_failed", denied)
    assert client.get("/api/v1/records/account", params={"filter": json.dumps(mine)}).json()["records"] == []
    created = client.post("/api/v1/records/account", json={"name": "Acme"}, headers={CSRF: csrf})
    assert created.status_code == 201 and created.json()["owner"] == member.id
    url = created.headers["location"]
    problem(client.patch(url, json={"name": "Acme 2"}), 403, "auth.csrf_failed", denied)
    problem(client.delete(url), 403, "auth.csrf_failed", denied)
    assert client.patch(url, json={"name": "Acme 2"}, headers={CSRF: csrf}).status_code == 200
    assert client.delete(url, headers={CSRF: csrf}).status_code == 204


def test_logout_ends_the_session(office: ApiOrg, member: ApiUser) -> None:
    client, csrf = log_in(office, member)
    token = client.cookies["rapport_session"]
    problem(client.post("/api/v1/auth/logout"), 403, "auth.csrf_failed")  # a forged logout is refused
    response = client.post("/api/v1/auth/logout", headers={CSRF: csrf})
    assert response.status_code == 204 and "Max-Age=0" in response.headers["set-cookie"]
    problem(client.get("/api/v1/me"), 401, "auth.required")
    replayed = office.client(Cookie=f"rapport_session={token}").get("/api/v1/me")
    problem(replayed, 401, "auth.session_expired", "the session has expired or was ended; log in again")


@pytest.mark.parametrize("username", ["member", "nobody@example.com"])
def test_a_wrong_password_or_unknown_user_is_one_and_the_same_401(office: ApiOrg, member: ApiUser,
                                                                  username: str) -> None:
    name = member.username if username == "member" else username
    response = office.client().post(LOGIN, json={"username": name, "password": "not the password"})
    problem(response, 401, "auth.bad_credentials", "the username or password is wrong")
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("body", [{"username": "ann"}, {"username": "ann", "password": "x", "org": "acme"},
                                  {"username": "ann", "password": 12345678901}],
                         ids=["no-password", "extra-key", "password-not-a-string"])
def test_login_takes_a_username_and_a_password(office: ApiOrg, body: dict[str, Any]) -> None:
    problem(office.client().post(LOGIN, json=body), 400, "auth.bad_login",
            'login takes {"username": "...", "password": "..."}')


@pytest.fixture
def guarded(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[tuple[ApiOrg, ApiUser]]:
    """An org whose deployment locks a login name after 2 failed logins, and a user of it."""
    with served_org(request, backend, tmp_path / "guarded", login_attempts_per_15_minutes=2) as org:
        user = org.user("standard", password=PASSWORD)
        yield ApiOrg(org.rapport, org.name, MemoryRateLimiter(clock=lambda: CLOCK)), user


def test_failed_logins_lock_the_name_even_for_the_right_password(guarded: tuple[ApiOrg, ApiUser]) -> None:
    org, user = guarded
    client = org.client()
    attempts = org.rapport.settings.login_attempts_per_15_minutes
    for _ in range(attempts):
        problem(client.post(LOGIN, json={"username": user.username, "password": "guess work"}), 401,
                "auth.bad_credentials")
    for password in ("guess work", PASSWORD):
        response = client.post(LOGIN, json={"username": user.username.upper(), "password": password})
        body = problem(response, 429, "auth.too_many_attempts",
                       f"too many failed logins for '{user.username.upper()}'; try again in 1250 s")
        assert body["retry_after"] == 1250 and response.headers["retry-after"] == "1250"
    assert "set-cookie" not in response.headers
    assert user.client.get("/api/v1/me").status_code == 200  # the lock is on logins, not on API keys


def test_failed_logins_from_one_client_across_many_names_are_limited_too(guarded: tuple[ApiOrg, ApiUser]) -> None:
    org, user = guarded  # 2 failures per name, so 20 per client
    client = org.client()
    for attempt in range(20):
        wrong = {"username": f"guess{attempt}@nowhere.test", "password": "not it at all"}
        problem(client.post(LOGIN, json=wrong), 401, "auth.bad_credentials")
    locked = client.post(LOGIN, json={"username": user.username, "password": PASSWORD})
    body = problem(locked, 429, "auth.too_many_attempts")
    assert body["detail"].startswith("too many failed logins from your address; try again in ")
    assert int(locked.headers["retry-after"]) == body["retry_after"] > 0


def test_a_successful_login_forgets_the_failed_ones(guarded: tuple[ApiOrg, ApiUser]) -> None:
    org, user = guarded
    client = org.client()
    wrong = {"username": user.username, "password": "guess work"}
    assert client.post(LOGIN, json=wrong).status_code == 401
    assert client.post(LOGIN, json={"username": user.username, "password": PASSWORD}).status_code == 200
    # 3 failures in all, but 2 since the login: the second is not locked out
    assert [client.post(LOGIN, json=wrong).status_code for _ in range(2)] == [401, 401]


# -- your account and keys -----------------------------------------------------------------------

def test_me_says_who_you_are(office: ApiOrg, boss: ApiUser, clerk: ApiUser) -> None:
    for user, permissions in ((boss, EVERYTHING), (clerk, [])):
        body = user.client.get("/api/v1/me").json()
        assert (body["user"]["id"], body["user"]["profile"]) == (user.id, user.user.profile)
        assert body["org"]["name"] == office.name and body["system_permissions"] == permissions


def test_a_new_key_is_shown_once_and_can_be_revoked(acme: ApiOrg, worker: ApiUser) -> None:
    created = worker.client.post("/api/v1/me/keys", json={"name": "laptop"})
    assert created.status_code == 201
    key = created.json()
    secret = key.pop("key")
    assert secret.startswith("rk_") and (key["name"], key["username"], key["revoked_at"]) == \
        ("laptop", worker.username, None)
    fresh = acme.client(Authorization=f"Bearer {secret}")
    assert fresh.get("/api/v1/me").json()["user"]["id"] == worker.id
    listing = worker.client.get("/api/v1/me/keys")
    assert [k["name"] for k in listing.json()["keys"]] == ["tests", "laptop"]
    assert secret not in listing.text and worker.key not in listing.text
    assert all("key" not in k for k in listing.json()["keys"])
    revoked = worker.client.delete(f"/api/v1/me/keys/{key['id']}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    problem(fresh.get("/api/v1/me"), 401, "auth.bad_api_key",
            "the API key is not valid (unknown, revoked, or its user is inactive)")
    assert worker.client.get("/api/v1/me").status_code == 200


def test_you_revoke_only_your_own_keys(admin: ApiUser, worker: ApiUser) -> None:
    theirs = next(k for k in admin.client.get("/api/v1/keys").json()["keys"] if k["user_id"] == worker.id)
    problem(admin.client.delete(f"/api/v1/me/keys/{theirs['id']}"), 404, "api_keys.not_found",
            f"you have no API key '{theirs['id']}'")
    assert worker.client.get("/api/v1/me").status_code == 200


@pytest.mark.parametrize(("body", "code", "detail"), [
    ({"name": " padded "}, "api_keys.bad_name",
     "API key name ' padded ' is not allowed: use 1-80 printable characters, without leading or trailing spaces"),
    ({"name": ""}, "api_keys.bad_name",
     "API key name '' is not allowed: use 1-80 printable characters, without leading or trailing spaces"),
    ({"label": "ci"}, "api_keys.bad_request", 'a new API key takes {"name": "..."}'),
])
def test_a_key_needs_a_proper_name(clerk: ApiUser, body: dict[str, Any], code: str, detail: str) -> None:
    problem(clerk.client.post("/api/v1/me/keys", json=body), 400, code, detail)


# -- administration ----------------------------------------------------------------------------

def test_an_admin_manages_users_and_their_keys(acme: ApiOrg, admin: ApiUser, worker: ApiUser) -> None:
    bob_name = f"bob-{uuid.uuid4().hex[:8]}@example.com"  # a username is unique across orgs
    created = admin.client.post("/api/v1/users", json={"username": bob_name.upper(), "name": "Bob",
                                                       "email": "bob@example.com", "password": "a long passphrase"})
    assert created.status_code == 201
    bob = created.json()
    assert {k: bob[k] for k in ("username", "name", "email", "profile", "permission_sets", "active", "has_password")} \
        == {"username": bob_name, "name": "Bob", "email": "bob@example.com", "profile": "standard",
            "permission_sets": [], "active": True, "has_password": True}
    users = admin.client.get("/api/v1/users").json()["users"]
    assert sorted(u["username"] for u in users) == sorted([admin.username, worker.username, bob_name])
    assert admin.client.get(f"/api/v1/users/{bob_name}").json() == bob

    key = admin.client.post(f"/api/v1/users/{bob_name}/keys", json={"name": "bob's robot"})
    assert key.status_code == 201 and key.json()["user_id"] == bob["id"]
    robot = acme.client(Authorization=f"Bearer {key.json()['key']}")
    assert robot.get("/api/v1/me").json()["user"]["username"] == bob_name
    every = admin.client.get("/api/v1/keys").json()["keys"]
    assert [k["username"] for k in every] == [admin.username, worker.username, bob_name]

    changed = admin.client.patch(f"/api/v1/users/{bob_name}", json={"name": "Robert", "profile": "admin"})
    assert (changed.json()["name"], changed.json()["profile"]) == ("Robert", "admin")
    assert robot.get("/api/v1/me").json()["system_permissions"] == EVERYTHING
    assert admin.client.patch(f"/api/v1/users/{bob_name}", json={"active": False}).json()["active"] is False
    problem(robot.get("/api/v1/me"), 401, "auth.bad_api_key")
    problem(acme.client().post(LOGIN, json={"username": bob_name, "password": "a long passphrase"}), 401,
            "auth.bad_credentials")

    workers_key = next(k for k in every if k["user_id"] == worker.id)
    revoked = admin.client.delete(f"/api/v1/keys/{workers_key['id']}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    problem(worker.client.get("/api/v1/me"), 401, "auth.bad_api_key")


def test_a_new_password_ends_the_users_sessions(acme: ApiOrg, admin: ApiUser) -> None:
    member = acme.user("standard", password=PASSWORD)
    client, _ = log_in(acme, member)
    changed = admin.client.patch(f"/api/v1/users/{member.username}", json={"password": "another long passphrase"})
    assert changed.status_code == 200 and changed.json()["has_password"] is True
    problem(client.get("/api/v1/me"), 401, "auth.session_expired")
    new = acme.client().post(LOGIN, json={"username": member.username, "password": "another long passphrase"})
    assert new.status_code == 200


@pytest.mark.parametrize(("method", "path", "body", "status", "code"), [
    ("POST", "/users", {"username": "x"}, 400, "users.bad_username"),
    ("POST", "/users", {"username": "eve@example.com", "profile": "boss"}, 422, "users.unknown_profile"),
    ("POST", "/users", {"username": "eve@example.com", "password": "short"}, 400, "users.weak_password"),
    ("POST", "/users", {"name": "No username"}, 400, "users.bad_request"),
    ("POST", "/users", {"username": "eve@example.com", "role": "admin"}, 400, "users.bad_request"),
    ("POST", "/users", {"username": "{clerk}"}, 409, "users.already_exists"),
    ("PATCH", "/users/{clerk}", {"active": "no"}, 400, "users.bad_request"),
    ("PATCH", "/users/{clerk}", {"permission_sets": "sales"}, 400, "users.bad_request"),
    ("PATCH", "/users/nobody@example.com", {"name": "X"}, 404, "users.not_found"),
    ("GET", "/users/nobody@example.com", None, 404, "users.not_found"),
    ("POST", "/users/nobody@example.com/keys", {"name": "x"}, 404, "users.not_found"),
    ("DELETE", "/keys/no-such-key", None, 404, "api_keys.not_found"),
], ids=["bad-username", "unknown-profile", "weak-password", "no-username", "unknown-key", "taken", "active-not-bool",
        "sets-not-a-list", "patch-unknown", "get-unknown", "key-for-unknown", "revoke-unknown"])
def test_user_administration_refuses_bad_input(boss: ApiUser, clerk: ApiUser, method: str, path: str, body: Any,
                                               status: int, code: str) -> None:
    path = path.replace("{clerk}", clerk.username)
    body = {k: clerk.username if v == "{clerk}" else v for k, v in body.items()} if body else body
    problem(boss.client.request(method, f"/api/v1{path}", json=body), status, code)


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/users", None), ("POST", "/users", {"username": "eve@example.com"}), ("GET", "/users/{admin}", None),
    ("PATCH", "/users/{admin}", {"active": False}), ("POST", "/users/{admin}/keys", {"name": "mine now"}),
    ("GET", "/keys", None), ("DELETE", "/keys/{key}", None),
])
def test_user_administration_needs_manage_users(boss: ApiUser, clerk: ApiUser, method: str, path: str,
                                                body: Any) -> None:
    [key] = boss.client.get("/api/v1/me/keys").json()["keys"]
    path = path.replace("{admin}", boss.username).replace("{key}", key["id"])
    problem(clerk.client.request(method, f"/api/v1{path}", json=body), 403, "permissions.system_permission",
            "this needs the system permission 'manage_users', which your profile and permission sets do not grant")
    assert boss.client.get("/api/v1/me").status_code == 200  # the admin and the admin's key are untouched
    assert boss.client.get(f"/api/v1/users/{boss.username}").json()["active"] is True


# -- orgs are kept apart ------------------------------------------------------------------------

def test_a_credential_of_one_org_never_reaches_another(api_org: Callable[..., ApiOrg]) -> None:
    acme, other = api_org(sales_bundle()), api_org(sales_bundle())
    admin = acme.user("admin")
    stranger = other.user("admin")
    secret = stranger.client.post("/api/v1/records/account", json={"name": "Secret"}).json()
    url = f"/api/v1/records/account/{secret['id']}"
    missing = f"object 'account' has no record with id '{secret['id']}'"
    for method, body in (("GET", None), ("PATCH", {"name": "Mine"}), ("DELETE", None)):
        problem(admin.client.request(method, url, json=body), 404, "records.not_found", missing)
    problem(admin.client.get(f"{url}/related/deals"), 404, "records.not_found", missing)
    assert admin.client.get("/api/v1/records/account").json()["records"] == []
    assert stranger.client.get(url).json() == secret

    problem(admin.client.get(f"/api/v1/users/{stranger.username}"), 404, "users.not_found",
            f"user '{stranger.username}' does not exist in org '{acme.name}'")
    problem(admin.client.post(f"/api/v1/users/{stranger.username}/keys", json={"name": "x"}), 404, "users.not_found")
    [their_key] = stranger.client.get("/api/v1/me/keys").json()["keys"]
    problem(admin.client.delete(f"/api/v1/keys/{their_key['id']}"), 404, "api_keys.not_found",
            f"API key '{their_key['id']}' does not exist in this org")
    assert their_key["id"] not in {k["id"] for k in admin.client.get("/api/v1/keys").json()["keys"]}
    assert stranger.client.get("/api/v1/me").json()["org"]["name"] == other.name
