"""Shared fixtures: every database test runs on SQLite and, when configured, on PostgreSQL.

``RAPPORT_TEST_DATABASE_URL`` points at a PostgreSQL server (a fresh database is created
for the test session and dropped after); ``RAPPORT_TEST_REDIS_URL`` at a Redis server.
Locally a missing service skips its tests; in CI (``CI=true``) it fails them.
"""

from __future__ import annotations

import logging

import os
from contextlib import contextmanager
import uuid
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from rapport.platform.app import Rapport
from rapport.platform.errors import NotFound
from rapport.platform.settings import Settings

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
TEST_ENV = Settings.from_env().extra


def service_url(name: str) -> str | None:
    """The URL of a test service, or skip (locally) / fail (in CI) when it is not configured."""
    url = TEST_ENV.get(name)
    if url:
        return url
    message = f"{name} is not set"
    if IN_CI:
        pytest.fail(f"{message}: CI must run every test against the real service")
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[tuple[sa.URL, sa.Engine]]:
    """The configured PostgreSQL server's URL and an AUTOCOMMIT engine to create databases."""
    base = service_url("RAPPORT_TEST_DATABASE_URL")
    assert base is not None
    url = sa.make_url(Settings.from_env({"RAPPORT_DATABASE_URL": base}).database_url or base)
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect():
            pass
    except sa.exc.OperationalError as error:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {url.render_as_string(hide_password=True)} is unreachable: {error}")
        pytest.skip(f"PostgreSQL is unreachable: {error}")
    yield url, admin
    admin.dispose()


@contextmanager
def scratch_database(admin_url: tuple[sa.URL, sa.Engine]) -> Iterator[str]:
    """A new, empty PostgreSQL database (its URL), dropped afterwards."""
    url, admin = admin_url
    name = f"rapport_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_url(postgres_admin_url: tuple[sa.URL, sa.Engine]) -> Iterator[str]:
    """A database for the whole test session; each test isolates itself in its own org."""
    with scratch_database(postgres_admin_url) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def fresh_database_url(backend: str, request: pytest.FixtureRequest) -> Iterator[str | None]:
    """A database of this test's own: None (SQLite files in tmp_path) or a new PostgreSQL one.

    For tests of platform-wide state (org lists, job rows), which the session database shares.
    """
    if backend == "sqlite":
        yield None
        return
    with scratch_database(request.getfixturevalue("postgres_admin_url")) as url:
        yield url


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    database_url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    return Settings(data_dir=tmp_path / "data", database_url=database_url)


@pytest.fixture
def app(settings: Settings) -> Iterator[Rapport]:
    rapport = Rapport(settings)
    yield rapport
    rapport.close()


@pytest.fixture
def org_factory(app: Rapport) -> Iterator[Callable[..., Any]]:
    created: list[str] = []

    def make(name: str | None = None) -> Any:
        org_name = name or f"t{uuid.uuid4().hex[:12]}"
        app.create_org(org_name)
        created.append(org_name)
        return app.org(org_name)

    yield make
    for name in created:
        try:
            org = app.orgs.get(name)
        except NotFound:  # deleted by the test
            continue
        app.db.drop_org_storage(org.name, org.id)


@pytest.fixture
def org(org_factory: Callable[..., Any]) -> Any:
    return org_factory()


@pytest.fixture
def api_org(app: Rapport, org_factory: Callable[..., Any]) -> Callable[..., Any]:
    """``api_org(bundle=None)``: a fresh org with ``bundle`` applied, served by the web app
    (see ``tests/support/api.py``)."""
    from tests.support.api import ApiOrg

    def make(bundle: dict[str, Any] | None = None) -> ApiOrg:
        runtime = org_factory()
        if bundle is not None:
            runtime.metadata.apply(bundle, author="tests")
        return ApiOrg(app, runtime.name)

    return make


@pytest.fixture
def no_server_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every request a test makes is logged with its status: none may be a 5xx."""
    caplog.set_level(logging.INFO, logger="rapport.requests")
    yield
    failed = [r.getMessage() for r in caplog.records if r.name == "rapport.requests"
              and isinstance(r.args, tuple) and int(r.args[2]) >= 500]
    assert not failed, failed
