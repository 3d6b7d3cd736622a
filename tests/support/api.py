"""HTTP test support: an org with metadata, users with profiles, a test client per user.

    def test_x(api_org):
        acme = api_org(bundle)                          # a fresh org with ``bundle`` applied
        admin = acme.user("admin")                      # a user with the admin profile and an API key
        rep = acme.user("rep", permission_sets=["x"])   # a profile the bundle defines
        ann = acme.user("standard", password=PASSWORD)  # one who can log in (argon2: 0.2 s a user)
        response = rep.client.get("/api/v1/records/deal")
        anonymous = acme.client()                       # no credential

Every client talks to the same in-process app (an in-memory rate limiter of its own).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from rapport.platform.app import Rapport
from rapport.platform.ratelimit import MemoryRateLimiter
from rapport.platform.settings import Settings
from rapport.platform.users import User
from rapport.platform.web import create_app

PASSWORD = "correct horse battery staple"
PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "request_id"}
#: for fixtures of a wider scope than a test, which cannot use the ``backend`` fixture's params
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
#: a fixed clock for rate limiters: 40 s into a minute, 100 s into a quarter of an hour
CLOCK = 1000.0


@dataclass
class ApiUser:
    user: User
    key: str
    client: TestClient

    @property
    def id(self) -> str:
        return self.user.id

    @property
    def username(self) -> str:
        return self.user.username


class ApiOrg:
    def __init__(self, rapport: Rapport, name: str, limiter: MemoryRateLimiter | None = None) -> None:
        self.rapport = rapport
        self.name = name
        self.runtime = rapport.org(name)
        self.app = create_app(rapport, limiter=limiter if limiter is not None else MemoryRateLimiter())

    def client(self, **headers: str) -> TestClient:
        return TestClient(self.app, headers=headers, raise_server_exceptions=True)

    def user(self, profile: str = "standard", *, permission_sets: tuple[str, ...] | list[str] = (),
             name: str | None = None, password: str | None = None) -> ApiUser:
        """A user with an API key (and ``password``: hashing one costs a fifth of a second)."""
        username = f"{name or profile}-{uuid.uuid4().hex[:10]}@{self.name}.test"
        user = self.rapport.create_user(self.name, username, name=name or profile.title(), profile=profile,
                                        permission_sets=tuple(permission_sets), password=password)
        _, key = self.rapport.users.create_key(self.rapport.orgs.get(self.name), username, "tests")
        return ApiUser(user, key, self.client(Authorization=f"Bearer {key}"))


# -- checks and deployments of their own -------------------------------------------------

def problem(response: httpx.Response, status: int, code: str, detail: str | None = None) -> dict[str, Any]:
    """The body of an error response, checked for the one problem+json shape every error has."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert PROBLEM_KEYS <= set(body), body
    assert (body["status"], body["code"]) == (status, code), body
    assert body["type"] == f"https://rapport.dev/problems/{code}"
    assert body["request_id"] == response.headers["x-request-id"]
    if detail is not None:
        assert body["detail"] == detail
    return body


def pointers(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(pointer, code) of each problem in a validation error."""
    return [(e["pointer"], e["code"]) for e in body["errors"]]


@contextmanager
def served_org(request: pytest.FixtureRequest, backend: str, data_dir: Path, bundle: dict[str, Any] | None = None,
               **settings: Any) -> Iterator[ApiOrg]:
    """An org served by a Rapport of its own (``settings`` overridden): for fixtures that
    outlive one test, or that need other limits than the ``api_org`` fixture's."""
    database_url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    rapport = Rapport(Settings(data_dir=data_dir, database_url=database_url).with_(**settings))
    org = rapport.create_org(f"t{uuid.uuid4().hex[:12]}")
    try:
        if bundle is not None:
            rapport.org(org.name).metadata.apply(bundle, author="tests")
        yield ApiOrg(rapport, org.name)
    finally:
        rapport.db.drop_org_storage(org.name, org.id)
        rapport.close()
