"""Users, passwords, API keys and login sessions of the platform layer."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from rapport.platform import tables
from rapport.platform.actor import Actor
from rapport.platform.errors import (
    AlreadyExists, InvalidRequest, NotFound, RapportError, Unauthorized, ValidationFailed,
)
from rapport.platform.orgs import Org
from rapport.platform.sqltypes import utcnow
from rapport.platform.users import Principal, UserService
from tests.support.bundles import sales_bundle

PASSWORD = "correct horse battery"
BAD_CREDENTIALS = "the username or password is wrong"
BAD_KEY = "the API key is not valid (unknown, revoked, or its user is inactive)"
SESSION_EXPIRED = "the session has expired or was ended; log in again"


class Clock:
    """A clock the test moves forward."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def users(app: Any, clock: Clock) -> UserService:
    return UserService(app.db, clock=clock)


@pytest.fixture
def acme(app: Any, org: Any) -> Org:
    return app.orgs.get(org.name)


@pytest.fixture
def uname() -> Callable[[str], str]:
    """A username no other test uses (usernames are unique across the whole platform)."""
    suffix = uuid.uuid4().hex[:10]
    return lambda prefix: f"{prefix}.{suffix}"


@contextmanager
def raises(error: type[RapportError], code: str, message: str | None = None) -> Iterator[None]:
    """``pytest.raises`` that also checks the error's code and (when given) its exact message."""
    with pytest.raises(error) as caught:
        yield
    assert caught.value.code == code, caught.value
    if message is not None:
        assert caught.value.message == message


def new_org(org_factory: Any, app: Any) -> Org:
    return app.orgs.get(org_factory().name)


def rows(app: Any, table: sa.Table, **where: str) -> list[dict[str, Any]]:
    query = sa.select(table).where(*(table.c[k] == v for k, v in where.items()))
    with app.db.platform.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


# -- users ---------------------------------------------------------------------------------
def test_create_get_list_and_update(users: UserService, acme: Org, uname: Callable[[str], str]) -> None:
    alice = users.create(acme, uname("Alice@Example.com"), name="Alice Liddell", email="alice@example.com",
                         profile="sales_rep", permission_sets=["discounts", "exports", "discounts"],
                         password=PASSWORD)
    assert alice.username == uname("alice@example.com")
    assert (alice.name, alice.email, alice.profile) == ("Alice Liddell", "alice@example.com", "sales_rep")
    assert alice.permission_sets == ("discounts", "exports")
    assert alice.active and alice.has_password and alice.last_login_at is None
    assert alice.actor == Actor(alice.id, "Alice Liddell", "sales_rep", ("discounts", "exports"))
    bob = users.create(acme, uname("bob"))
    assert (bob.name, bob.profile, bob.permission_sets, bob.has_password) == (bob.username, "standard", (), False)

    assert users.get(acme, uname("ALICE@example.com")) == alice
    assert users.get_by_id(acme, bob.id) == bob
    assert [u.username for u in users.list(acme)] == [alice.username, bob.username]
    data = alice.to_dict()
    assert set(data) == {"id", "org_id", "username", "name", "email", "profile", "permission_sets", "active",
                         "has_password", "created_at", "last_login_at"}
    assert data["permission_sets"] == ["discounts", "exports"] and json.dumps(data)

    changed = users.update(acme, alice.username, email=None, active=False)
    assert (changed.email, changed.active, changed.name, changed.profile) == (None, False, "Alice Liddell", "sales_rep")
    changed = users.update(acme, alice.username, permission_sets=[], profile="admin", name="Alice L.")
    assert (changed.permission_sets, changed.profile, changed.name, changed.active) == ((), "admin", "Alice L.", False)
    assert users.update(acme, alice.username) == changed


def test_names_of_users_by_id_are_of_the_org_only(app: Any, users: UserService, acme: Org, org_factory: Any,
                                                 uname: Callable[[str], str]) -> None:
    ann = users.create(acme, uname("ann"), name="Ann Lee")
    bob = users.create(acme, uname("bob"), name="Bob Ode")
    elsewhere = users.create(new_org(org_factory, app), uname("eve"), name="Eve")
    assert users.names(acme, [ann.id, bob.id, elsewhere.id, "no-such-id"]) == {ann.id: "Ann Lee", bob.id: "Bob Ode"}
    assert users.names(acme, []) == {}


