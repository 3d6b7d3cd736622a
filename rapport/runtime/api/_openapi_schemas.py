"""The schemas of the OpenAPI document: records as one caller may read and write them
(assembled from the field-type registry), problems and error responses, and the bodies of
the endpoints whose shape does not depend on the org's metadata.

Nothing here names an object or a field the caller may not read: :func:`record_schemas`
is asked only about readable objects and leaves hidden fields out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rapport.metadata import SCHEMA_NAMES
from rapport.runtime.api.composite import MAX_OPERATIONS, OPERATIONS
from rapport.runtime.api.describe import WRITABLE_SYSTEM_FIELDS
from rapport.runtime.api.http import JSON_TYPE, PROBLEM_TYPE
from rapport.runtime.api.metadata import KINDS
from rapport.runtime.compiled import SYSTEM_FIELD_DEFS, SYSTEM_FIELDS, CompiledField, CompiledObject
from rapport.runtime.fields import FIELD_TYPES
from rapport.runtime.permissions import Access, FieldAccess

STRING: dict[str, Any] = {"type": "string"}
TEXT: dict[str, Any] = {"type": "string", "minLength": 1}
TIMESTAMP: dict[str, Any] = {"type": "string", "format": "date-time"}
MAYBE_TIMESTAMP: dict[str, Any] = {"type": ["string", "null"], "format": "date-time"}
#: keys of list records that name a looked-up record's field (``fields=account.name``)
PATH_KEY = r"^[^.]+(\.[^.]+)+$"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: tuple[str, ...] = (), closed: bool = False, **properties: Any) -> dict[str, Any]:
    """An object schema; ``closed`` refuses keys not listed."""
    return object_schema(properties, required, closed)


def object_schema(properties: dict[str, Any], required: Iterable[str] = (), closed: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    return schema


def array(items: dict[str, Any], **limits: Any) -> dict[str, Any]:
    return {"type": "array", "items": items, **limits}


def non_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` without ``null`` (a value that must be given)."""
    schema = dict(schema)
    kinds = schema.get("type")
    if isinstance(kinds, list) and "null" in kinds:
        kept = [k for k in kinds if k != "null"]
        schema["type"] = kept[0] if len(kept) == 1 else kept
    if "enum" in schema:
        schema["enum"] = [v for v in schema["enum"] if v is not None]
    return schema


# -- problems ---------------------------------------------------------------------------------

PROBLEM = {
    "type": "object",
    "description": "An RFC 9457 problem: what failed, a stable machine code, and for validation every "
                   "failing field at once. Some problems carry more keys (retry_after, maximum, current_version).",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "description": "https://rapport.dev/problems/<code>"},
        "title": STRING,
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "What failed, where, and what is allowed"},
        "code": {"type": "string", "description": "Stable dotted code, like records.validation_failed"},
        "errors": array(obj(("pointer", "code", "message"), pointer={"type": "string", "description": "JSON pointer"},
                            code=STRING, message=STRING, hint=STRING)),
        "request_id": {"type": "string", "description": "The X-Request-Id of the request (quote it when asking)"},
    },
    "additionalProperties": True,
}

ERRORS: dict[int, str] = {
    400: "The request is malformed: bad JSON, an unknown or bad query parameter, a bad filter or cursor",
    401: "No credential, or one that is not valid (Authorization: Bearer <API key>, or a session cookie)",
    403: "You may not do this: object, field or system permission, record sharing, or a missing CSRF token",
    404: "There is no such object, record, relationship or component (or you may not see it)",
    409: "The change conflicts with the data (a restricting lookup, a change that needs confirmation)",
    412: "If-Match (or 'version') names a version the record is no longer at: read it again",
    413: "The request body is larger than the limit",
    415: "The request body is not JSON",
    422: "Validation failed: 'errors' names every failing field",
    429: "Too many requests: wait 'Retry-After' seconds",
}


def error_responses() -> dict[str, Any]:
    """``components.responses``: one problem+json response per error status."""
    responses: dict[str, Any] = {}
    for status, description in ERRORS.items():
        response: dict[str, Any] = {"description": description,
                                    "content": {PROBLEM_TYPE: {"schema": ref("Problem")}}}
        if status == 429:
            response["headers"] = {"Retry-After": {"description": "Seconds to wait before trying again",
                                                   "required": True, "schema": {"type": "integer", "minimum": 0}}}
        if status == 401:
            response["headers"] = {"WWW-Authenticate": {"schema": STRING}}
        responses[f"Error{status}"] = response
    return responses


SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "API key",
               "description": "An API key: Authorization: Bearer <key> (create one with POST /me/keys)"},
    "session": {"type": "apiKey", "in": "cookie", "name": "rapport_session",
                "description": "The session cookie set by POST /auth/login (for the browser UI)"},
    "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token",
             "description": "With a session cookie, requests that change data send the csrf_token from login"},
}


# -- records ----------------------------------------------------------------------------------

def record_schemas(objects: dict[str, CompiledObject], compiled: CompiledObject,
                   access: Access) -> dict[str, dict[str, Any]]:
    """``<object>`` (a record as the caller reads it), and, when they may create or edit records,
    ``<object>_input`` and ``<object>_update`` (the fields they may write)."""
    grant = access.on(compiled.name)
    name = compiled.name
    readable = {f.name: (f, grant.field_access(f.name)) for f in compiled.fields.values()
                if grant.field_access(f.name) is not FieldAccess.HIDDEN}
    properties: dict[str, Any] = {n: _system_property(n) for n in SYSTEM_FIELDS}
    if compiled.defn.soft_delete:
        properties["is_deleted"] = {**_system_property("is_deleted"), "description": "In the recycle bin"}
    for one, field_access in readable.values():
        schema = _property(one, objects, access)
        if not one.type.writable or field_access is not FieldAccess.EDIT:
            schema["readOnly"] = True
        properties[one.name] = schema
    record = {"type": "object", "title": compiled.defn.label, "description": compiled.defn.description or
              f"A {compiled.defn.label} record. Lists return the system fields and the fields asked for; "
              "'fields=lookup.field' adds looked-up values under that key.",
              "required": list(SYSTEM_FIELDS), "properties": properties,
              "patternProperties": {PATH_KEY: {"description": "a looked-up field (fields=account.name)"}},
              "additionalProperties": False}
    schemas = {name: record}
    writable = {f.name: _property(f, objects, access) for f, a in readable.values()
                if f.type.writable and a is FieldAccess.EDIT}
    owner = {"type": "string", "minLength": 1, "maxLength": 255,
             "description": "The id of the user who owns the record (you, when left out)"}
    writable.update({n: owner for n in sorted(WRITABLE_SYSTEM_FIELDS)})
    if grant.create:
        required = [f.name for f, a in readable.values() if f.name in writable and _needs_input(f)]
        schema = object_schema({n: non_null(s) if n in required else s for n, s in writable.items()}, required,
                               closed=True)
        schemas[f"{name}_input"] = {"title": f"New {compiled.defn.label}", **schema}
    if grant.edit:
        version = {"type": "integer", "minimum": 1,
                   "description": "The version you read: refused with 412 if the record has changed (like If-Match)"}
        schemas[f"{name}_update"] = {"title": f"{compiled.defn.label} changes",
                                     **object_schema({**writable, "version": version}, closed=True)}
    return schemas


def _needs_input(field: CompiledField) -> bool:
    """A required field with no default: a new record must be given a value."""
    field_type, defn = field.type, field.defn
    return (field_type.is_required(defn) and defn.default_formula is None
            and field_type.is_blank(field_type.default_value(defn)))


def _system_property(name: str) -> dict[str, Any]:
    defn = SYSTEM_FIELD_DEFS[name]
    schema = {"title": defn.label, **non_null(FIELD_TYPES[defn.type].value_schema(defn))}
    return schema if name in WRITABLE_SYSTEM_FIELDS else {**schema, "readOnly": True}


def _property(field: CompiledField, objects: dict[str, CompiledObject], access: Access) -> dict[str, Any]:
    defn = field.defn
    schema: dict[str, Any] = {"title": defn.label, **field.type.value_schema(defn)}
    notes = [defn.help_text] if defn.help_text else []
    if defn.target and defn.target in objects and access.on(defn.target).read:
        notes.append(f"The id of a '{defn.target}' record.")
    if notes:
        schema["description"] = " ".join(notes)
    return schema


def record_page(item: dict[str, Any]) -> dict[str, Any]:
    return obj(("records", "next_cursor"), records=array(item),
               next_cursor={"type": ["string", "null"], "description": "Pass as 'cursor' for the next page"},
               total={"type": "integer", "minimum": 0, "description": "With count=true: all matching records"})


