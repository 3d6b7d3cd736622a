"""Schemathesis over the org's own OpenAPI document: every operation, on the demo bundle.

The admin's document is loaded from the ASGI app, and each operation gets a bounded number
of generated requests (some aimed at records that exist), each checked for no server
error and for status code, content type, headers and body as documented. Failures are
collected across operations and reported together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_headers_conformance, response_schema_conformance, status_code_conformance,
)
from starlette.requests import Request

from rapport.platform.errors import StaleVersion
from rapport.platform.settings import Settings
from rapport.runtime.api.http import expected_version
from tests.support.bundles import sales_bundle

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
#: generated requests per operation (44 operations on the demo bundle): about 40 s per backend
EXAMPLES = 25
#: operations that change the metadata run last, so the others see the demo bundle
LAST = ("/metadata/apply",)
#: the demo bundle's lookups (field → object), aimed at existing records in half the requests
LOOKUPS = {"account": "account", "primary_contact": "contact"}


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """The shared settings, without rate limits: the run sends many requests a minute."""
    database_url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    return Settings(data_dir=tmp_path / "data", database_url=database_url, rate_limit_key_per_minute=0,
                    rate_limit_org_per_minute=0)


def _seed(client: Any) -> dict[str, list[str]]:
    """A few records of each demo object, linked, so generated requests can aim at them."""
    ids: dict[str, list[str]] = {"account": [], "contact": [], "deal": []}
    for n in range(3):
        account = client.post("/api/v1/records/account", json={"name": f"Account {n}", "employees": n * 10,
                                                                "annual_revenue": 1000.5 * n})
        assert account.status_code == 201, account.text
        ids["account"].append(account.json()["id"])
        contact = client.post("/api/v1/records/contact", json={"last_name": f"Ng {n}", "account": ids["account"][-1],
                                                                "email": f"ng{n}@example.com"})
        assert contact.status_code == 201, contact.text
        ids["contact"].append(contact.json()["id"])
        deal = client.post("/api/v1/records/deal", json={
            "name": f"Deal {n}", "account": ids["account"][-1], "primary_contact": ids["contact"][-1],
            "stage": "prospecting", "amount": 12345.67 * (n + 1), "probability": 20, "close_date": "2027-03-31"})
        assert deal.status_code == 201, deal.text
        ids["deal"].append(deal.json()["id"])
    return ids


def _object_of(path: str) -> str | None:
    parts = path.strip("/").split("/")
    return parts[1] if parts[0] == "records" and len(parts) > 1 else None


@pytest.mark.slow
def test_every_operation_conforms_to_the_document(api_org: Any) -> None:
    acme = api_org(sales_bundle())
    admin = acme.user("admin")
    ids = _seed(admin.client)
    auth = {"Authorization": f"Bearer {admin.key}"}
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", acme.app, headers=auth)
    operations = [result.ok() for result in schema.get_all_operations()]
    operations.sort(key=lambda op: op.path in LAST)
    assert len(operations) > 40
    failures: list[str] = []
    for operation in operations:
        failures += _exercise(operation, auth, ids)
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures[:20])


def _exercise(operation: Any, auth: dict[str, str], ids: dict[str, list[str]]) -> list[str]:
    """Up to EXAMPLES generated requests to ``operation``; in half of them an ``{id}`` and the
    lookups of a record body name records that exist (and no If-Match is sent), so creates,
    updates and related lists really run."""
    failures: list[str] = []
    known_ids = ids.get(_object_of(operation.path) or "", [])

    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                         phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(), aim=st.integers(min_value=0, max_value=5))
    def run(case: Any, aim: int) -> None:
        if known_ids and "id" in (case.path_parameters or {}) and aim % 2 == 0:
            case.path_parameters["id"] = known_ids[aim % len(known_ids)]
            if case.headers:
                case.headers.pop("If-Match", None)
        if _object_of(operation.path) and isinstance(case.body, dict) and aim % 2 == 0:
            for field, target in LOOKUPS.items():
                if field in case.body:
                    case.body[field] = ids[target][aim % len(ids[target])]
        try:
            response = case.call(headers=auth)
        except Exception as error:  # the app raised: a server error
            failures.append(f"{operation.label}: {type(error).__name__}: {error}\n{case.as_curl_command(auth)}")
            return
        try:
            case.validate_response(response, checks=CHECKS, headers=auth)
        except BaseExceptionGroup as group:
            failures.append(f"{operation.label}: {group}")

    run()
    return failures


def test_inputs_that_answered_500_now_answer_4xx(api_org: Any) -> None:
    """Found by schemathesis (a metadata key '²') and then by looking for the same mistake:
    Unicode digits that int() refuses, and owners the column refuses on PostgreSQL."""
    acme = api_org(sales_bundle())
    client = acme.user("admin").client
    response = client.post("/api/v1/metadata/plan", json={"²": 1})
    assert (response.status_code, response.json()["code"]) == (422, "metadata.invalid")
    response = client.get("/api/v1/records/account", params={"limit": "²"})
    assert (response.status_code, response.json()["code"]) == (400, "api.bad_parameter")
    # headers are read as latin-1, so '²' (0xB2) can arrive in If-Match
    request = Request({"type": "http", "method": "PATCH", "path": "/", "query_string": b"",
                       "headers": [(b"if-match", b'"\xb2"')]})
    with pytest.raises(StaleVersion):
        expected_version(request)
    for owner, code in (("x" * 256, "records.too_long"), ("a\x00b", "records.bad_character")):
        response = client.post("/api/v1/records/account", json={"name": "Acme", "owner": owner})
        assert response.status_code == 422, response.text
        assert [(e["pointer"], e["code"]) for e in response.json()["errors"]] == [("/owner", code)]
