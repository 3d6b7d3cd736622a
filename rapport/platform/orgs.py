"""Orgs (tenants): create, list, show, delete — delete writes an export first."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from rapport.platform import tables
from rapport.platform.db import Database
from rapport.platform.errors import AlreadyExists, InvalidRequest, NotFound
from rapport.platform.ids import new_id
from rapport.platform.sqltypes import utcnow

ORG_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class Org:
    id: str
    name: str
    label: str
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "label": self.label,
                "created_at": self.created_at.isoformat()}


class OrgService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def setup(self) -> None:
        """Create the platform tables if they are missing (idempotent)."""
        self.db.ensure_platform_schema()
        with self.db.platform.begin() as conn:
            tables.PLATFORM.create_all(conn)

    def create(self, name: str, label: str | None = None) -> Org:
        if not ORG_NAME.match(name or "") or name.endswith("_"):
            raise InvalidRequest(
                f"org name {name!r} is not allowed: use 1-40 lower-case letters, digits and '_', "
                "starting with a letter", code="orgs.bad_name")
        org = Org(new_id(), name, label or name.replace("_", " ").title(), utcnow())
        taken = AlreadyExists(f"org {name!r} already exists", code="orgs.already_exists")
        try:
            with self.db.platform.begin() as conn:
                exists = conn.execute(sa.select(tables.orgs.c.id).where(tables.orgs.c.name == name)).first()
                if exists:
                    raise taken
                conn.execute(tables.orgs.insert().values(
                    id=org.id, name=org.name, label=org.label, created_at=org.created_at))
                location = self.db.create_org_storage(name, org.id)
                try:
                    with location.begin() as org_conn:
                        tables.ORG_SYSTEM.create_all(org_conn)
                except Exception:
                    self.db.drop_org_storage(name, org.id)
                    raise
        except IntegrityError:  # another process created the same org a moment ago
            raise taken from None
        return org

    def list(self) -> list[Org]:
        with self.db.platform.connect() as conn:
            rows = conn.execute(sa.select(tables.orgs).order_by(tables.orgs.c.name)).mappings()
            return [Org(**row) for row in rows]

    def get(self, name: str) -> Org:
        with self.db.platform.connect() as conn:
            row = conn.execute(sa.select(tables.orgs).where(tables.orgs.c.name == name)).mappings().first()
        if row is None:
            raise NotFound(f"org {name!r} does not exist", code="orgs.not_found")
        return Org(**row)

    def delete(self, name: str, export_dir: Path) -> Path:
        """Export every table of the org to ``export_dir/<name>-<time>/``, then delete it."""
        org = self.get(name)
        target = export_org(self.db, org, export_dir)
        with self.db.platform.begin() as conn:
            # explicitly, not by ON DELETE CASCADE: SQLite does not enforce foreign keys here
            for dependant in (tables.sessions, tables.api_keys, tables.users):
                conn.execute(dependant.delete().where(dependant.c.org_id == org.id))
            conn.execute(tables.orgs.delete().where(tables.orgs.c.id == org.id))
        self.db.drop_org_storage(org.name, org.id)
        return target


def export_org(db: Database, org: Org, export_dir: Path) -> Path:
    """Write each of the org's tables as JSON lines, plus ``org.json`` and its users (without
    password hashes) as ``_users.jsonl``; return the folder."""
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    target = Path(export_dir) / f"{org.name}-{stamp}"
    target.mkdir(parents=True, exist_ok=False)
    (target / "org.json").write_text(json.dumps(org.to_dict(), indent=2) + "\n")
    users = sa.select(*(c for c in tables.users.c if c.name != "password_hash")).where(tables.users.c.org_id == org.id)
    with db.platform.connect() as conn, (target / "_users.jsonl").open("w") as out:
        for row in conn.execute(users.order_by(tables.users.c.username)).mappings():
            out.write(json.dumps(dict(row), default=str) + "\n")
    location = db.org_location(org.name, org.id)
    with location.read() as conn:
        inspector = sa.inspect(conn)
        for table_name in sorted(inspector.get_table_names(schema=location.schema)):
            table = sa.Table(table_name, sa.MetaData(), schema=location.schema, autoload_with=conn)
            with (target / f"{table_name}.jsonl").open("w") as out:
                for row in conn.execute(sa.select(table)).mappings():
                    out.write(json.dumps(dict(row), default=str) + "\n")
    return target