# -- the endpoints whose bodies do not depend on metadata -------------------------------------

PERMISSIONS = object_schema({p: {"type": "boolean"}
                             for p in ("read", "create", "edit", "delete", "view_all", "modify_all")})
USER = obj(("id", "org_id", "username", "name", "email", "profile", "permission_sets", "active", "has_password",
            "created_at", "last_login_at"),
           id=STRING, org_id=STRING, username=STRING, name=STRING, email={"type": ["string", "null"]},
           profile=STRING, permission_sets=array(STRING), active={"type": "boolean"},
           has_password={"type": "boolean"}, created_at=TIMESTAMP, last_login_at=MAYBE_TIMESTAMP)
API_KEY = obj(("id", "user_id", "username", "name", "created_at", "last_used_at", "revoked_at"),
              id=STRING, user_id=STRING, username=STRING, name=STRING, created_at=TIMESTAMP,
              last_used_at=MAYBE_TIMESTAMP, revoked_at=MAYBE_TIMESTAMP)
_USER_FIELDS = {"username": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9._@+-]{2,79}$"},
                "name": TEXT, "email": {"type": ["string", "null"]}, "profile": TEXT,
                "permission_sets": array(STRING), "password": {"type": "string", "minLength": 10, "maxLength": 1024},
                "active": {"type": "boolean"}}

FIXED_SCHEMAS: dict[str, dict[str, Any]] = {
    "User": USER,
    "ApiKey": API_KEY,
    "NewApiKey": {"allOf": [ref("ApiKey"), obj(("key",), key={"type": "string", "description": "Shown only once"})]},
    "Me": obj(("user", "org", "system_permissions"), user=ref("User"),
              org=obj(("id", "name", "label", "created_at"), id=STRING, name=STRING, label=STRING,
                      created_at=TIMESTAMP),
              system_permissions=array(STRING)),
    "FieldChange": obj(("id", "field", "old_value", "new_value", "changed_at", "changed_by"),
                       id=STRING, field={"type": "string", "description": "The name of the field that changed"},
                       old_value={"description": "The field's value before the change, as records carry it"},
                       new_value={"description": "The field's value after the change"},
                       changed_at=TIMESTAMP, changed_by={"type": "string", "description": "The id of who changed it"}),
    "FieldHistory": obj(("changes", "next_cursor"), changes=array(ref("FieldChange")),
                        next_cursor={"type": ["string", "null"], "description": "Pass as 'cursor' for older changes"}),
    "Plan": obj(("changes", "steps"), changes=array({"type": "object"}), steps=array({"type": "object"}),
                data_losing={"type": "integer"}, refused=array({})),
    "ScriptRun": obj(
        ("id", "script", "kind", "object", "records", "actor", "started_at", "duration_ms", "cpu_ms", "queries",
         "rows", "dml_rows", "output_bytes", "depth", "outcome", "error_code", "error", "line", "log"),
        id=STRING, script={"type": "string", "description": "object.name, or the name of an endpoint"},
        kind={"type": "string", "enum": ["before_save", "after_save", "before_delete", "after_delete", "action",
                                         "endpoint"]},
        object={"type": ["string", "null"]},
        records={"type": "integer", "description": "How many records a trigger's run served (its batch)"},
        actor={"type": "string", "description": "The user the script ran for"}, started_at=TIMESTAMP,
        duration_ms={"type": "integer"}, cpu_ms={"type": "integer"},
        queries={"type": "integer"}, rows={"type": "integer"}, dml_rows={"type": "integer"},
        output_bytes={"type": "integer"}, depth={"type": "integer", "description": "0, or how deeply nested in "
                                                 "other scripts' writes"},
        outcome={"type": "string", "enum": ["ok", "error", "limit"]},
        error_code={"type": ["string", "null"]}, error={"type": ["string", "null"]},
        line={"type": ["integer", "null"]}, log={"type": ["string", "null"], "description": "What it logged"}),
}


