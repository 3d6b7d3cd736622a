"""Metadata endpoints (callers need the system permission ``manage_metadata``).

    GET  /metadata                           the org's bundle and its revision
    GET  /metadata/{kind}/{name}             one component: objects/deal, layouts/deal.default, profiles/rep …
    POST /metadata/plan                      what applying a bundle would do (nothing is changed)
    POST /metadata/apply                     apply a bundle in one transaction → the new revision
    GET  /metadata/revisions                 every revision, newest last
    GET  /metadata/revisions/{number}        one revision with its bundle and plan
    GET  /metadata/schemas                   the JSON Schemas of the metadata format
    GET  /metadata/schemas/{name}            one JSON Schema (bundle, object, field, …)
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from rapport.metadata import SCHEMA_NAMES, schema
from rapport.metadata.model import COMPONENT_KINDS
from rapport.platform.errors import InvalidRequest, NotFound
from rapport.runtime.api.http import JSONResponse, actor, check_params, json_object, org
from rapport.runtime.permissions import access_for

KINDS = ("objects", "layouts", "list_views", *COMPONENT_KINDS)


def _admin(request: Request) -> Any:
    runtime = org(request)
    access_for(runtime.model(), actor(request)).require_system("manage_metadata")
    return runtime


def get_bundle(request: Request, body: Any) -> Response:
    check_params(request, ())
    runtime = _admin(request)
    revisions = runtime.metadata.revisions()
    return JSONResponse({"revision": revisions[-1].number if revisions else 0,
                         "bundle": runtime.metadata.bundle().to_dict()})


def get_component(request: Request, body: Any) -> Response:
    check_params(request, ())
    runtime = _admin(request)
    kind, name = request.path_params["kind"], request.path_params["name"]
    if kind not in KINDS:
        raise NotFound(f"there is no kind of metadata {kind!r}; kinds are {', '.join(KINDS)}",
                       code="metadata.unknown_kind")
    bundle = runtime.metadata.bundle()
    for component in getattr(bundle, kind):
        key = component.name if kind == "objects" else component.key
        if key == name:
            return JSONResponse(component.to_dict())
    raise NotFound(f"the org's metadata has no {kind[:-1].replace('_', ' ')} {name!r}",
                   code="metadata.component_not_found")


def plan(request: Request, body: Any) -> Response:
    bundle = json_object(body, "a bundle")
    check_params(request, ())
    runtime = _admin(request)
    return JSONResponse(runtime.metadata.plan(bundle).to_dict())


def apply(request: Request, body: Any) -> Response:
    body = json_object(body, "the request")
    check_params(request, ())
    unknown = sorted(set(body) - {"bundle", "message", "confirm_data_loss", "expected_revision"})
    if unknown or "bundle" not in body:
        problem = f"unexpected {', '.join(map(repr, unknown))}" if unknown else "'bundle' is missing"
        raise InvalidRequest('apply takes {"bundle": {...}, "message": "...", "confirm_data_loss": false, '
                             '"expected_revision": 4}; ' + problem, code="api.bad_body")
    message, confirm = body.get("message", ""), body.get("confirm_data_loss", False)
    expected = body.get("expected_revision")
    if not isinstance(message, str) or not isinstance(confirm, bool) or not (
            expected is None or (type(expected) is int and expected >= 0)):
        raise InvalidRequest("'message' is a string, 'confirm_data_loss' true or false and 'expected_revision' "
                             "a revision number", code="api.bad_body")
    runtime = _admin(request)
    applied = runtime.metadata.apply(body["bundle"], author=actor(request).name, message=message,
                                     confirm_data_loss=confirm, expected_revision=expected)
    revision = applied.revision.number if applied.revision else runtime.metadata.revisions()[-1].number
    return JSONResponse({"revision": revision, "changed": applied.revision is not None,
                         "plan": applied.plan.to_dict()}, status_code=201 if applied.revision else 200)


def list_revisions(request: Request, body: Any) -> Response:
    check_params(request, ())
    runtime = _admin(request)
    return JSONResponse({"revisions": [_revision(r, full=False) for r in runtime.metadata.revisions()]})


def get_revision(request: Request, body: Any) -> Response:
    check_params(request, ())
    runtime = _admin(request)
    number: int = request.path_params["number"]
    if not 0 < number < 2**31:
        raise NotFound(f"the org has no revision {number}", code="metadata.revision_not_found")
    return JSONResponse(_revision(runtime.metadata.revision(number), full=True))


def list_schemas(request: Request, body: Any) -> Response:
    check_params(request, ())
    return JSONResponse({"schemas": [{"name": name, "url": str(request.url_for("get_schema", name=name).path)}
                                     for name in SCHEMA_NAMES]})


def get_schema(request: Request, body: Any) -> Response:
    check_params(request, ())
    name = request.path_params["name"].removesuffix(".json")
    if name not in SCHEMA_NAMES:
        raise NotFound(f"there is no metadata schema {name!r}; schemas are {', '.join(SCHEMA_NAMES)}",
                       code="metadata.unknown_schema")
    return JSONResponse(schema(name), media_type="application/schema+json")


def _revision(revision: Any, *, full: bool) -> dict[str, Any]:
    data = revision.summary()
    if full:
        data.update(bundle=revision.bundle, plan=revision.plan)
    return data

