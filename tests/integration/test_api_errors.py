"""What a caller of the HTTP API sees when something is wrong: one problem+json shape, a
stable code and a message for every mistake, the limits (body size, request rate) — and
never a 500.

The helpers at the top (:func:`problem`, :func:`served_org`, the ``no_server_errors``
fixture) are shared by the other ``test_api_*`` modules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from rapport.platform.ratelimit import MemoryRateLimiter
from tests.support.api import BACKENDS, CLOCK, ApiOrg, ApiUser, problem, served_org
from tests.support.bundles import sales_bundle


pytestmark = pytest.mark.usefixtures("no_server_errors")


# -- fixtures of this module -------------------------------------------------------------

@pytest.fixture(scope="module", params=BACKENDS)
def acme(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiOrg]:
    """One org with the sales bundle for the whole module: these tests change nothing."""
    with served_org(request, request.param, tmp_path_factory.mktemp("errors"), sales_bundle()) as org:
        yield org


@pytest.fixture(scope="module")
def admin(acme: ApiOrg) -> ApiUser:
    return acme.user("admin")


@pytest.fixture(scope="module", params=BACKENDS)
def strict(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiOrg]:
    """An org whose deployment has small limits: 1 KiB bodies, 4 requests a minute per key, 5 per org."""
    with served_org(request, request.param, tmp_path_factory.mktemp("strict"), max_body_bytes=1024,
                    rate_limit_key_per_minute=4, rate_limit_org_per_minute=5) as org:
        yield org


@pytest.fixture(scope="module")
def strict_keys(strict: ApiOrg) -> list[str]:
    return [strict.user(name=name).key for name in ("ann", "bob")]


@pytest.fixture
def strict_clients(strict: ApiOrg, strict_keys: list[str]) -> list[Any]:
    """A client per key of ``strict``, on an app of this test's own (fresh rate-limit counters)."""
    served = ApiOrg(strict.rapport, strict.name, MemoryRateLimiter(clock=lambda: CLOCK))
    return [served.client(Authorization=f"Bearer {key}") for key in strict_keys]


# -- request bodies --------------------------------------------------------------------------

@pytest.mark.parametrize(("content", "content_type", "status", "code", "detail"), [
    (b'{"name": ', "application/json", 400, "api.malformed_json",
     "the request body is not valid JSON: Expecting value at line 1, column 10"),
    (b"{'name': 'x'}", "application/json", 400, "api.malformed_json",
     "the request body is not valid JSON: Expecting property name enclosed in double quotes at line 1, column 2"),
    (b"", "application/json", 400, "api.malformed_json", "the request body is empty; send a JSON document"),
    (b'{"name": "\xff"}', "application/json; charset=utf-8", 400, "api.malformed_json",
     "the request body is not UTF-8 (byte 10)"),
    (b"[" * 100_000, "application/json", 400, "api.malformed_json", "the request body nests too deeply"),
    (b'["a record"]', "application/json", 400, "api.bad_body", "a record must be a JSON object, got list"),
    (b'{"name": "x"}', "text/plain", 415, "api.unsupported_media_type",
     "the request body must be JSON (Content-Type: application/json), got text/plain"),
    (b"name=x", "application/x-www-form-urlencoded", 415, "api.unsupported_media_type",
     "the request body must be JSON (Content-Type: application/json), got application/x-www-form-urlencoded"),
    (b'{"name": "x"}', None, 415, "api.unsupported_media_type",
     "the request body must be JSON (Content-Type: application/json), got no Content-Type"),
], ids=["truncated", "single-quotes", "empty", "not-utf8", "too-deep", "not-an-object", "text", "form",
        "no-content-type"])
def test_a_body_that_is_not_a_json_object_is_refused(admin: ApiUser, content: bytes, content_type: str | None,
                                                     status: int, code: str, detail: str) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = admin.client.post("/api/v1/records/account", content=content, headers=headers)
    problem(response, status, code, detail)


