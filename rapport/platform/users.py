"""Users of an org: accounts, passwords (argon2), and who a request is (:class:`Principal`).

A username is unique across all orgs, so logging in needs no org name: the username decides
the org. API keys and login sessions are stored by :mod:`rapport.platform.credentials`;
this service resolves them to a ``Principal``.
"""

from __future__ import annotations

import builtins
import enum
import functools
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from rapport.platform import tables
from rapport.platform.actor import Actor
from rapport.platform.credentials import (
    ApiKey, Clock, KeyStore, SessionStore, principal_select, read_platform,
)
from rapport.platform.db import Database
from rapport.platform.errors import AlreadyExists, InvalidRequest, NotFound, Unauthorized
from rapport.platform.ids import new_id
from rapport.platform.orgs import Org
from rapport.platform.sqltypes import utcnow

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@+-]{2,79}$")
API_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MIN_PASSWORD, MAX_PASSWORD = 10, 1024
SESSION_LIFETIME_SECONDS = 12 * 3600

_users = tables.users
_hasher = PasswordHasher()


class _Unset(enum.Enum):
    UNSET = enum.auto()


UNSET = _Unset.UNSET
"""An ``update`` argument that was not given (``None`` is a value: no email)."""


@dataclass(frozen=True)
class User:
    id: str
    org_id: str
    username: str
    name: str
    email: str | None
    profile: str
    permission_sets: tuple[str, ...]
    active: bool
    created_at: datetime
    last_login_at: datetime | None
    has_password: bool

    @property
    def actor(self) -> Actor:
        return Actor(self.id, self.name, self.profile, tuple(self.permission_sets))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "org_id": self.org_id, "username": self.username, "name": self.name,
                "email": self.email, "profile": self.profile, "permission_sets": list(self.permission_sets),
                "active": self.active, "has_password": self.has_password,
                "created_at": self.created_at.isoformat(),
                "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None}


@dataclass(frozen=True)
class Principal:
    """Who is making a request: a user, and the org the user belongs to."""

    org: Org
    user: User

    @property
    def actor(self) -> Actor:
        return self.user.actor


def _user(row: RowMapping) -> User:
    return User(row["id"], row["org_id"], row["username"], row["name"], row["email"], row["profile"],
                tuple(row["permission_sets"]), bool(row["active"]), row["created_at"], row["last_login_at"],
                row["password_hash"] is not None)


def _principal(row: RowMapping) -> Principal:
    org = Org(row["org__id"], row["org__name"], row["org__label"], row["org__created_at"])
    return Principal(org, _user(row))


# -- validation ----------------------------------------------------------------------------
def check_username(username: object) -> str:
    """The lower-cased username, or ``users.bad_username``."""
    name = username.strip().lower() if isinstance(username, str) else ""
    if not USERNAME.match(name):
        raise InvalidRequest(
            f"username {username!r} is not allowed: use 3-80 lower-case letters, digits and '.', '_', '@', "
            "'+', '-', starting with a letter or digit (an email address works)", code="users.bad_username")
    return name


def check_assignment_names(profile: object, permission_sets: Iterable[str]) -> tuple[str, tuple[str, ...]]:
    """The profile and the permission sets (duplicates dropped), if they are valid API names."""
    if isinstance(permission_sets, str):
        raise InvalidRequest(f"permission sets must be a list of names, not the string {permission_sets!r}",
                             code="users.bad_profile")
    rule = "use up to 40 lower-case letters, digits and '_', starting with a letter"
    if not isinstance(profile, str) or not API_NAME.match(profile):
        raise InvalidRequest(f"profile {profile!r} is not a valid name: {rule}", code="users.bad_profile")
    names = tuple(dict.fromkeys(permission_sets))
    for name in names:
        if not isinstance(name, str) or not API_NAME.match(name):
            raise InvalidRequest(f"permission set {name!r} is not a valid name: {rule}", code="users.bad_profile")
    return profile, names


