"""The per-org OpenAPI document and its HTML page, as each caller sees them."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest

from tests.support.api import PASSWORD
from tests.support.bundles import field, sales_bundle

ERROR_STATUSES = {"400", "401", "403", "404", "409", "412", "413", "415", "422", "429"}


def restricted_bundle() -> dict[str, Any]:
    """The demo bundle with a 'rep' profile: deals without probability (hidden) and with amount
    read-only, accounts read-only, no contacts at all; and a help text full of markup."""
    bundle = sales_bundle()
    field(bundle, "deal", "next_step")["help_text"] = "<script>alert('x')</script> & more"
    bundle["profiles"] = [{"name": "rep", "objects": [
        {"object": "account", "read": True},
        {"object": "deal", "read": True, "create": True, "edit": True,
         "fields": {"probability": "hidden", "amount": "read"}},
    ]}]
    return bundle


def document(user: Any) -> dict[str, Any]:
    response = user.client.get("/api/v1/openapi.json")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()  # type: ignore[no-any-return]


def test_the_admins_document_is_valid_openapi_3_1(api_org: Any) -> None:
    acme = api_org(sales_bundle())
    doc = document(acme.user("admin"))
    assert doc["openapi"] == "3.1.0"
    assert doc["servers"] == [{"url": "/api/v1"}]
    definitions = pytest.importorskip("schemathesis.specs.openapi.definitions")
    jsonschema.Draft202012Validator(definitions.OPENAPI_31).validate(doc)
    for schema in doc["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    # every reference resolves, and schemathesis reads every operation
    for target in set(re.findall(r'"\$ref": "#/([^"]+)"', json.dumps(doc))):
        node = doc
        for part in target.split("/"):
            node = node[part]
    import schemathesis

    operations = [result.ok() for result in schemathesis.openapi.from_dict(doc).get_all_operations()]
    assert len(operations) == sum(len(item) for item in doc["paths"].values())


def test_record_paths_are_concrete_per_object_with_their_schemas(api_org: Any) -> None:
    acme = api_org(sales_bundle())
    doc = document(acme.user("admin"))
    paths, schemas = doc["paths"], doc["components"]["schemas"]
    for name in ("account", "contact", "deal"):
        assert {"get", "post"} <= set(paths[f"/records/{name}"])
        assert {"get", "patch", "delete"} <= set(paths[f"/records/{name}/{{id}}"])
        assert {name, f"{name}_input", f"{name}_update"} <= set(schemas)
    create = paths["/records/deal"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/deal_input"}
    created = create["responses"]["201"]
    assert created["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/deal"}
    assert {"ETag", "Location"} <= set(created["headers"])
    assert "If-Match" in json.dumps(paths["/records/deal/{id}"]["patch"]["parameters"])
    related = paths["/records/account/{id}/related/{relationship}"]["get"]
    relationship = next(p for p in related["parameters"] if p.get("name") == "relationship")
    assert relationship["schema"]["enum"] == ["contacts", "deals"]
    assert "/records/contact/by/email/{value}" in paths  # contact.email is unique
    assert "/records/{object}" not in paths

    deal, deal_input = schemas["deal"], schemas["deal_input"]
    assert deal["properties"]["amount"]["type"] == ["number", "string", "null"]  # exact decimals as text
    assert deal["properties"]["close_date"] == {"title": "Close date", "type": ["string", "null"], "format": "date"}
    assert deal["properties"]["stage"]["enum"][-1] is None
    assert deal["properties"]["weighted_amount"]["readOnly"] is True
    assert set(deal["required"]) == {"id", "owner", "created_at", "created_by", "updated_at", "updated_by", "version"}
    assert set(deal_input["required"]) == {"name", "account"}  # stage has a default value
    assert deal_input["additionalProperties"] is False
    assert not {"weighted_amount", "deal_number", "id"} & set(deal_input["properties"])
    assert "required" not in schemas["deal_update"] and "version" in schemas["deal_update"]["properties"]


def test_every_operation_documents_its_errors_parameters_and_security(api_org: Any) -> None:
    acme = api_org(sales_bundle())
    doc = document(acme.user("admin"))
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            assert ERROR_STATUSES <= set(operation["responses"]), (method, path)
            assert operation["operationId"] and operation["tags"]
            expected = [] if path == "/auth/login" else [{"bearer": []}, {"session": []}] if method == "get" \
                else [{"bearer": []}, {"session": [], "csrf": []}]
            assert operation["security"] == expected, (method, path)
    components = doc["components"]
    assert components["responses"]["Error429"]["headers"]["Retry-After"]["schema"]["type"] == "integer"
    assert components["responses"]["Error422"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    problem = components["schemas"]["Problem"]
    assert problem["additionalProperties"] is True
    assert {"type", "title", "status", "detail", "code", "errors", "request_id"} <= set(problem["properties"])
    assert problem["properties"]["errors"]["items"]["required"] == ["pointer", "code", "message"]
    parameters = components["parameters"]
    assert set(parameters) >= {"filter", "fields", "sort", "limit", "cursor", "count", "include_deleted", "If-Match"}
    assert parameters["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 200}
    assert parameters["filter"]["schema"]["contentMediaType"] == "application/json"
    assert components["securitySchemes"]["csrf"] == {
        "type": "apiKey", "in": "header", "name": "X-CSRF-Token",
        "description": "With a session cookie, requests that change data send the csrf_token from login"}
    assert components["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_hidden_fields_and_unreadable_objects_appear_nowhere(api_org: Any) -> None:
    acme = api_org(restricted_bundle())
    rep = acme.user("rep")
    doc = document(rep)
    text = json.dumps(doc)
    schemas, paths = doc["components"]["schemas"], doc["paths"]
    # the hidden field: not in any schema or parameter (the admin's help texts may still use the word)
    assert '"probability"' not in text and "Probability (%)" not in text
    # the unreadable object: no schema, no path, no enum value, no lookup description
    assert not {"contact", "contact_input", "contact_update"} & set(schemas)
    assert not [p for p in paths if "contact" in p]
    assert '"contact"' not in text and "'contact'" not in text
    assert paths["/objects/{object}"]["get"]["parameters"][0]["schema"]["enum"] == ["account", "deal"]
    related = paths["/records/account/{id}/related/{relationship}"]["get"]
    assert next(p for p in related["parameters"] if p.get("name") == "relationship")["schema"]["enum"] == ["deals"]
    # read-only access: in the record, not in what may be written; no writes at all on accounts
    assert schemas["deal"]["properties"]["amount"]["readOnly"] is True
    assert "amount" not in schemas["deal_input"]["properties"]
    assert "amount" not in schemas["deal_update"]["properties"]
    assert {"account_input", "account_update"}.isdisjoint(schemas)
    assert set(paths["/records/account"]) == {"get"} and set(paths["/records/account/{id}"]) == {"get"}
    assert "delete" not in paths["/records/deal/{id}"]
    definitions = pytest.importorskip("schemathesis.specs.openapi.definitions")
    jsonschema.Draft202012Validator(definitions.OPENAPI_31).validate(doc)
    # the admin sees everything
    admin_text = json.dumps(document(acme.user("admin")))
    assert '"probability"' in admin_text and '"contact"' in admin_text


def test_the_document_needs_a_credential(api_org: Any) -> None:
    acme = api_org(sales_bundle())
    for path in ("/api/v1/openapi.json", "/api/v1/docs"):
        response = acme.client().get(path)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "auth.required"
    response = acme.user("admin").client.get("/api/v1/openapi.json?pretty=1")
    assert response.status_code == 400 and response.json()["code"] == "api.unknown_parameter"


def test_the_docs_page_renders_the_callers_document_offline(api_org: Any) -> None:
    acme = api_org(restricted_bundle())
    rep = acme.user("rep")
    response = rep.client.get("/api/v1/docs")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert "<script" not in page and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more" in page
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing loaded from elsewhere
    assert 'id="tag-deal"' in page and 'id="tag-account"' in page and 'id="tag-contact"' not in page
    assert '<span class="path">/records/deal/{id}</span>' in page
    assert 'href="#schema-deal_input"' in page and 'id="schema-deal_input"' in page
    assert "<code>probability</code>" not in page and "Probability (%)" not in page
    assert "<code>limit</code>" in page and "≤ 200" in page


def test_the_docs_page_opens_in_a_browser_session(api_org: Any) -> None:
    acme = api_org(sales_bundle())
    admin = acme.user("admin", password=PASSWORD)
    browser = acme.client()
    login = browser.post("/api/v1/auth/login", json={"username": admin.username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    response = browser.get("/api/v1/docs")
    assert response.status_code == 200 and "<h1>Rapport API of org" in response.text
    assert browser.get("/api/v1/openapi.json").json()["info"]["version"] == "1.1"