def fixed_schemas(readable: list[str]) -> dict[str, dict[str, Any]]:
    """The component schemas of the fixed endpoints (the composite's names the readable objects)."""
    keys = {"object": {"type": "string", "enum": readable}, "id": TEXT, "record": {"type": "object"}, "field": TEXT,
            "value": {}, "version": {"type": "integer"},
            "ref": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$",
                    "description": "Name the result; later operations use \"@{ref.id}\""}}
    operation = {"oneOf": [object_schema({"op": {"const": op}, **{k: v for k, v in keys.items()
                                                                  if k in needed or k in ("ref", "version")}},
                                         ("op", *needed), closed=True)
                           for op, needed in OPERATIONS.items()]}
    result = obj(("ref", "status"), ref={"type": ["string", "null"]}, status={"type": "integer"},
                 record={"type": ["object", "null"]}, error={"type": "object"})
    return {
        **FIXED_SCHEMAS,
        "CompositeRequest": obj(("operations",), closed=True, all_or_none={"type": "boolean", "default": True},
                                operations=array(operation, minItems=1, maxItems=MAX_OPERATIONS)),
        "CompositeResult": obj(("all_or_none", "succeeded", "results"), all_or_none={"type": "boolean"},
                               succeeded={"type": "boolean"}, results=array(result)),
    }


Responses = dict[int, dict[str, dict[str, Any]]]  # status → {media type: schema}; {}: no body


def _reply(schema: dict[str, Any], status: int = 200, media: str = JSON_TYPE) -> Responses:
    return {status: {media: schema}}


@dataclass(frozen=True)
class Endpoint:
    """What the document says of a fixed endpoint: its tag, request body and success responses."""

    tag: str
    request: dict[str, Any] | None = None
    responses: Responses = field(default_factory=lambda: {200: {JSON_TYPE: {"type": "object"}}})
    body_required: bool = True
    #: query parameters: (name, schema, required)
    query: tuple[tuple[str, dict[str, Any], bool], ...] = ()


def unknown_endpoint(path: str, takes_body: bool) -> Endpoint:
    """An endpoint this module does not describe yet: any object in, any success out."""
    return Endpoint(path.strip("/").split("/")[0].removesuffix(".json"), {"type": "object"} if takes_body else None,
                    {200: {}, 201: {}, 202: {}, 204: {}})


_KEY_NAME = obj(("name",), closed=True, name={"type": "string", "pattern": "^[a-z][a-z0-9_]{0,39}$"})

