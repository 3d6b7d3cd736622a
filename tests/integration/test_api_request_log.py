"""Every request is logged once with its id, status, org and user; the id comes back as a header."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.bundles import sales_bundle


def test_each_request_is_logged_with_its_id_org_and_user(api_org: Callable[..., Any],
                                                          caplog: pytest.LogCaptureFixture) -> None:
    acme = api_org(sales_bundle())
    ann = acme.user("admin", name="ann")
    with caplog.at_level(logging.INFO, logger="rapport.requests"):
        response = ann.client.get("/api/v1/records/deal", params={"limit": "1"},
                                  headers={"X-Request-Id": "trace-42"})
        anonymous = acme.client().get("/api/v1/records/deal")
    assert response.headers["x-request-id"] == "trace-42"
    assert anonymous.json()["request_id"] == anonymous.headers["x-request-id"] != "trace-42"
    lines = [r.getMessage() for r in caplog.records if r.name == "rapport.requests"]
    assert len(lines) == 2
    assert lines[0].startswith("GET /api/v1/records/deal 200 ")
    assert f"org={acme.name} user={ann.username} id=trace-42" in lines[0]
    assert lines[1].startswith("GET /api/v1/records/deal 401 ") and "org=- user=-" in lines[1]


def test_a_request_id_that_is_not_a_short_token_is_replaced(api_org: Callable[..., Any]) -> None:
    acme = api_org()
    response = acme.client().get("/api/v1/me", headers={"X-Request-Id": "x" * 65})
    assert len(response.headers["x-request-id"]) == 32 and response.json()["request_id"] == response.headers[
        "x-request-id"]