def test_any_json_media_type_is_read(admin: ApiUser) -> None:
    response = admin.client.post("/api/v1/records/account", content=b'{"name": "Merged"}',
                                 headers={"content-type": "application/merge-patch+json; charset=utf-8"})
    assert response.status_code == 201 and response.json()["name"] == "Merged"


def test_a_stranger_learns_nothing_from_a_bad_body(acme: ApiOrg) -> None:
    response = acme.client().post("/api/v1/records/account", content=b"{", headers={"content-type": "text/plain"})
    problem(response, 401, "auth.required")


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_limit_is_refused_with_413(strict_clients: list[Any], streamed: bool) -> None:
    payload = json.dumps({"name": "x" * 2000}).encode()
    content: Any = iter([payload[:1000], payload[1000:]]) if streamed else payload
    response = strict_clients[0].post("/api/v1/me/keys", content=content, headers={"content-type": "application/json"})
    body = problem(response, 413, "api.body_too_large", "the request body is larger than the limit of 1,024 bytes")
    assert body["limit"] == 1024


# -- unknown things --------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/records/invoice"), ("POST", "/records/invoice"), ("GET", "/records/invoice/x"),
    ("PATCH", "/records/invoice/x"), ("DELETE", "/records/invoice/x"), ("PUT", "/records/invoice/by/code/A-1"),
    ("GET", "/records/invoice/x/related/line"), ("GET", "/objects/invoice"),
])
def test_an_unknown_object_is_404_on_every_record_endpoint(acme: ApiOrg, admin: ApiUser, method: str,
                                                            path: str) -> None:
    body = {} if method in ("POST", "PATCH", "PUT") else None
    response = admin.client.request(method, f"/api/v1{path}", json=body)
    problem(response, 404, "records.unknown_object",
            f"org '{acme.name}' has no object 'invoice' (objects: account, contact, deal)")


DEAL_FIELDS = ("account, amount, close_date, created_at, created_by, days_to_close, deal_number, id, name, next_step, "
               "owner, primary_contact, probability, stage, updated_at, updated_by, version, weighted_amount")


@pytest.mark.parametrize(("params", "code", "pointer", "message"), [
    ({"fields": "name,colour"}, "query.unknown_field", "/fields/1",
     f"object 'deal' has no field 'colour' (fields: {DEAL_FIELDS})"),
    ({"fields": "account.colour"}, "query.unknown_field", "/fields/0",
     "object 'account' has no field 'colour' (fields: account_number, annual_revenue, created_at, created_by, "
     "employees, id, industry, name, next_close, open_deals, open_pipeline, owner, phone, updated_at, updated_by, "
     "version, website)"),
    ({"fields": "name.first"}, "query.unknown_field", "/fields/0",
     "field 'name' of object 'deal' is not a lookup, so 'name.first' cannot follow it"),
    ({"sort": "name,-colour"}, "query.unknown_field", "/sort/1",
     f"object 'deal' has no field 'colour' (fields: {DEAL_FIELDS})"),
    ({"filter": '{"field": "colour", "op": "eq", "value": "red"}'}, "query.bad_filter", "/filter/field",
     f"object 'deal' has no field 'colour' (fields: {DEAL_FIELDS})"),
])
def test_an_unknown_field_is_named_with_a_pointer(admin: ApiUser, params: dict[str, str], code: str, pointer: str,
                                                  message: str) -> None:
    body = problem(admin.client.get("/api/v1/records/deal", params=params), 400, code)
    assert body["errors"] == [{"pointer": pointer, "code": "query.unknown_field", "message": message}]


NODE_SHAPES = ('a filter node is one of {"and": [...]}, {"or": [...]}, {"not": {...}} '
               'or a condition {"field": ..., "op": ..., "value": ...}')


