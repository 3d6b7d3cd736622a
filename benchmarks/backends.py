"""Where a run keeps its data: a temporary folder (SQLite), or a fresh PostgreSQL database
created for the run and dropped with ``WITH (FORCE)`` at its end (each org is a schema)."""

from __future__ import annotations

import secrets
import tempfile
from contextlib import closing, contextmanager
from pathlib import Path
from collections.abc import Iterator

import sqlalchemy as sa

from rapport.platform.app import Rapport
from rapport.platform.settings import Settings

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BACKENDS = ("sqlite", "postgres")


def postgres_problem(url: str) -> str | None:
    """Why PostgreSQL at ``url`` cannot be used, or ``None`` when it answers."""
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.select(1))
    except sa.exc.DBAPIError as error:
        return str(error.orig).strip().splitlines()[0]
    finally:
        engine.dispose()
    return None


@contextmanager
def deployment(backend: str, postgres_url: str) -> Iterator[Rapport]:
    """A Rapport deployment on empty storage of ``backend``, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="rapport-bench-") as data_dir:
        with _database_url(backend, postgres_url) as database_url:
            settings = Settings(data_dir=Path(data_dir), database_url=database_url)
            with closing(Rapport(settings)) as app:
                yield app


@contextmanager
def _database_url(backend: str, postgres_url: str) -> Iterator[str | None]:
    if backend == "sqlite":
        yield None
        return
    with _scratch_database(postgres_url) as url:
        yield url


@contextmanager
def _scratch_database(admin_url: str) -> Iterator[str]:
    name = f"rapport_bench_{secrets.token_hex(5)}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    quoted = admin.dialect.identifier_preparer.quote(name)
    try:
        # SQLAlchemy has no CREATE DATABASE construct; the name is generated and quoted.
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {quoted}")
        try:
            yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
    finally:
        admin.dispose()
