"""The revision store: every applied bundle, immutable and numbered, in the org's own tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rapport.platform.errors import NotFound
from rapport.platform.sqltypes import utcnow
from rapport.platform.tables import revisions


@dataclass(frozen=True)
class Revision:
    number: int
    author: str
    created_at: datetime
    message: str
    bundle: dict[str, Any]
    plan: list[dict[str, Any]]

    def summary(self) -> dict[str, Any]:
        return {"number": self.number, "author": self.author, "created_at": self.created_at.isoformat(),
                "message": self.message, "steps": len(self.plan)}


_LATEST_NUMBER = sa.select(revisions.c.number).order_by(revisions.c.number.desc()).limit(1)


def latest_number_query() -> sa.Select[Any]:
    return _LATEST_NUMBER  # built once: it runs at the start of every operation on records


def current_number(conn: Connection) -> int:
    """The newest revision number, 0 for an org with no metadata yet (one indexed read)."""
    return int(conn.execute(_LATEST_NUMBER).scalar() or 0)


def get_revision(conn: Connection, number: int) -> Revision:
    row = conn.execute(sa.select(revisions).where(revisions.c.number == number)).mappings().first()
    if row is None:
        latest = current_number(conn)
        raise NotFound(f"revision {number} does not exist (revisions run from 1 to {latest})",
                       code="metadata.revision_not_found")
    return Revision(**row)


def list_revisions(conn: Connection) -> list[Revision]:
    rows = conn.execute(sa.select(revisions).order_by(revisions.c.number)).mappings()
    return [Revision(**row) for row in rows]


def add_revision(conn: Connection, bundle: dict[str, Any], author: str, message: str,
                 plan: list[dict[str, Any]]) -> Revision:
    """Store the next revision. Runs inside the apply transaction, after the DDL."""
    revision = Revision(current_number(conn) + 1, author, utcnow(), message, bundle, plan)
    conn.execute(revisions.insert().values(
        number=revision.number, author=author, created_at=revision.created_at, message=message,
        bundle=bundle, plan=plan))
    return revision
