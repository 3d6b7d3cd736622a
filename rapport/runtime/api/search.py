"""Global search across the org's searchable objects.

    GET /search?q=acme&objects=account,contact&limit=5

The answer: ``{"results": [{"object", "label", "name_field", "records", "more"}]}``, one entry per
object with matches (see :mod:`rapport.runtime.search`).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from rapport.platform.errors import InvalidRequest
from rapport.runtime.api.http import JSONResponse, actor, check_params, int_param, list_param, org
from rapport.runtime.search import search

MAX_PER_OBJECT = 50


def search_records(request: Request, body: Any) -> Response:
    params = check_params(request, ("q", "objects", "limit"))
    limit = int_param(params, "limit")
    if limit is not None and not 1 <= limit <= MAX_PER_OBJECT:
        raise InvalidRequest(f"'limit' is the number of records per object, 1 to {MAX_PER_OBJECT}",
                             code="api.bad_parameter")
    groups = search(org(request), actor(request), params.get("q", ""), limit=limit or 5,
                    objects=list_param(params, "objects"))
    return JSONResponse({"results": [group.to_dict() for group in groups]})
