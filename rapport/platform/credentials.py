"""API keys and login sessions: the stored half of a secret, and checking a presented one.

Both keys and session tokens are 256 random bits from :mod:`secrets`. Only their SHA-256 is
stored. A fast hash is enough here, unlike for passwords: a slow hash (argon2) defends
guessable secrets against brute force, and nobody can enumerate 2**256 candidates, however
fast each guess is. A leaked table therefore gives nothing that logs in.

These stores work on ids and rows; :class:`rapport.platform.users.UserService` resolves
usernames and turns the rows they return into a ``Principal``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from rapport.platform import tables
from rapport.platform.db import Database
from rapport.platform.errors import InvalidRequest, NotFound, Unauthorized
from rapport.platform.ids import new_id

Clock = Callable[[], datetime]

KEY_PREFIX = "rk_"
KEY_FORMAT = re.compile(r"^rk_([0-9a-f]{32})_[A-Za-z0-9_-]{43}$")
MAX_TOKEN_LENGTH = 200  # longer input is refused before it is hashed
#: ``last_used_at`` / ``last_seen_at`` are written at most this often, so a busy key or
#: session does not cost a write per request
TOUCH_INTERVAL = timedelta(seconds=60)

#: how long a process trusts a key it has checked: a key revoked, or a user deactivated or
#: changed, by another process is refused there at most this much later (at once here)
KEY_CACHE_SECONDS = 5.0
KEY_CACHE_SIZE = 10_000

BAD_KEY = "the API key is not valid (unknown, revoked, or its user is inactive)"
SESSION_EXPIRED = "the session has expired or was ended; log in again"

_users, _orgs, _keys, _sessions = tables.users, tables.orgs, tables.api_keys, tables.sessions


def sha256_hex(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@contextmanager
def read_platform(db: Database) -> Iterator[Connection]:
    """A read-only transaction on the platform tables (on SQLite, without the write lock)."""
    with db.platform.connect() as conn:
        with conn.execution_options(rapport_read=True).begin():
            yield conn


def principal_select() -> sa.Select[Any]:
    """Users joined with their org; the org's columns are labelled ``org__<column>``."""
    org_columns = [column.label(f"org__{column.name}") for column in _orgs.c]
    return sa.select(*_users.c, *org_columns).select_from(_users.join(_orgs, _users.c.org_id == _orgs.c.id))


_KEY_PRINCIPAL = (principal_select()
                  .add_columns(_keys.c.id.label("key_id"), _keys.c.secret_hash, _keys.c.revoked_at,
                               _keys.c.last_used_at)
                  .join(_keys, _keys.c.user_id == _users.c.id)
                  .where(_keys.c.id == sa.bindparam("key_id"), _keys.c.org_id == _users.c.org_id))


@dataclass(frozen=True)
class ApiKey:
    id: str
    user_id: str
    username: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "user_id": self.user_id, "username": self.username, "name": self.name,
                "created_at": self.created_at.isoformat(), "last_used_at": _iso(self.last_used_at),
                "revoked_at": _iso(self.revoked_at)}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def check_key_name(name: object) -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= 80 or not name.isprintable() or name != name.strip():
        raise InvalidRequest(
            f"API key name {name!r} is not allowed: use 1-80 printable characters, without leading or "
            "trailing spaces", code="api_keys.bad_name")
    return name


class _RecentKeys:
    """Principal rows of keys checked in the last few seconds, by the token's hash: a busy
    key costs a database read every ``KEY_CACHE_SECONDS``, not one per request."""

    def __init__(self, clock: Clock, ttl: float = KEY_CACHE_SECONDS, size: int = KEY_CACHE_SIZE) -> None:
        self.clock, self.ttl, self.size = clock, timedelta(seconds=ttl), size
        self._rows: dict[str, tuple[datetime, RowMapping]] = {}
        self._lock = threading.Lock()

    def get(self, token_hash: str) -> RowMapping | None:
        found = self._rows.get(token_hash)
        if found is None or found[0] <= self.clock():
            return None
        return found[1]

    def put(self, token_hash: str, row: RowMapping) -> None:
        with self._lock:
            if len(self._rows) >= self.size:
                self._rows.clear()
            self._rows[token_hash] = (self.clock() + self.ttl, row)

    def forget(self, *, key_id: str | None = None, user_id: str | None = None, org_id: str | None = None) -> None:
        with self._lock:
            for token_hash, (_, row) in list(self._rows.items()):
                if (row["key_id"] == key_id or row["id"] == user_id or row["org_id"] == org_id):
                    del self._rows[token_hash]


class KeyStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.recent = _RecentKeys(clock)

    def create(self, org_id: str, user_id: str, username: str, name: str) -> tuple[ApiKey, str]:
        """A new key and its full secret, which is not stored and cannot be shown again."""
        key = ApiKey(new_id(), user_id, username, check_key_name(name), self.clock(), None, None)
        token = f"{KEY_PREFIX}{key.id.replace('-', '')}_{secrets.token_urlsafe(32)}"
        with self.db.platform.begin() as conn:
            conn.execute(_keys.insert().values(
                id=key.id, org_id=org_id, user_id=user_id, name=key.name, secret_hash=sha256_hex(token),
                created_at=key.created_at, last_used_at=None, revoked_at=None))
        return key, token

    def list(self, org_id: str, user_id: str | None = None) -> list[ApiKey]:
        query = self._select().where(_keys.c.org_id == org_id).order_by(_keys.c.created_at, _keys.c.id)
        if user_id is not None:
            query = query.where(_keys.c.user_id == user_id)
        with read_platform(self.db) as conn:
            return [_key(row) for row in conn.execute(query).mappings()]

    def revoke(self, org_id: str, key_id: str) -> ApiKey:
        """Revoke a key of this org; revoking it again changes nothing."""
        self.recent.forget(key_id=key_id)
        with self.db.platform.begin() as conn:
            conn.execute(_keys.update()
                         .where(_keys.c.id == key_id, _keys.c.org_id == org_id, _keys.c.revoked_at.is_(None))
                         .values(revoked_at=self.clock()))
            row = conn.execute(self._select().where(_keys.c.id == key_id, _keys.c.org_id == org_id)).mappings().first()
        if row is None:
            raise NotFound(f"API key {key_id!r} does not exist in this org", code="api_keys.not_found")
        return _key(row)

    def authenticate(self, token: str) -> RowMapping:
        """The principal row (see :func:`principal_select`) of a valid, unrevoked key."""
        refused = Unauthorized(BAD_KEY, code="auth.bad_api_key")
        match = KEY_FORMAT.match(token) if isinstance(token, str) and len(token) <= MAX_TOKEN_LENGTH else None
        if match is None:
            raise refused
        token_hash = sha256_hex(token)
        recent = self.recent.get(token_hash)
        if recent is not None:
            return recent
        key_id = str(uuid.UUID(hex=match.group(1)))
        with read_platform(self.db) as conn:
            row = conn.execute(_KEY_PRINCIPAL, {"key_id": key_id}).mappings().first()
        # the key is found by its id, so comparing the hash in constant time hides how much of it matched
        if (row is None or not hmac.compare_digest(row["secret_hash"], token_hash)
                or row["revoked_at"] is not None or not row["active"]):
            raise refused
        now = self.clock()
        if row["last_used_at"] is None or row["last_used_at"] < now - TOUCH_INTERVAL:
            with self.db.platform.begin() as conn:
                conn.execute(_keys.update().where(_keys.c.id == key_id).values(last_used_at=now))
        self.recent.put(token_hash, row)
        return row

    @staticmethod
    def _select() -> sa.Select[Any]:
        return (sa.select(*_keys.c, _users.c.username)
                .select_from(_keys.join(_users, _keys.c.user_id == _users.c.id)))


def _key(row: RowMapping) -> ApiKey:
    return ApiKey(row["id"], row["user_id"], row["username"], row["name"], row["created_at"],
                  row["last_used_at"], row["revoked_at"])


class SessionStore:
    """Browser login sessions: a random token in a cookie, and a CSRF token for forms."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def create(self, user_id: str, org_id: str, lifetime: timedelta) -> tuple[str, str]:
        """``(token, csrf_token)`` of a new session; the user's expired sessions are dropped."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self.clock()
        with self.db.platform.begin() as conn:
            conn.execute(_sessions.delete().where(_sessions.c.user_id == user_id, _sessions.c.expires_at <= now))
            conn.execute(_sessions.insert().values(
                token_hash=sha256_hex(token), user_id=user_id, org_id=org_id, csrf_token=csrf,
                created_at=now, expires_at=now + lifetime, last_seen_at=now))
        return token, csrf

    def authenticate(self, token: str) -> tuple[RowMapping, str]:
        """The principal row and the CSRF token of a live session of an active user."""
        refused = Unauthorized(SESSION_EXPIRED, code="auth.session_expired")
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            raise refused
        token_hash = sha256_hex(token)
        query = (principal_select()
                 .add_columns(_sessions.c.csrf_token, _sessions.c.expires_at, _sessions.c.last_seen_at)
                 .join(_sessions, _sessions.c.user_id == _users.c.id)
                 .where(_sessions.c.token_hash == token_hash, _sessions.c.org_id == _users.c.org_id))
        with read_platform(self.db) as conn:
            row = conn.execute(query).mappings().first()
        now = self.clock()
        if row is None or not row["active"]:
            raise refused
        if row["expires_at"] <= now:
            self.end(token)
            raise refused
        if row["last_seen_at"] < now - TOUCH_INTERVAL:
            with self.db.platform.begin() as conn:
                conn.execute(_sessions.update().where(_sessions.c.token_hash == token_hash).values(last_seen_at=now))
        return row, row["csrf_token"]

    def end(self, token: str) -> None:
        """End a session; ending an unknown or ended one changes nothing."""
        if isinstance(token, str) and len(token) <= MAX_TOKEN_LENGTH:
            with self.db.platform.begin() as conn:
                conn.execute(_sessions.delete().where(_sessions.c.token_hash == sha256_hex(token)))

    def end_all(self, user_id: str) -> None:
        with self.db.platform.begin() as conn:
            conn.execute(_sessions.delete().where(_sessions.c.user_id == user_id))
