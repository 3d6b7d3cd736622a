"""The generated API's routes, relative to ``/api/v1``: one table, read by the host (which
authenticates and runs each handler) and by the OpenAPI generator.

A handler is a plain function ``(request, body) -> Response``: ``body`` is the parsed JSON
body for methods that take one (``None`` otherwise). The host sets ``request.state.org``
and ``request.state.actor`` from the credential before calling it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from rapport.runtime.api import composite, describe, metadata, openapi, records, scripts, search

Handler = Callable[[Request, Any], Response]


@dataclass(frozen=True)
class ApiRoute:
    path: str
    method: str
    handler: Handler
    summary: str
    #: served without a credential (login, the API document)
    public: bool = False
    #: the JSON body may be left out (the handler gets ``None``), e.g. logout
    optional_body: bool = False

    @property
    def name(self) -> str:
        return self.handler.__name__

    @property
    def takes_body(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH")


ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute("/objects", "GET", describe.list_objects, "The objects you may read, with your permissions on each"),
    ApiRoute("/objects/{object}", "GET", describe.describe_object,
             "An object's fields, relationships, layouts and list views, as you may see them"),
    ApiRoute("/records/{object}", "GET", records.list_records, "List records: filter, fields, sort, cursor, count"),
    ApiRoute("/records/{object}", "POST", records.create_record, "Create a record"),
    ApiRoute("/records/{object}/by/{field}/{value}", "PUT", records.upsert_record,
             "Create or update the record with this external id"),
    ApiRoute("/records/{object}/{id}", "GET", records.get_record, "Read a record"),
    ApiRoute("/records/{object}/{id}", "PATCH", records.update_record, "Update some fields of a record"),
    ApiRoute("/records/{object}/{id}", "DELETE", records.delete_record, "Delete a record"),
    ApiRoute("/records/{object}/{id}/related/{relationship}", "GET", records.related_records,
             "A record's related records through a relationship"),
    ApiRoute("/records/{object}/{id}/history", "GET", records.record_history,
             "A record's field history, newest first"),
    ApiRoute("/records/{object}/{id}/actions/{name}", "POST", scripts.run_action,
             "Run an action script on a record", optional_body=True),
    ApiRoute("/custom/{name}", "GET", scripts.custom_get, "Call a custom endpoint (an endpoint script)"),
    ApiRoute("/custom/{name}", "POST", scripts.custom_post, "Call a custom endpoint with a JSON body",
             optional_body=True),
    ApiRoute("/scripts/runs", "GET", scripts.list_runs, "The org's script runs, newest first"),
    ApiRoute("/search", "GET", search.search_records, "Search the records of every searchable object"),
    ApiRoute("/composite", "POST", composite.composite, "Up to 200 record operations, all-or-none or independent"),
    ApiRoute("/metadata", "GET", metadata.get_bundle, "The org's metadata bundle and revision"),
    ApiRoute("/metadata/plan", "POST", metadata.plan, "What applying a bundle would change (changes nothing)"),
    ApiRoute("/metadata/apply", "POST", metadata.apply, "Apply a bundle in one transaction"),
    ApiRoute("/metadata/revisions", "GET", metadata.list_revisions, "The org's metadata revisions"),
    ApiRoute("/metadata/revisions/{number:int}", "GET", metadata.get_revision, "One revision with its bundle and plan"),
    ApiRoute("/metadata/schemas", "GET", metadata.list_schemas, "The JSON Schemas of the metadata format"),
    ApiRoute("/metadata/schemas/{name}", "GET", metadata.get_schema, "One JSON Schema of the metadata format"),
    ApiRoute("/metadata/{kind}/{name}", "GET", metadata.get_component, "One metadata component"),
    ApiRoute("/openapi.json", "GET", openapi.openapi_json, "This API's OpenAPI 3.1 document, as you may use it"),
    ApiRoute("/docs", "GET", openapi.docs_page, "This API's documentation as an HTML page"),
)