@pytest.mark.parametrize(("raw", "errors"), [
    ('[{"field": "name"}]', [("/filter", "query.bad_filter", f"expected an object, got a list; {NODE_SHAPES}")]),
    ('{"field": "name", "op": "eq"}',
     [("/filter", "query.bad_filter", "a condition needs 'field', 'op' and 'value'; missing 'value'")]),
    ('{"and": {"field": "name", "op": "eq", "value": "x"}}',
     [("/filter/and", "query.bad_filter", "'and' takes a list of filter nodes, got an object")]),
    ('{"or": [{"field": "name", "op": "like", "value": "x"}, {"field": "amount", "op": "contains", "value": 1}]}', [
        ("/filter/or/0/op", "query.bad_operator", "operator 'like' is not available for field 'name' (text); "
         "allowed: eq, ne, in, not_in, lt, lte, gt, gte, contains, starts_with, is_null"),
        ("/filter/or/1/op", "query.bad_operator", "operator 'contains' is not available for field 'amount' "
         "(currency); allowed: eq, ne, in, not_in, lt, lte, gt, gte, is_null"),
    ]),
    ('{"field": "amount", "op": "gt", "value": "lots"}',
     [("/filter/value", "query.bad_operand", "operator 'gt' on field 'amount': expected a number, got 'lots'")]),
    ('{"field": "amount", "op": "is_null", "value": "yes"}',
     [("/filter/value", "query.bad_operand", "operator 'is_null' on field 'amount' takes true or false, "
       "got the string 'yes'")]),
], ids=["not-an-object", "missing-value", "group-not-a-list", "unknown-operators", "bad-operand", "is-null-operand"])
def test_a_bad_filter_reports_every_problem_with_a_pointer(admin: ApiUser, raw: str,
                                                           errors: list[tuple[str, str, str]]) -> None:
    body = problem(admin.client.get("/api/v1/records/deal", params={"filter": raw}), 400, "query.bad_filter")
    assert [(e["pointer"], e["code"], e["message"]) for e in body["errors"]] == errors


def test_a_filter_that_is_not_json_is_a_bad_filter(admin: ApiUser) -> None:
    response = admin.client.get("/api/v1/records/deal", params={"filter": "stage = 'won'"})
    problem(response, 400, "query.bad_filter", "query parameter 'filter' is not valid JSON: Expecting value")


LIST_PARAMS = "'filter', 'fields', 'sort', 'limit', 'cursor', 'count', 'include_deleted'"


@pytest.mark.parametrize(("method", "path", "params", "code", "detail"), [
    ("GET", "/records/deal", {"colour": "red"}, "api.unknown_parameter",
     f"unknown query parameter 'colour'; this endpoint takes {LIST_PARAMS}"),
    ("GET", "/records/deal/x", {"fields": "name"}, "api.unknown_parameter",
     "unknown query parameter 'fields'; this endpoint takes 'include_deleted'"),
    ("POST", "/records/deal", {"limit": "1"}, "api.unknown_parameter",
     "unknown query parameter 'limit'; this endpoint takes none"),
    ("GET", "/metadata", {"revision": "1"}, "api.unknown_parameter",
     "unknown query parameter 'revision'; this endpoint takes none"),
    ("GET", "/me", {"verbose": "1"}, "api.unknown_parameter",
     "unknown query parameter 'verbose'; this endpoint takes none"),
    ("GET", "/records/deal", [("limit", "1"), ("limit", "2")], "api.bad_parameter",
     "query parameter 'limit' is given more than once"),
    ("GET", "/records/deal", {"limit": "ten"}, "api.bad_parameter",
     "query parameter 'limit' must be a whole number, got 'ten'"),
    ("GET", "/records/deal", {"count": "maybe"}, "api.bad_parameter",
     "query parameter 'count' must be true or false, got 'maybe'"),
    ("GET", "/records/deal", {"limit": "0"}, "query.bad_limit",
     "the page size must be a whole number from 1 to 200, got 0"),
    ("GET", "/records/deal", {"cursor": "bm9wZQ"}, "query.bad_cursor",
     "the cursor is not one this API issued; start again without a cursor"),
])
def test_bad_query_parameters_are_400(admin: ApiUser, method: str, path: str, params: Any, code: str,
                                      detail: str) -> None:
    body = {"name": "x"} if method == "POST" else None
    response = admin.client.request(method, f"/api/v1{path}", params=params, json=body)
    problem(response, 400, code, detail)