#: the endpoints whose bodies do not depend on metadata, by route name
FIXED_ROUTES: dict[str, Endpoint] = {
    "login": Endpoint("auth", obj(("username", "password"), closed=True, username=TEXT, password=TEXT),
                      _reply({"allOf": [ref("Me"), obj(("csrf_token",), csrf_token=STRING)]})),
    # the host reads a JSON body for every POST: '{}' (or none, refused as 400/415)
    "logout": Endpoint("auth", {"type": "object", "maxProperties": 0}, {204: {}}, body_required=False),
    "me": Endpoint("me", None, _reply(ref("Me"))),
    "my_keys": Endpoint("me", None, _reply(obj(("keys",), keys=array(ref("ApiKey"))))),
    "create_my_key": Endpoint("me", _KEY_NAME, _reply(ref("NewApiKey"), 201)),
    "revoke_my_key": Endpoint("me", None, _reply(ref("ApiKey"))),
    "list_users": Endpoint("users", None, _reply(obj(("users",), users=array(ref("User"))))),
    "create_user": Endpoint("users", object_schema(_USER_FIELDS, ("username",), closed=True),
                            _reply(ref("User"), 201)),
    "get_user": Endpoint("users", None, _reply(ref("User"))),
    "update_user": Endpoint("users", object_schema(_USER_FIELDS, closed=True), _reply(ref("User"))),
    "create_user_key": Endpoint("users", _KEY_NAME, _reply(ref("NewApiKey"), 201)),
    "list_keys": Endpoint("users", None, _reply(obj(("keys",), keys=array(ref("ApiKey"))))),
    "revoke_key": Endpoint("users", None, _reply(ref("ApiKey"))),
    "list_objects": Endpoint("describe", None, _reply(obj(("objects",), objects=array(obj(
        ("name", "label", "plural_label", "permissions"), name=STRING, label=STRING, plural_label=STRING,
        permissions=PERMISSIONS))))),
    "describe_object": Endpoint("describe", None, _reply(obj(
        ("name", "label", "permissions", "fields", "relationships"), name=STRING, label=STRING,
        permissions=PERMISSIONS, fields=array({"type": "object"}), relationships=array({"type": "object"}),
        layouts=array({"type": "object"}), list_views=array({"type": "object"})))),
    "search_records": Endpoint("search", None, _reply(obj(("results",), results=array(obj(
        ("object", "label", "name_field", "records", "more"), object=STRING, label=STRING,
        name_field={"type": ["string", "null"]}, records=array({"type": "object"}), more={"type": "boolean"})))),
        query=(("q", {"type": "string", "minLength": 2, "maxLength": 100}, True),
               ("objects", {"type": "string", "description": "comma-separated object names"}, False),
               ("limit", {"type": "integer", "minimum": 1, "maximum": 50, "default": 5}, False))),
    # an all-or-none batch that failed answers a 400 problem (composite.failed) with the results
    "composite": Endpoint("composite", ref("CompositeRequest"),
                          {200: {JSON_TYPE: ref("CompositeResult")}, 400: {PROBLEM_TYPE: ref("Problem")}}),
    "get_bundle": Endpoint("metadata", None, _reply(obj(("revision", "bundle"), revision={"type": "integer"},
                                                        bundle={"type": "object"}))),
    "plan": Endpoint("metadata", {"type": "object", "description": "A bundle (see /metadata/schemas/bundle)"},
                     _reply(ref("Plan"))),
    "apply": Endpoint("metadata", obj(("bundle",), closed=True, bundle={"type": "object"}, message=STRING,
                                      confirm_data_loss={"type": "boolean", "default": False},
                                      expected_revision={"type": "integer", "minimum": 0}),
                      {status: {JSON_TYPE: obj(("revision", "changed", "plan"), revision={"type": "integer"},
                                               changed={"type": "boolean"}, plan=ref("Plan"))}
                       for status in (200, 201)}),
    "list_revisions": Endpoint("metadata", None, _reply(obj(("revisions",), revisions=array({"type": "object"})))),
    "get_revision": Endpoint("metadata", None, _reply(obj(("number",), number={"type": "integer"}))),
    "list_schemas": Endpoint("metadata", None, _reply(obj(("schemas",), schemas=array(
        obj(("name", "url"), name=STRING, url=STRING))))),
    "get_schema": Endpoint("metadata", None, _reply({"type": "object"}, media="application/schema+json")),
    "get_component": Endpoint("metadata", None, _reply({"type": "object"})),
    "run_action": Endpoint("scripts", {"description": "Any JSON value: the action script's request.body"},
                           {200: {JSON_TYPE: {"description": "What the script responded"}}, 201: {}, 204: {}},
                           body_required=False),
    "custom_get": Endpoint("scripts", None, {200: {JSON_TYPE: {"description": "What the script responded"}},
                                             204: {}}),
    "custom_post": Endpoint("scripts", {"description": "Any JSON value: the endpoint script's request.body"},
                            {200: {JSON_TYPE: {"description": "What the script responded"}}, 201: {}, 204: {}},
                            body_required=False),
    "list_runs": Endpoint("scripts", None, _reply(obj(("runs", "next_cursor"), runs=array(ref("ScriptRun")),
                                                      next_cursor={"type": ["string", "null"]})),
                          query=(("script", STRING, False),
                                 ("outcome", {"type": "string", "enum": ["ok", "error", "limit"]}, False),
                                 ("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}, False),
                                 ("cursor", STRING, False))),
    "openapi_json": Endpoint("documentation", None, _reply(obj(("openapi", "info", "paths")))),
    "docs_page": Endpoint("documentation", None, _reply(STRING, media="text/html")),
}

FIXED_TAGS = {
    "auth": "Log in and out (a session cookie for the browser)",
    "me": "Your account and your API keys",
    "users": "The org's users and API keys (needs manage_users)",
    "describe": "The objects and fields you may use, and what you may do with them",
    "composite": "Up to 200 record operations in one request",
    "search": "Search the records of every searchable object",
    "metadata": "The org's metadata: read, plan, apply, revisions (needs manage_metadata)",
    "scripts": "Action scripts on records, custom endpoints, and the runs log (needs manage_metadata)",
    "documentation": "This document",
}

#: path parameters of fixed routes that take a closed set of values
PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "kind": {"type": "string", "enum": list(KINDS)},
    "number": {"type": "integer", "minimum": 1},
}
#: ... and those that depend on the route (the same name means different things elsewhere)
ROUTE_PATH_PARAMETERS: dict[tuple[str, str], dict[str, Any]] = {
    ("get_schema", "name"): {"type": "string", "enum": list(SCHEMA_NAMES)},
}
