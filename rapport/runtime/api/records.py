"""Record endpoints: one generic handler per operation; the object is looked up per request.

    GET    /records/{object}                       list (filter, fields, sort, limit, cursor, count)
    POST   /records/{object}                       create                         → 201, Location, ETag
    GET    /records/{object}/{id}                  read                           → ETag
    PATCH  /records/{object}/{id}                  update (partial; If-Match)     → ETag, or 412
    DELETE /records/{object}/{id}                  delete (If-Match)              → 204, or 412
    PUT    /records/{object}/by/{field}/{value}    upsert by external id          → 201 or 200
    GET    /records/{object}/{id}/related/{name}   the records of a related list (same parameters as list)
    GET    /records/{object}/{id}/history          field history, newest first (limit, cursor)
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from rapport.platform.errors import InvalidRequest, NotFound
from rapport.runtime.api.http import (
    JSONResponse, actor, bool_param, check_params, etag, expected_version, int_param, json_object, json_param,
    list_param, org,
)
from rapport.runtime.query import QuerySpec

LIST_PARAMS = ("filter", "fields", "sort", "limit", "cursor", "count", "include_deleted")


def _spec(request: Request, object_name: str, extra_filter: Any = None) -> QuerySpec:
    params = check_params(request, LIST_PARAMS)
    tree = json_param(params, "filter")
    if extra_filter is not None:
        tree = extra_filter if tree is None else {"and": [extra_filter, tree]}
    return QuerySpec(object_name, filter=tree, fields=list_param(params, "fields"),
                     sort=list_param(params, "sort") or (), limit=int_param(params, "limit"),
                     cursor=params.get("cursor"), count=bool_param(params, "count"),
                     include_deleted=bool_param(params, "include_deleted"))


def _page(request: Request, spec: QuerySpec, tx: Any = None) -> Response:
    result = org(request).query(spec, tx, actor=actor(request))
    body: dict[str, Any] = {"records": result.records, "next_cursor": result.next_cursor}
    if spec.count:
        body["total"] = result.total
    return JSONResponse(body)


def list_records(request: Request, body: Any) -> Response:
    return _page(request, _spec(request, request.path_params["object"]))


def create_record(request: Request, body: Any) -> Response:
    values = json_object(body, "a record")
    check_params(request, ())
    name = request.path_params["object"]
    record = org(request).records(actor(request)).create(name, values)
    return _record_response(request, name, record, status=201)


def get_record(request: Request, body: Any) -> Response:
    check_params(request, ("include_deleted",))
    name, record_id = request.path_params["object"], request.path_params["id"]
    record = org(request).records(actor(request)).get(
        name, record_id, include_deleted=bool_param(request.query_params, "include_deleted"))
    return _record_response(request, name, record)


def update_record(request: Request, body: Any) -> Response:
    values = json_object(body, "a record")
    check_params(request, ())
    name, record_id = request.path_params["object"], request.path_params["id"]
    version = expected_version(request, values.pop("version", None))
    record = org(request).records(actor(request)).update(name, record_id, values, expected_version=version)
    return _record_response(request, name, record)


def delete_record(request: Request, body: Any) -> Response:
    check_params(request, ())
    name, record_id = request.path_params["object"], request.path_params["id"]
    org(request).records(actor(request)).delete(name, record_id, expected_version=expected_version(request))
    return Response(status_code=204)


def upsert_record(request: Request, body: Any) -> Response:
    values = json_object(body, "a record")
    check_params(request, ())
    name, field, key = (request.path_params[k] for k in ("object", "field", "value"))
    values.pop("version", None)
    record, created = org(request).records(actor(request)).upsert(name, field, key, values)
    return _record_response(request, name, record, status=201 if created else 200)


def related_records(request: Request, body: Any) -> Response:
    """A parent's children through a relationship: its ``relationship_name``, or the child
    object's name (add ``.field`` when the child has several lookups to the parent)."""
    name, record_id, relationship = (request.path_params[k] for k in ("object", "id", "relationship"))
    runtime = org(request)
    with runtime.reading() as tx:  # one revision, one connection for the three steps
        runtime.records(actor(request), tx).get(name, record_id)  # the parent must exist and be visible
        child, field = _relationship(tx.model, name, relationship)
        spec = _spec(request, child, {"field": field, "op": "eq", "value": record_id})
        return _page(request, spec, tx)


def record_history(request: Request, body: Any) -> Response:
    """The record's tracked field changes the caller may see, newest first, a page at a time."""
    params = check_params(request, ("limit", "cursor"))
    name, record_id = request.path_params["object"], request.path_params["id"]
    page = org(request).records(actor(request)).history(name, record_id, limit=int_param(params, "limit"),
                                                        cursor=params.get("cursor"))
    return JSONResponse({"changes": page.changes, "next_cursor": page.next_cursor})


def _relationship(model: Any, parent: str, relationship: str) -> tuple[str, str]:
    children = model.object(parent).children
    matches = [(c, f.name) for c, f in children if f.defn.relationship_name == relationship]
    if not matches:
        child, _, field = relationship.partition(".")
        matches = [(c, f.name) for c, f in children if c == child and (not field or f.name == field)]
    if len(matches) == 1:
        return matches[0]
    names = sorted({f.defn.relationship_name or f"{c}.{f.name}" for c, f in children})
    if len(matches) > 1:
        options = ", ".join(repr(f"{c}.{f}") for c, f in matches)
        raise InvalidRequest(f"object '{relationship}' points at '{parent}' through several fields; name one: "
                             f"{options}", code="records.ambiguous_relationship")
    raise NotFound(f"object '{parent}' has no relationship {relationship!r}; its relationships are "
                   f"{', '.join(repr(n) for n in names) or 'none'}", code="records.unknown_relationship")


def _record_response(request: Request, object_name: str, record: dict[str, Any], status: int = 200) -> Response:
    headers = {"ETag": etag(record["version"])}
    if status == 201:  # the path of get_record, built directly (url_for walks every route)
        headers["Location"] = f"{request.scope.get('root_path', '')}/records/{object_name}/{record['id']}"
    return JSONResponse(record, status_code=status, headers=headers)