def test_unknown_users_are_not_found(app: Any, users: UserService, acme: Org, org_factory: Any,
                                     uname: Callable[[str], str]) -> None:
    other = users.create(new_org(org_factory, app), uname("carol"))
    with raises(NotFound, "users.not_found", f"user {other.username!r} does not exist in org {acme.name!r}"):
        users.get(acme, other.username)  # a user of another org is not found in this one
    with raises(NotFound, "users.not_found", f"user with id {other.id!r} does not exist in org {acme.name!r}"):
        users.get_by_id(acme, other.id)
    with raises(NotFound, "users.not_found"):
        users.update(acme, "nobody", name="x")



@pytest.mark.parametrize("bad", ["ab", "-alice", ".alice", "al ice", "alice!", "a" * 81, "", "élise"])
def test_bad_usernames(users: UserService, acme: Org, bad: str) -> None:
    message = (f"username {bad!r} is not allowed: use 3-80 lower-case letters, digits and '.', '_', '@', '+', "
               "'-', starting with a letter or digit (an email address works)")
    with raises(InvalidRequest, "users.bad_username", message):
        users.create(acme, bad)


def test_a_username_is_taken_across_orgs(app: Any, users: UserService, acme: Org, org_factory: Any,
                                         uname: Callable[[str], str]) -> None:
    users.create(acme, uname("dave"))
    other = new_org(org_factory, app)
    with raises(AlreadyExists, "users.already_exists", f"username {uname('dave')!r} is already taken"):
        users.create(other, uname("DAVE"))


@pytest.mark.parametrize(("password", "rule"), [
    ("short1234", "it must have at least 10 characters"),
    ("x" * 1025, "it must have at most 1024 characters"),
    ("aaaaaaaaaaaa", "it must not be one character repeated"),
    ("ERIN.PASSWORD", "it must not be the username"),
])
def test_password_rules(users: UserService, acme: Org, password: str, rule: str) -> None:
    username = "erin.password"
    with raises(InvalidRequest, "users.weak_password", f"the password is too weak: {rule}"):
        users.create(acme, username, password=password)
    assert users.list(acme) == []


def test_set_password_applies_the_rules(users: UserService, acme: Org, uname: Callable[[str], str]) -> None:
    frank = users.create(acme, uname("frank"))
    with raises(InvalidRequest, "users.weak_password", "the password is too weak: it must not be the username"):
        users.set_password(acme, frank.username, frank.username)
    assert users.set_password(acme, frank.username, PASSWORD).has_password
    assert users.authenticate_password(frank.username, PASSWORD).user.id == frank.id


@pytest.mark.parametrize(("profile", "sets", "message"), [
    ("Sales Rep", (), "profile 'Sales Rep' is not a valid name"),
    ("p" * 41, (), f"profile {'p' * 41!r} is not a valid name"),
    ("standard", ("ok", "1bad"), "permission set '1bad' is not a valid name"),
])
def test_bad_profile_and_permission_set_names(users: UserService, acme: Org, uname: Callable[[str], str],
                                              profile: str, sets: tuple[str, ...], message: str) -> None:
    rule = ": use up to 40 lower-case letters, digits and '_', starting with a letter"
    with raises(InvalidRequest, "users.bad_profile", message + rule):
        users.create(acme, uname("gina"), profile=profile, permission_sets=sets)


# -- passwords -------------------------------------------------------------------------------
def test_authenticate_password(app: Any, users: UserService, acme: Org, clock: Clock,
                               uname: Callable[[str], str]) -> None:
    henry = users.create(acme, uname("henry"), password=PASSWORD)
    principal = users.authenticate_password(uname("HENRY"), PASSWORD)
    assert isinstance(principal, Principal) and principal.org == acme
    assert principal.user.id == henry.id and principal.user.last_login_at == clock.now
    assert principal.actor == henry.actor
    assert users.get(acme, henry.username).last_login_at == clock.now
    (row,) = rows(app, tables.users, id=henry.id)
    assert row["password_hash"].startswith("$argon2id$") and PASSWORD not in row["password_hash"]


