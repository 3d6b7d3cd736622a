"""The org's OpenAPI 3.1 document, as one caller sees the API, and its HTML page.

    GET /openapi.json   the document: the caller's readable objects, each with its own record
                        paths (/records/deal, /records/deal/{id} …) and schemas (deal,
                        deal_input, deal_update), built from the field-type registry
    GET /docs           the same document as a readable HTML page (no scripts: works offline)

Objects the caller may not read, and fields hidden from them, appear nowhere in it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from rapport.platform.settings import Settings
from rapport.runtime.api._openapi_schemas import (
    ERRORS, FIXED_ROUTES, FIXED_TAGS, PATH_PARAMETERS, PROBLEM, ROUTE_PATH_PARAMETERS, SECURITY_SCHEMES, STRING,
    error_responses, fixed_schemas, non_null, record_page, record_schemas, ref, unknown_endpoint,
)
from rapport.runtime.api.http import JSON_TYPE, JSONResponse, actor, check_params, org
from rapport.runtime.compiled import CompiledObject, CompiledOrg
from rapport.runtime.permissions import Access, access_for

if TYPE_CHECKING:
    from rapport.runtime.api.routes import ApiRoute

OPENAPI_VERSION = "3.1.0"
PATH_PARAMETER = re.compile(r"\{([a-z_]+)(?::[a-z]+)?\}")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ETAG = {"ETag": {"description": "The record's version, for If-Match", "schema": {"type": "string"}}}
LOCATION = {"Location": {"description": "The new record's URL", "schema": {"type": "string"}}}


# -- the document -----------------------------------------------------------------------------

def openapi_document(model: CompiledOrg, access: Access, routes: Iterable[ApiRoute], server_url: str, *,
                     page_size_max: int = Settings.page_size_max) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes`` as ``access`` sees ``model``, served at ``server_url``."""
    readable = {name: o for name, o in model.objects.items() if access.on(name).read}
    schemas: dict[str, Any] = {"Problem": PROBLEM, **fixed_schemas(sorted(readable))}
    for compiled in readable.values():
        schemas.update(record_schemas(model.objects, compiled, access))
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        build = RECORD_OPERATIONS.get(route.name) if "{object}" in route.path else None
        if build is None:
            path, operation = _openapi_path(route.path), _fixed_operation(route, readable)
            paths.setdefault(path, {})[route.method.lower()] = operation
            continue
        for compiled in readable.values():
            for fixed, parts in build(compiled, _Context(access, readable, schemas)):
                path, operation_id = route.path, f"{route.name}_{compiled.name}"
                for name, value in {"object": compiled.name, **fixed}.items():
                    path = path.replace(f"{{{name}}}", value)
                    operation_id += f"_{value}" if name != "object" else ""
                operation = _operation(route, parts, operation_id, compiled.name)
                paths.setdefault(_openapi_path(path), {})[route.method.lower()] = operation
    tags = [{"name": name, "description": about} for name, about in FIXED_TAGS.items()]
    tags += [{"name": name, "description": f"{o.defn.plural_label}: records of object '{name}'"}
             for name, o in readable.items()]
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": f"Rapport API of org '{model.org_name}'", "version": f"1.{model.revision}",
                 "description": "The org's generated API as you may use it: the objects you may read, and their "
                                f"fields you may see, at metadata revision {model.revision}. Errors are "
                                "application/problem+json (RFC 9457)."},
        "servers": [{"url": server_url}],
        "tags": tags,
        "paths": paths,
        "components": {"schemas": schemas, "responses": error_responses(),
                       "parameters": _list_parameters(page_size_max), "securitySchemes": SECURITY_SCHEMES},
        "security": _security("GET"),
    }


class _Context:
    def __init__(self, access: Access, readable: dict[str, CompiledObject], schemas: dict[str, Any]) -> None:
        self.access, self.readable, self.schemas = access, readable, schemas


def _openapi_path(path: str) -> str:
    return PATH_PARAMETER.sub(r"{\1}", path)


def _security(method: str) -> list[dict[str, list[str]]]:
    session: dict[str, list[str]] = {"session": []} if method in SAFE_METHODS else {"session": [], "csrf": []}
    return [{"bearer": []}, session]


def _operation(route: ApiRoute, parts: dict[str, Any], operation_id: str, tag: str) -> dict[str, Any]:
    """An operation from its parts (parameters, body, success responses), with every error response."""
    responses = parts.pop("responses")
    for status in ERRORS:
        responses.setdefault(str(status), {"$ref": f"#/components/responses/Error{status}"})
    operation = {"operationId": operation_id, "summary": route.summary, "tags": [tag], **parts,
                 "responses": responses,
                 "security": [] if route.public else _security(route.method)}
    return {k: v for k, v in operation.items() if v not in (None, [])} | {"security": operation["security"]}


