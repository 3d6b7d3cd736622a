"""Database engines and where each org's data lives.

Embedded default: one SQLite file for the platform tables and one file per org.
Production: one PostgreSQL database; platform tables in schema ``rapport``, each org in
its own schema ``org_<name>``. Compiled tables never name a schema: an org's connection
translates the blank schema into the org's own (``schema_translate_map``), so a query
built for one org cannot reach another org's tables.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterator

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from rapport.platform.errors import AlreadyExists, Conflict
from rapport.platform.settings import Settings

PLATFORM_SCHEMA = "rapport"
#: how long a write waits for another write of the same SQLite file (as SQLite's busy timeout)
WRITE_WAIT_SECONDS = 30


@dataclass(frozen=True)
class OrgLocation:
    """Where one org's tables live: an engine bound to its schema or file.

    Locations are keyed by the org's id, not its name: an org deleted and created again
    under the same name is a new org, and no process keeps serving the old one.
    """

    org_name: str
    org_id: str
    engine: Engine
    schema: str | None  # the real schema name on PostgreSQL, None on SQLite
    #: SQLite has one writer per file: this process's writers queue here, in order, instead
    #: of polling in SQLite's busy handler (whose back-off sleeps up to 100 ms); ``None`` on
    #: PostgreSQL, where writers do not exclude each other
    write_lock: threading.Lock | None = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        if self.write_lock is None:
            with self.engine.begin() as conn:
                yield conn
            return
        if not self.write_lock.acquire(timeout=WRITE_WAIT_SECONDS):
            raise Conflict(f"org '{self.org_name}' is busy: another write has held its database for more than "
                           f"{WRITE_WAIT_SECONDS} s; try again", code="db.busy")
        try:
            with self.engine.begin() as conn:
                yield conn
        finally:
            self.write_lock.release()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (on SQLite it does not take the write lock)."""
        with self.engine.connect() as conn:
            with conn.execution_options(rapport_read=True).begin():
                yield conn


#: PostgreSQL plans every statement for its parameters: psycopg prepares a statement it runs
#: often, and after five runs the server may switch it to one generic plan, which for a keyset
#: page ("the rows after this cursor") can read far more rows than a plan made for the cursor
PG_OPTIONS = "-c plan_cache_mode=force_custom_plan"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return sa.create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True,
                            connect_args={"options": PG_OPTIONS})


def _sqlite_engine(url: str) -> Engine:
    in_memory = url in ("sqlite://", "sqlite:///:memory:")  # one connection, SQLAlchemy's SingletonThreadPool
    # readers of a file run side by side (WAL): a pool as large as a server's concurrent requests
    pool = {} if in_memory else {"pool_size": 20, "max_overflow": 20}
    engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pool)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, open transactions, so DDL is transactional too.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
        # SQLite's own lower() folds ASCII only; case-insensitive filters ("Élan" contains
        # "élan") need Unicode, as PostgreSQL's lower() has.
        dbapi_conn.create_function("lower", 1, _unicode_lower, deterministic=True)
        for name, function in SQLITE_FUNCTIONS.items():
            dbapi_conn.create_function(name, -1, function, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the lock up front: no deadlock when two transactions upgrade at once.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("rapport_read") else "BEGIN IMMEDIATE")

    return engine


#: SQL functions every SQLite connection gets, which other areas register (the formula
#: language's functions that SQLite lacks); PostgreSQL has its own built in
SQLITE_FUNCTIONS: dict[str, Callable[..., Any]] = {}


def register_sqlite_function(name: str, function: Callable[..., Any]) -> None:
    """Give every SQLite connection opened from now on the function ``name``."""
    SQLITE_FUNCTIONS[name] = function


def _unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


class Database:
    """The platform's engines, and the location of every org's data."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.effective_database_url
        if self.is_sqlite:  # a new data directory is Rapport's user's alone (sandbox workers run as another)
            Path(settings.data_dir).mkdir(parents=True, exist_ok=True, mode=0o700)
        self._engine = make_engine(self.url)
        self._org_locations: dict[str, OrgLocation] = {}
        self._lock = threading.Lock()
        translate = {None: PLATFORM_SCHEMA} if not self.is_sqlite else None
        self.platform = self._engine.execution_options(schema_translate_map=translate) if translate else self._engine

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def ensure_platform_schema(self) -> None:
        if not self.is_sqlite:
            with self._engine.begin() as conn:
                conn.execute(sa.schema.CreateSchema(PLATFORM_SCHEMA, if_not_exists=True))

    def org_schema_name(self, org_name: str) -> str | None:
        return None if self.is_sqlite else f"org_{org_name}"

    def org_file(self, org_name: str, org_id: str) -> Path:
        return Path(self.settings.data_dir) / "orgs" / f"{org_name}-{org_id}.db"

    def org_location(self, org_name: str, org_id: str) -> OrgLocation:
        with self._lock:
            location = self._org_locations.get(org_id)
            if location is None:
                location = self._make_location(org_name, org_id)
                self._org_locations[org_id] = location
            return location

    def _make_location(self, org_name: str, org_id: str) -> OrgLocation:
        if self.is_sqlite:
            path = self.org_file(org_name, org_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            return OrgLocation(org_name, org_id, _sqlite_engine(f"sqlite:///{path}"), None, threading.Lock())
        schema = self.org_schema_name(org_name)
        engine = self._engine.execution_options(schema_translate_map={None: schema})
        return OrgLocation(org_name, org_id, engine, schema)

    def create_org_storage(self, org_name: str, org_id: str) -> OrgLocation:
        if not self.is_sqlite:
            schema = self.org_schema_name(org_name)
            with self._engine.begin() as conn:
                if sa.inspect(conn).has_schema(schema):  # type: ignore[arg-type]
                    raise AlreadyExists(
                        f"database schema {schema!r} already exists although no org {org_name!r} does; "
                        "drop that schema or choose another org name", code="orgs.storage_exists")
                conn.execute(sa.schema.CreateSchema(schema))  # type: ignore[arg-type]
        return self.org_location(org_name, org_id)

    def drop_org_storage(self, org_name: str, org_id: str) -> None:
        with self._lock:
            location = self._org_locations.pop(org_id, None)
        if self.is_sqlite:
            if location is not None:
                location.engine.dispose()
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.org_file(org_name, org_id)) + suffix).unlink(missing_ok=True)
            return
        with self._engine.begin() as conn:
            conn.execute(sa.schema.DropSchema(self.org_schema_name(org_name), cascade=True,  # type: ignore[arg-type]
                                              if_exists=True))

    def dispose(self) -> None:
        with self._lock:
            for location in self._org_locations.values():
                if location.engine is not self._engine and self.is_sqlite:
                    location.engine.dispose()
            self._org_locations.clear()
        self._engine.dispose()