# -- routing and authentication ------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/v1/nowhere", "/api/v1/records", "/api/v2/records/deal", "/nowhere"])
def test_an_unknown_path_is_404(admin: ApiUser, path: str) -> None:
    problem(admin.client.get(path), 404, "api.not_found",
            f"there is no endpoint {path}; the API lives under /api/v1, described by /api/v1/openapi.json")


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("DELETE", "/records/deal", "GET, HEAD, POST"), ("PUT", "/records/deal/x", "DELETE, GET, HEAD, PATCH"),
    ("POST", "/metadata", "GET, HEAD"), ("GET", "/composite", "POST"), ("PATCH", "/me/keys", "GET, HEAD, POST"),
])
def test_a_wrong_method_is_405_naming_every_method_the_path_takes(admin: ApiUser, method: str, path: str,
                                                                   allow: str) -> None:
    response = admin.client.request(method, f"/api/v1{path}")
    problem(response, 405, "api.method_not_allowed", f"{method} is not allowed on /api/v1{path}")
    assert response.headers["allow"] == allow


@pytest.mark.parametrize(("headers", "code", "detail"), [
    ({}, "auth.required", "authentication required: send 'Authorization: Bearer <API key>', or log in "
                          "(POST /api/v1/auth/login) for a session cookie"),
    ({"Authorization": "Basic YWRtaW46c2VjcmV0"}, "auth.bad_header",
     "the Authorization header must be 'Bearer <API key>'"),
    ({"Authorization": "Bearer"}, "auth.bad_header", "the Authorization header must be 'Bearer <API key>'"),
    ({"Authorization": "Bearer rk_not-a-key"}, "auth.bad_api_key",
     "the API key is not valid (unknown, revoked, or its user is inactive)"),
    ({"Authorization": f"Bearer rk_{'0' * 32}_{'A' * 43}"}, "auth.bad_api_key",
     "the API key is not valid (unknown, revoked, or its user is inactive)"),
    ({"Cookie": "rapport_session=forged"}, "auth.session_expired",
     "the session has expired or was ended; log in again"),
], ids=["none", "basic", "empty-bearer", "malformed-key", "unknown-key", "unknown-session"])
@pytest.mark.parametrize("path", ["/records/deal", "/metadata", "/me"])
def test_without_a_valid_credential_the_answer_is_401(acme: ApiOrg, headers: dict[str, str], code: str, detail: str,
                                                      path: str) -> None:
    response = acme.client(**headers).get(f"/api/v1{path}")
    problem(response, 401, code, detail)
    assert response.headers["www-authenticate"] == 'Bearer realm="rapport"'


# -- request ids -------------------------------------------------------------------------------

@pytest.mark.parametrize(("given", "echoed"), [
    ("trace-1.2:3_x", True), ("x" * 64, True), ("x" * 65, False), ("two words", False), ("", False),
])
def test_a_valid_request_id_is_echoed_and_any_other_replaced(admin: ApiUser, given: str, echoed: bool) -> None:
    response = admin.client.get("/api/v1/records/deal/missing", headers={"X-Request-Id": given})
    body = problem(response, 404, "records.not_found", "object 'deal' has no record with id 'missing'")
    if echoed:
        assert response.headers["x-request-id"] == body["request_id"] == given
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