def _fixed_operation(route: ApiRoute, readable: dict[str, CompiledObject]) -> dict[str, Any]:
    endpoint = FIXED_ROUTES.get(route.name) or unknown_endpoint(route.path, route.takes_body)
    responses: dict[str, Any] = {}
    for status, content in endpoint.responses.items():
        description = {201: "Created", 204: "Done"}.get(status, "OK")
        responses[str(status)] = {"description": description,
                                  **({"content": {m: {"schema": s} for m, s in content.items()}} if content else {})}
    parameters = []
    for name in PATH_PARAMETER.findall(route.path):
        schema = ROUTE_PATH_PARAMETERS.get((route.name, name)) or PATH_PARAMETERS.get(name) or \
            {"type": "string", "minLength": 1}
        if name == "object":
            schema = {"type": "string", "enum": sorted(readable)}
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    parameters += [{"name": name, "in": "query", "required": required, "schema": schema}
                   for name, schema, required in endpoint.query]
    body = None
    if endpoint.request is not None:
        body = {"required": endpoint.body_required, "content": {JSON_TYPE: {"schema": endpoint.request}}}
    parts = {"parameters": parameters, "requestBody": body, "responses": responses}
    return _operation(route, parts, route.name, endpoint.tag)


# -- record operations: one per readable object -----------------------------------------------

def _list_parameters(page_size_max: int) -> dict[str, Any]:
    def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}

    return {
        "filter": query("filter", {"type": "string", "contentMediaType": JSON_TYPE},
                        'A JSON filter tree: {"field": "amount", "op": "gte", "value": 100}, or {"and": [...]} / '
                        '{"or": [...]} of them. Operators: eq, ne, lt, lte, gt, gte, in, not_in, contains, '
                        "starts_with, is_null (each field's operators are in its describe)"),
        "fields": query("fields", STRING, "Comma-separated field paths to return, looked-up ones too "
                                          "(name,amount,account.name); the system fields always come back"),
        "sort": query("sort", STRING, "Comma-separated field paths, '-' first for descending (-amount,name)"),
        "limit": query("limit", {"type": "integer", "minimum": 1, "maximum": page_size_max},
                       f"Records per page (at most {page_size_max})"),
        "cursor": query("cursor", STRING, "The next_cursor of the previous page (same sort)"),
        "count": query("count", {"type": "boolean"}, "Also return 'total', the number of matching records"),
        "include_deleted": query("include_deleted", {"type": "boolean"}, "Include records in the recycle bin"),
        "If-Match": {"name": "If-Match", "in": "header", "required": False, "schema": STRING,
                     "description": 'The ETag you read ("3"): refused with 412 if the record has changed'},
    }


LIST = [{"$ref": f"#/components/parameters/{p}"}
        for p in ("filter", "fields", "sort", "limit", "cursor", "count", "include_deleted")]
ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
IF_MATCH = {"$ref": "#/components/parameters/If-Match"}


