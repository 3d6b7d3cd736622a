"""The tables Rapport itself owns: platform-wide ones, and the system tables of every org.

Object tables are compiled from metadata (``rapport.runtime.compiled``); these are fixed.
System table names start with ``_``, which no object name can, so they never collide.
"""

from __future__ import annotations

import sqlalchemy as sa

from rapport.platform.sqltypes import UtcDateTime

# -- platform-wide (schema ``rapport`` / platform.db) -------------------------------------
PLATFORM = sa.MetaData()

orgs = sa.Table(
    "orgs", PLATFORM,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(40), nullable=False, unique=True),
    sa.Column("label", sa.String(255), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

# Users, API keys and login sessions belong to one org. SQLite does not enforce foreign keys
# here (no ``PRAGMA foreign_keys``), so ``OrgService.delete`` deletes them explicitly too.
users = sa.Table(
    "users", PLATFORM,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("org_id", sa.String(36), sa.ForeignKey(orgs.c.id, ondelete="CASCADE"), nullable=False, index=True),
    # lower-cased and unique across orgs: the username alone decides the org at login
    sa.Column("username", sa.String(80), nullable=False, unique=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("email", sa.String(255), nullable=True),
    sa.Column("profile", sa.String(40), nullable=False),
    sa.Column("permission_sets", sa.JSON, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=True),  # None: an API-only user
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("last_login_at", UtcDateTime(), nullable=True),
)

api_keys = sa.Table(
    "api_keys", PLATFORM,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("org_id", sa.String(36), sa.ForeignKey(orgs.c.id, ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("user_id", sa.String(36), sa.ForeignKey(users.c.id, ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False),  # SHA-256 hex of the whole key
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("last_used_at", UtcDateTime(), nullable=True),
    sa.Column("revoked_at", UtcDateTime(), nullable=True),
)

sessions = sa.Table(
    "sessions", PLATFORM,
    sa.Column("token_hash", sa.String(64), primary_key=True),  # SHA-256 hex of the cookie's token
    sa.Column("user_id", sa.String(36), sa.ForeignKey(users.c.id, ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("org_id", sa.String(36), sa.ForeignKey(orgs.c.id, ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.Column("last_seen_at", UtcDateTime(), nullable=False),
)

jobs = sa.Table(
    "jobs", PLATFORM,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("org", sa.String(40), nullable=True, index=True),
    sa.Column("kind", sa.String(80), nullable=False),
    sa.Column("queue", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("progress", sa.Integer, nullable=False, default=0),
    sa.Column("total", sa.Integer, nullable=True),
    sa.Column("message", sa.Text, nullable=True),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("result", sa.JSON, nullable=True),
    sa.Column("error", sa.JSON, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

# -- per org (schema ``org_<name>`` / orgs/<name>.db) --------------------------------------
ORG_SYSTEM = sa.MetaData()

revisions = sa.Table(
    "_revisions", ORG_SYSTEM,
    sa.Column("number", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("author", sa.String(255), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("message", sa.Text, nullable=False, default=""),
    sa.Column("bundle", sa.JSON, nullable=False),
    sa.Column("plan", sa.JSON, nullable=False),
)

history = sa.Table(
    "_history", ORG_SYSTEM,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("object", sa.String(81), nullable=False),
    sa.Column("record_id", sa.String(36), nullable=False),
    sa.Column("field", sa.String(81), nullable=False),
    sa.Column("old_value", sa.JSON, nullable=True),
    sa.Column("new_value", sa.JSON, nullable=True),
    sa.Column("changed_at", UtcDateTime(), nullable=False),
    sa.Column("changed_by", sa.String(255), nullable=False),
    sa.Index("ix__history_record", "object", "record_id", "changed_at"),
)

trash = sa.Table(
    "_trash", ORG_SYSTEM,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(20), nullable=False),  # "field" or "object"
    sa.Column("object", sa.String(81), nullable=False),
    sa.Column("field", sa.String(81), nullable=True),
    sa.Column("definition", sa.JSON, nullable=False),
    sa.Column("aside_table", sa.String(63), nullable=False),
    sa.Column("row_count", sa.Integer, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.Column("restored_at", UtcDateTime(), nullable=True),
)

sequences = sa.Table(
    "_sequences", ORG_SYSTEM,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)