def test_successful_answers_carry_a_request_id_too(admin: ApiUser) -> None:
    response = admin.client.get("/api/v1/records/deal", headers={"X-Request-Id": "ok-1"})
    assert response.status_code == 200 and response.headers["x-request-id"] == "ok-1"
    assert response.headers["content-type"] == "application/json"


# -- rate limits -----------------------------------------------------------------------------

def test_a_key_over_its_rate_limit_gets_429_and_other_keys_go_on(strict: ApiOrg, strict_clients: list[Any]) -> None:
    ann, bob = strict_clients
    assert [ann.get("/api/v1/me").status_code for _ in range(4)] == [200] * 4
    response = ann.get("/api/v1/me")
    body = problem(response, 429, "rate_limit.exceeded",
                   "this API key has made more than 4 requests in a minute; try again in 35 s")
    assert body["retry_after"] == 35 and response.headers["retry-after"] == "35"
    assert bob.get("/api/v1/me").status_code == 200


def test_an_org_over_its_rate_limit_gets_429_whichever_key_calls(strict: ApiOrg, strict_clients: list[Any]) -> None:
    ann, bob = strict_clients
    assert [c.get("/api/v1/me").status_code for c in (ann, bob, ann, bob, ann)] == [200] * 5
    for client in (bob, ann):
        response = client.get("/api/v1/me")
        body = problem(response, 429, "rate_limit.exceeded",
                       f"org '{strict.name}' has made more than 5 requests in a minute; try again in 32 s")
        assert body["retry_after"] == 32 and response.headers["retry-after"] == "32"


def test_a_rate_limited_request_is_refused_before_its_body_is_looked_at(strict_clients: list[Any]) -> None:
    ann, _ = strict_clients
    for _ in range(4):
        ann.get("/api/v1/me")
    response = ann.post("/api/v1/me/keys", content=b"{", headers={"content-type": "application/json"})
    problem(response, 429, "rate_limit.exceeded")


@pytest.mark.parametrize(("method", "path", "content", "status", "code"), [
    ("POST", "/records/account", '{"name": {"first": "x"}, "employees": [1]}', 422, "records.validation_failed"),
    ("POST", "/records/account", '{"name": "x", "annual_revenue": 1e999}', 422, "records.validation_failed"),
    ("POST", "/records/account", '{"name": "x", "annual_revenue": NaN}', 422, "records.validation_failed"),
    ("PATCH", "/records/account/x", '{"version": [1]}', 404, "records.not_found"),
    ("GET", "/records/account?filter=%7B%22not%22%3A%5B1%5D%7D", None, 400, "query.bad_filter"),
    ("GET", "/records/account?filter=%7B%22field%22%3A1%2C%22op%22%3A%5B%5D%2C%22value%22%3A%7B%7D%7D", None, 400,
     "query.bad_filter"),
    ("PUT", "/records/contact/by/email/not-an-email", '{"last_name": "x"}', 400, "records.bad_format"),
    ("POST", "/composite", '{"operations": [{"op": ["get"]}]}', 400, "composite.bad_request"),
    ("POST", "/composite", '{"operations": [{"op": "get", "object": ["account"], "id": "x"}]}', 400,
     "composite.bad_request"),
    ("POST", "/metadata/plan", '{"objects": 1.5}', 422, "metadata.invalid"),
    ("POST", "/metadata/apply", '{"bundle": {"objects": [{"name": "x", "label": 2.5}]}}', 422, "metadata.invalid"),
], ids=["record-of-lists", "huge-number", "nan", "version-list", "not-a-list", "field-not-a-string", "bad-key",
        "op-a-list", "object-a-list", "objects-a-fraction", "label-a-fraction"])
def test_odd_json_in_any_position_is_a_4xx(admin: ApiUser, method: str, path: str, content: str | None, status: int,
                                            code: str) -> None:
    headers = {"content-type": "application/json"} if content is not None else {}
    response = admin.client.request(method, f"/api/v1{path}", content=content, headers=headers)
    problem(response, status, code)