def _json(schema: dict[str, Any], description: str = "OK", headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {JSON_TYPE: {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {JSON_TYPE: {"schema": ref(name)}}}


#: a record operation's parts for one object: (path parameters made fixed, the parts), one per path
Parts = list[tuple[dict[str, str], dict[str, Any]]]


def _list(o: CompiledObject, ctx: _Context) -> Parts:
    return [({}, {"parameters": LIST, "responses": {"200": _json(record_page(ref(o.name)))}})]


def _create(o: CompiledObject, ctx: _Context) -> Parts:
    if f"{o.name}_input" not in ctx.schemas:
        return []
    return [({}, {"requestBody": _body(f"{o.name}_input"),
                  "responses": {"201": _json(ref(o.name), "Created", {**ETAG, **LOCATION})}})]


def _get(o: CompiledObject, ctx: _Context) -> Parts:
    return [({}, {"parameters": [ID, {"$ref": "#/components/parameters/include_deleted"}],
                  "responses": {"200": _json(ref(o.name), headers=ETAG)}})]


def _update(o: CompiledObject, ctx: _Context) -> Parts:
    if f"{o.name}_update" not in ctx.schemas:
        return []
    return [({}, {"parameters": [ID, IF_MATCH], "requestBody": _body(f"{o.name}_update"),
                  "responses": {"200": _json(ref(o.name), headers=ETAG)}})]


def _delete(o: CompiledObject, ctx: _Context) -> Parts:
    if not ctx.access.on(o.name).delete:
        return []
    return [({}, {"parameters": [ID, IF_MATCH], "responses": {"204": {"description": "Deleted"}}})]


def _upsert(o: CompiledObject, ctx: _Context) -> Parts:
    """One path per external id or unique field the caller may read (upserts create or update)."""
    grant = ctx.access.on(o.name)
    if not (grant.create and grant.edit):
        return []
    parts: Parts = []
    for key in o.stored:
        if (key.defn.external_id or key.defn.unique) and grant.can_read_field(key.name):
            value = {"name": "value", "in": "path", "required": True, "description": f"The record's {key.name}",
                     "schema": {**non_null(key.type.value_schema(key.defn)), "minLength": 1}}
            parts.append(({"field": key.name}, {
                "parameters": [value], "requestBody": _body(f"{o.name}_update"),
                "responses": {"200": _json(ref(o.name), "Updated", ETAG),
                              "201": _json(ref(o.name), "Created", {**ETAG, **LOCATION})}}))
    return parts


def _related(o: CompiledObject, ctx: _Context) -> Parts:
    """The object's relationships the caller may follow (as describe lists them)."""
    names: dict[str, str] = {}
    for child, field in o.children:
        if child in ctx.readable and ctx.access.on(child).can_read_field(field.name):
            names[field.defn.relationship_name or f"{child}.{field.name}"] = child
    if not names:
        return []
    children = sorted(set(names.values()))
    item = ref(children[0]) if len(children) == 1 else {"anyOf": [ref(c) for c in children]}
    relationship = {"name": "relationship", "in": "path", "required": True,
                    "schema": {"type": "string", "enum": sorted(names)},
                    "description": "A relationship name, or child object (child.field when it has several lookups)"}
    return [({}, {"parameters": [ID, relationship, *LIST], "responses": {"200": _json(record_page(item))}})]


def _history(o: CompiledObject, ctx: _Context) -> Parts:
    """The changes of the fields the caller may read, newest first (none if nothing is tracked)."""
    page = [{"$ref": f"#/components/parameters/{p}"} for p in ("limit", "cursor")]
    return [({}, {"parameters": [ID, *page], "responses": {"200": _json(ref("FieldHistory"))}})]


RECORD_OPERATIONS: dict[str, Callable[[CompiledObject, _Context], Parts]] = {
    "list_records": _list, "create_record": _create, "get_record": _get, "update_record": _update,
    "delete_record": _delete, "upsert_record": _upsert, "related_records": _related, "record_history": _history,
}


# -- the endpoints ----------------------------------------------------------------------------

def openapi_json(request: Request, body: Any) -> Response:
    check_params(request, ())
    return JSONResponse(_caller_document(request))


def docs_page(request: Request, body: Any) -> Response:
    check_params(request, ())
    document = _caller_document(request)
    html = _templates().get_template("docs.html").render(doc=document, groups=_groups(document),
                                                          schema_text=schema_text, errors=sorted(map(str, ERRORS)))
    return HTMLResponse(html)


def _caller_document(request: Request) -> dict[str, Any]:
    runtime = org(request)
    model = runtime.model()
    server = str(request.url_for("openapi_json").path).removesuffix("/openapi.json")
    return openapi_document(model, access_for(model, actor(request)), request.app.state.api_routes, server,
                            page_size_max=runtime.settings.page_size_max)


@lru_cache(maxsize=1)
def _templates() -> Environment:
    return Environment(loader=PackageLoader("rapport.runtime.api", "templates"), autoescape=True,
                       trim_blocks=True, lstrip_blocks=True)


def _groups(document: dict[str, Any]) -> list[tuple[str, list[tuple[str, str, dict[str, Any]]]]]:
    """The operations by tag, in the order of the paths."""
    groups: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            groups.setdefault(operation["tags"][0], []).append((method.upper(), path, operation))
    return list(groups.items())


def schema_text(schema: dict[str, Any]) -> str:
    """A short text for a leaf schema: its type and limits (``string or null, length ≤ 255``)."""
    kinds = schema.get("type", "any")
    parts = [" or ".join(kinds) if isinstance(kinds, list) else str(kinds)]
    if "enum" in schema:
        parts.append("one of " + ", ".join("null" if v is None else json.dumps(v) for v in schema["enum"]))
    for key, words in (("format", "format {}"), ("minLength", "length ≥ {}"), ("maxLength", "length ≤ {}"),
                       ("minimum", "≥ {}"), ("maximum", "≤ {}"), ("exclusiveMinimum", "> {}"),
                       ("exclusiveMaximum", "< {}"), ("pattern", "matching {}"), ("maxItems", "at most {} items"),
                       ("default", "default {}")):
        if key in schema:
            parts.append(words.format(json.dumps(schema[key]) if key == "default" else schema[key]))
    if schema.get("readOnly"):
        parts.append("read-only")
    return ", ".join(parts)