def check_password(password: object, username: str) -> str:
    """``password`` if it meets the policy, else ``users.weak_password`` saying the rule."""
    def weak(rule: str) -> InvalidRequest:
        return InvalidRequest(f"the password is too weak: {rule}", code="users.weak_password")

    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise weak(f"it must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise weak(f"it must have at most {MAX_PASSWORD} characters")
    if len(set(password)) == 1:
        raise weak("it must not be one character repeated")
    if password.lower() == username:
        raise weak("it must not be the username")
    return password


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 255:
        raise InvalidRequest(f"name {name!r} is not allowed: use 1-255 characters", code="users.bad_name")
    return name.strip()


def _check_email(email: object) -> str | None:
    if email is None or email == "":
        return None
    if not isinstance(email, str) or len(email) > 255 or not EMAIL.match(email.strip()):
        raise InvalidRequest(f"email {email!r} is not an email address (name@domain, at most 255 characters)",
                             code="users.bad_email")
    return email.strip()


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when there is no user, so a login takes as long either way."""
    return _hasher.hash(secrets.token_urlsafe(16))


class UserService:
    def __init__(self, db: Database, *, clock: Clock = utcnow) -> None:
        self.db = db
        self.clock = clock
        self.keys = KeyStore(db, clock)
        self.sessions = SessionStore(db, clock)

    # -- users ---------------------------------------------------------------------------
    def create(self, org: Org, username: str, *, name: str | None = None, email: str | None = None,
               profile: str = "standard", permission_sets: Iterable[str] = (),
               password: str | None = None) -> User:
        login = check_username(username)
        profile, sets = check_assignment_names(profile, permission_sets)
        display_name = _check_name(login if name is None else name)
        address = _check_email(email)
        password_hash = _hasher.hash(check_password(password, login)) if password is not None else None
        user = User(new_id(), org.id, login, display_name, address, profile, sets, True, self.clock(), None,
                    password_hash is not None)
        taken = AlreadyExists(f"username {login!r} is already taken", code="users.already_exists")
        try:
            with self.db.platform.begin() as conn:
                if conn.execute(sa.select(_users.c.id).where(_users.c.username == login)).first():
                    raise taken
                conn.execute(_users.insert().values(
                    id=user.id, org_id=org.id, username=login, name=display_name, email=address,
                    profile=profile, permission_sets=list(sets), active=True, password_hash=password_hash,
                    created_at=user.created_at, last_login_at=None))
        except IntegrityError:  # created by another process a moment ago
            raise taken from None
        return user

    def get(self, org: Org, username: str) -> User:
        login = username.strip().lower() if isinstance(username, str) else ""
        return self._one(org, _users.c.username == login, f"user {username!r} does not exist in org {org.name!r}")

    def get_by_id(self, org: Org, user_id: str) -> User:
        return self._one(org, _users.c.id == user_id, f"user with id {user_id!r} does not exist in org {org.name!r}")

    def list(self, org: Org) -> list[User]:
        query = sa.select(_users).where(_users.c.org_id == org.id).order_by(_users.c.username)
        with read_platform(self.db) as conn:
            return [_user(row) for row in conn.execute(query).mappings()]

    def names(self, org: Org, ids: Iterable[str]) -> dict[str, str]:
        """The names of the org's users with ``ids`` (one query; unknown ids are left out)."""
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        query = sa.select(_users.c.id, _users.c.name).where(_users.c.org_id == org.id, _users.c.id.in_(wanted))
        with read_platform(self.db) as conn:
            return {row.id: row.name for row in conn.execute(query)}

    def update(self, org: Org, username: str, *, name: str | _Unset = UNSET, email: str | None | _Unset = UNSET,
               profile: str | _Unset = UNSET, permission_sets: Iterable[str] | _Unset = UNSET,
               active: bool | _Unset = UNSET) -> User:
        """Change only the given fields."""
        user = self.get(org, username)
        values: dict[str, Any] = {}
        if name is not UNSET:
            values["name"] = _check_name(name)
        if email is not UNSET:
            values["email"] = _check_email(email)
        if profile is not UNSET or permission_sets is not UNSET:
            new_profile, sets = check_assignment_names(
                user.profile if profile is UNSET else profile,
                user.permission_sets if permission_sets is UNSET else permission_sets)
            values.update(profile=new_profile, permission_sets=list(sets))
        if active is not UNSET:
            if not isinstance(active, bool):
                raise InvalidRequest(f"active must be true or false, not {active!r}", code="users.bad_active")
            values["active"] = active
        if values:
            with self.db.platform.begin() as conn:
                conn.execute(_users.update().where(_users.c.id == user.id).values(**values))
            self.keys.recent.forget(user_id=user.id)  # a new profile or an inactive user counts at once
        return self.get_by_id(org, user.id)

    def set_password(self, org: Org, username: str, password: str | None) -> User:
        """Set (or, with ``None``, remove) the password; the user's login sessions end."""
        user = self.get(org, username)
        password_hash = _hasher.hash(check_password(password, user.username)) if password is not None else None
        with self.db.platform.begin() as conn:
            conn.execute(_users.update().where(_users.c.id == user.id).values(password_hash=password_hash))
        self.sessions.end_all(user.id)
        return self.get_by_id(org, user.id)

    def _one(self, org: Org, condition: sa.ColumnElement[bool], missing: str) -> User:
        with read_platform(self.db) as conn:
            row = conn.execute(sa.select(_users).where(condition, _users.c.org_id == org.id)).mappings().first()
        if row is None:
            raise NotFound(missing, code="users.not_found")
        return _user(row)

    # -- passwords -----------------------------------------------------------------------
    def authenticate_password(self, username: str, password: str) -> Principal:
        """The principal, or one and the same ``auth.bad_credentials`` for every failure."""
        refused = Unauthorized("the username or password is wrong", code="auth.bad_credentials")
        if not isinstance(password, str) or len(password) > MAX_PASSWORD:
            raise refused
        login = username.strip().lower() if isinstance(username, str) else ""
        with read_platform(self.db) as conn:
            row = conn.execute(principal_select().where(_users.c.username == login)).mappings().first()
        if row is None or not row["active"] or row["password_hash"] is None:
            _verify(_dummy_hash(), password)  # as slow as a real check: timing tells no usernames
            raise refused
        stored = row["password_hash"]
        if not _verify(stored, password):
            raise refused
        values: dict[str, Any] = {"last_login_at": self.clock()}
        if _hasher.check_needs_rehash(stored):
            values["password_hash"] = _hasher.hash(password)
        with self.db.platform.begin() as conn:
            conn.execute(_users.update().where(_users.c.id == row["id"]).values(**values))
        principal = _principal(row)
        return Principal(principal.org, replace(principal.user, last_login_at=values["last_login_at"]))

    # -- API keys ------------------------------------------------------------------------
    def create_key(self, org: Org, username: str, name: str) -> tuple[ApiKey, str]:
        """A new key of the user and its secret (``rk_...``), which is never shown again."""
        user = self.get(org, username)
        return self.keys.create(org.id, user.id, user.username, name)

    def list_keys(self, org: Org, username: str | None = None) -> builtins.list[ApiKey]:  # `list` is the method above
        user_id = self.get(org, username).id if username is not None else None
        return self.keys.list(org.id, user_id)

    def revoke_key(self, org: Org, key_id: str) -> ApiKey:
        return self.keys.revoke(org.id, key_id)

    def authenticate_key(self, token: str) -> Principal:
        return _principal(self.keys.authenticate(token))

    # -- login sessions ------------------------------------------------------------------
    def create_session(self, principal: Principal,
                       lifetime_seconds: int = SESSION_LIFETIME_SECONDS) -> tuple[str, str]:
        """``(token, csrf_token)`` of a new browser session of ``principal``."""
        return self.sessions.create(principal.user.id, principal.org.id, timedelta(seconds=lifetime_seconds))

    def authenticate_session(self, token: str) -> tuple[Principal, str]:
        row, csrf = self.sessions.authenticate(token)
        return _principal(row), csrf

    def end_session(self, token: str) -> None:
        self.sessions.end(token)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):  # a mismatch, or a hash this hasher cannot read
        return False