def test_every_failed_login_looks_the_same(users: UserService, acme: Org, uname: Callable[[str], str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    users.create(acme, uname("ivy"), password=PASSWORD)
    users.create(acme, uname("jack"), password=PASSWORD)
    users.update(acme, uname("jack"), active=False)
    users.create(acme, uname("kim"))  # API-only: no password
    verified: list[str] = []
    import rapport.platform.users as module

    real_verify = module._verify
    monkeypatch.setattr(module, "_verify", lambda h, p: verified.append(h) or real_verify(h, p))
    attempts = [(uname("ivy"), "wrong password!"), (uname("jack"), PASSWORD), (uname("kim"), PASSWORD),
                (uname("nobody"), PASSWORD), ("", PASSWORD), (uname("ivy"), "x" * 2000)]
    for username, password in attempts:
        with raises(Unauthorized, "auth.bad_credentials", BAD_CREDENTIALS):
            users.authenticate_password(username, password)
    # unknown, inactive and password-less users are still checked against a hash: the time taken
    # does not reveal which usernames exist (only an over-long password is refused at once)
    assert len(verified) == 5


def test_an_outdated_hash_is_upgraded_at_login(app: Any, users: UserService, acme: Org,
                                               uname: Callable[[str], str]) -> None:
    lena = users.create(acme, uname("lena"))
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    with app.db.platform.begin() as conn:
        conn.execute(tables.users.update().where(tables.users.c.id == lena.id).values(password_hash=weak))
    users.authenticate_password(lena.username, PASSWORD)
    (row,) = rows(app, tables.users, id=lena.id)
    assert row["password_hash"] != weak and not PasswordHasher().check_needs_rehash(row["password_hash"])
    assert users.authenticate_password(lena.username, PASSWORD).user.id == lena.id


# -- API keys --------------------------------------------------------------------------------
def test_key_lifecycle(app: Any, users: UserService, acme: Org, clock: Clock, uname: Callable[[str], str]) -> None:
    mia = users.create(acme, uname("mia"), profile="admin")
    key, secret = users.create_key(acme, mia.username, "CI pipeline")
    assert re.fullmatch(rf"rk_{key.id.replace('-', '')}_[A-Za-z0-9_-]{{43}}", secret)
    assert (key.user_id, key.username, key.name, key.last_used_at, key.revoked_at) == (
        mia.id, mia.username, "CI pipeline", None, None)

    principal = users.authenticate_key(secret)
    assert principal.org == acme and principal.user.id == mia.id and principal.actor.profile == "admin"
    first_use = clock.now
    assert users.list_keys(acme)[0].last_used_at == first_use
    clock.advance(30)  # within a minute: not written again
    users.authenticate_key(secret)
    assert users.list_keys(acme)[0].last_used_at == first_use
    clock.advance(31)
    users.authenticate_key(secret)
    assert users.list_keys(acme)[0].last_used_at == clock.now

    revoked = users.revoke_key(acme, key.id)
    assert revoked.revoked and revoked.revoked_at == clock.now
    with raises(Unauthorized, "auth.bad_api_key", BAD_KEY):
        users.authenticate_key(secret)
    clock.advance(5)
    assert users.revoke_key(acme, key.id).revoked_at == revoked.revoked_at  # idempotent
    assert users.list_keys(acme)[0].to_dict()["revoked_at"] == revoked.revoked_at.isoformat()


def test_a_key_revoked_elsewhere_is_refused_within_seconds(app: Any, users: UserService, acme: Org, clock: Clock,
                                                           uname: Callable[[str], str]) -> None:
    """A process trusts a key it has checked for ``KEY_CACHE_SECONDS``: revoked (or its user
    deactivated) by another process, it is refused there that much later at most."""
    from rapport.platform.credentials import KEY_CACHE_SECONDS

    elsewhere = UserService(app.db, clock=clock)
    ivy = users.create(acme, uname("ivy"))
    key, secret = users.create_key(acme, ivy.username, "laptop")
    assert users.authenticate_key(secret).user.id == ivy.id
    elsewhere.revoke_key(acme, key.id)
    with raises(Unauthorized, "auth.bad_api_key", BAD_KEY):
        elsewhere.authenticate_key(secret)  # at once where it was revoked
    assert users.authenticate_key(secret).user.id == ivy.id  # still trusted here, for a few seconds
    clock.advance(KEY_CACHE_SECONDS)
    with raises(Unauthorized, "auth.bad_api_key", BAD_KEY):
        users.authenticate_key(secret)


def test_keys_are_listed_per_user_and_named_sensibly(users: UserService, acme: Org,
                                                     uname: Callable[[str], str]) -> None:
    nora = users.create(acme, uname("nora"))
    omar = users.create(acme, uname("omar"))
    first, _ = users.create_key(acme, nora.username, "ci")
    second, _ = users.create_key(acme, omar.username, "ci")  # names are labels, not unique
    assert [k.id for k in users.list_keys(acme)] == [first.id, second.id]
    assert [k.id for k in users.list_keys(acme, omar.username)] == [second.id]
    assert set(first.to_dict()) == {"id", "user_id", "username", "name", "created_at", "last_used_at", "revoked_at"}
    for bad in ("", "x" * 81, "tab\there", " padded"):
        with raises(InvalidRequest, "api_keys.bad_name", f"API key name {bad!r} is not allowed: use 1-80 "
                    "printable characters, without leading or trailing spaces"):
            users.create_key(acme, nora.username, bad)
    with raises(NotFound, "users.not_found"):
        users.create_key(acme, "nobody", "ci")


def test_keys_are_stored_hashed(app: Any, users: UserService, acme: Org, uname: Callable[[str], str]) -> None:
    pia = users.create(acme, uname("pia"))
    key, secret = users.create_key(acme, pia.username, "ci")
    (row,) = rows(app, tables.api_keys, id=key.id)
    assert row["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    stored = json.dumps(row, default=str)
    assert secret not in stored and secret.split("_", 2)[2] not in stored  # rk_<key id>_<random>


def test_a_key_only_ever_authenticates_as_its_own_org(app: Any, users: UserService, acme: Org, org_factory: Any,
                                                      uname: Callable[[str], str]) -> None:
    other = new_org(org_factory, app)
    users.create(acme, uname("quinn"))
    users.create(other, uname("rosa"))
    key_a, secret_a = users.create_key(acme, uname("quinn"), "ci")
    key_b, secret_b = users.create_key(other, uname("rosa"), "ci")
    assert users.authenticate_key(secret_a).org == acme
    assert users.authenticate_key(secret_b).org == other
    # org B's id with org A's secret (and the other way round) matches neither key
    id_a, id_b = key_a.id.replace("-", ""), key_b.id.replace("-", "")
    for forged in (secret_a.replace(id_a, id_b), secret_b.replace(id_b, id_a)):
        with raises(Unauthorized, "auth.bad_api_key", BAD_KEY):
            users.authenticate_key(forged)
    with raises(NotFound, "api_keys.not_found", f"API key {key_a.id!r} does not exist in this org"):
        users.revoke_key(other, key_a.id)  # org B cannot revoke (or see) org A's key
    assert [k.id for k in users.list_keys(other)] == [key_b.id]
    assert users.authenticate_key(secret_a).org == acme


@pytest.mark.parametrize("token", [
    "", "rk_", "not a key", "rk_0123_abc", "rk_" + "0" * 32 + "_" + "a" * 43, "x" * 5000, None, 42])
def test_malformed_or_unknown_keys_are_refused(users: UserService, token: Any) -> None:
    with raises(Unauthorized, "auth.bad_api_key", BAD_KEY):
        users.authenticate_key(token)


def test_a_key_of_an_inactive_user_is_refused(users: UserService, acme: Org, uname: Callable[[str], str]) -> None:
    sam = users.create(acme, uname("sam"))
    _, secret = users.create_key(acme, sam.username, "ci")
    users.update(acme, sam.username, active=False)
    with raises(Unauthorized, "auth.bad_api_key", BAD_KEY):
        users.authenticate_key(secret)
    users.update(acme, sam.username, active=True)
    assert users.authenticate_key(secret).user.id == sam.id


# -- login sessions --------------------------------------------------------------------------
def test_session_lifecycle(app: Any, users: UserService, acme: Org, clock: Clock,
                           uname: Callable[[str], str]) -> None:
    users.create(acme, uname("tess"), password=PASSWORD)
    principal = users.authenticate_password(uname("tess"), PASSWORD)
    token, csrf = users.create_session(principal, lifetime_seconds=3600)
    assert token != csrf and len(token) >= 43 and len(csrf) >= 43
    (row,) = rows(app, tables.sessions, user_id=principal.user.id)
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest() and token not in json.dumps(row, default=str)
    assert row["expires_at"] == clock.now + timedelta(hours=1)

    started = clock.now
    clock.advance(30)
    found, found_csrf = users.authenticate_session(token)
    assert (found.org, found.user.id, found_csrf) == (acme, principal.user.id, csrf)
    assert rows(app, tables.sessions, user_id=principal.user.id)[0]["last_seen_at"] == started  # < a minute
    clock.advance(40)
    users.authenticate_session(token)
    assert rows(app, tables.sessions, user_id=principal.user.id)[0]["last_seen_at"] == clock.now

    users.end_session(token)
    with raises(Unauthorized, "auth.session_expired", SESSION_EXPIRED):
        users.authenticate_session(token)
    users.end_session(token)  # ending it again changes nothing


def test_sessions_expire_and_end_with_the_user(app: Any, users: UserService, acme: Org, clock: Clock,
                                               uname: Callable[[str], str]) -> None:
    uma = users.create(acme, uname("uma"), password=PASSWORD)
    principal = users.authenticate_password(uma.username, PASSWORD)
    expiring, _ = users.create_session(principal, lifetime_seconds=60)
    clock.advance(61)
    for token in (expiring, "unknown-token", "", "x" * 5000):
        with raises(Unauthorized, "auth.session_expired", SESSION_EXPIRED):
            users.authenticate_session(token)
    assert rows(app, tables.sessions, user_id=uma.id) == []  # an expired session is deleted when seen

    live, _ = users.create_session(principal)
    users.update(acme, uma.username, active=False)
    with raises(Unauthorized, "auth.session_expired"):
        users.authenticate_session(live)
    users.update(acme, uma.username, active=True)
    assert users.authenticate_session(live)[0].user.id == uma.id
    users.set_password(acme, uma.username, "another good password")  # a new password ends every session
    with raises(Unauthorized, "auth.session_expired"):
        users.authenticate_session(live)


# -- orgs ------------------------------------------------------------------------------------
def test_deleting_an_org_deletes_its_users_keys_and_sessions(app: Any, users: UserService, org_factory: Any,
                                                             uname: Callable[[str], str], tmp_path: Path) -> None:
    doomed, kept = new_org(org_factory, app), new_org(org_factory, app)
    victor = users.create(doomed, uname("victor"), password=PASSWORD, email="victor@example.com")
    _, doomed_key = users.create_key(doomed, victor.username, "ci")
    users.create_session(users.authenticate_password(victor.username, PASSWORD))
    wendy = users.create(kept, uname("wendy"))
    _, kept_key = users.create_key(kept, wendy.username, "ci")

    export = app.delete_org(doomed.name, tmp_path / "exports")
    for table in (tables.users, tables.api_keys, tables.sessions):
        assert rows(app, table, org_id=doomed.id) == []
    exported = [json.loads(line) for line in (export / "_users.jsonl").read_text().splitlines()]
    assert [u["username"] for u in exported] == [victor.username] and "password_hash" not in exported[0]
    with raises(Unauthorized, "auth.bad_api_key"):
        users.authenticate_key(doomed_key)
    assert users.authenticate_key(kept_key).user.id == wendy.id
    assert users.create(kept, victor.username).org_id == kept.id  # the username is free again


# -- the facade checks the org's metadata ----------------------------------------------------
def test_create_and_update_user_check_the_orgs_metadata(app: Any, org: Any, uname: Callable[[str], str]) -> None:
    with raises(ValidationFailed, "users.unknown_profile",
                f"org '{org.name}' has no profile 'sales_rep'; profiles are 'admin', 'standard'"):
        app.create_user(org.name, uname("xena"), profile="sales_rep")
    with raises(ValidationFailed, "users.unknown_permission_set",
                f"org '{org.name}' has no permission set 'discounts'; permission sets are none"):
        app.create_user(org.name, uname("xena"), permission_sets=["discounts"])
    with raises(InvalidRequest, "users.bad_profile"):
        app.create_user(org.name, uname("xena"), profile="Sales Rep")
    assert app.create_user(org.name, uname("xena"), profile="admin").profile == "admin"

    bundle = sales_bundle()
    bundle["profiles"] = [{"name": "sales_rep"}]
    bundle["permission_sets"] = [{"name": "discounts"}]
    org.metadata.apply(bundle, author="t")
    yann = app.create_user(org.name, uname("yann"), profile="sales_rep", permission_sets=["discounts"])
    assert (yann.profile, yann.permission_sets) == ("sales_rep", ("discounts",))
    with raises(ValidationFailed, "users.unknown_permission_set",
                f"org '{org.name}' has no permission set 'exports'; permission sets are 'discounts'"):
        app.update_user(org.name, yann.username, permission_sets=["discounts", "exports"])
    assert app.update_user(org.name, yann.username, profile="standard").permission_sets == ("discounts",)
    assert app.update_user(org.name, yann.username, name="Yann").name == "Yann"
