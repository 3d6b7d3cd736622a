"""Script endpoints: actions on a record, the org's custom endpoints, and the runs log.

    POST /records/{object}/{id}/actions/{name}   run action script ``name`` on a record you may read
    GET  /custom/{name}                          run endpoint script ``name`` (query parameters → request.query)
    POST /custom/{name}                          ... with a JSON body (→ request.body; optional)
    GET  /scripts/runs                           the org's script runs, newest first (manage_metadata)

Actions and endpoints run with the caller's permissions (or the system's, for a script that
says ``"run_as": "system"``) in one transaction; what the script passes to ``respond`` is the
answer (204 when it responds nothing). A script's failure is a problem+json naming the script
and the line, and nothing it wrote is kept. See docs/scripts.md.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from rapport.runtime.fields.temporal import utc_iso
from rapport.runtime.api.http import JSONResponse, actor, check_params, int_param, org
from rapport.runtime.permissions import access_for
from rapport.runtime.script_host import run_action as run_action_script
from rapport.runtime.script_host import run_endpoint

RUN_PARAMS = ("script", "outcome", "limit", "cursor")
MAX_RUNS_PAGE = 200
#: query parameters an endpoint script may get (each at most once; their values are text)
MAX_QUERY_PARAMS = 50


def run_action(request: Request, body: Any) -> Response:
    check_params(request, ())
    name, record_id, action = (request.path_params[k] for k in ("object", "id", "name"))
    response, status = run_action_script(org(request), actor(request), name, record_id, action, body)
    return _answer(response, status)


def custom_get(request: Request, body: Any) -> Response:
    return _endpoint(request, "GET", None)


def custom_post(request: Request, body: Any) -> Response:
    return _endpoint(request, "POST", body)


def list_runs(request: Request, body: Any) -> Response:
    params = check_params(request, RUN_PARAMS)
    runtime = org(request)
    access_for(runtime.model(), actor(request)).require_system("manage_metadata")
    limit = int_param(params, "limit") or 50
    limit = max(1, min(limit, MAX_RUNS_PAGE))
    runs, cursor = runtime.scripts.runs.page(runtime.location.org_id, script=params.get("script"),
                                             outcome=params.get("outcome"), limit=limit,
                                             cursor=params.get("cursor"))
    for run in runs:
        run["started_at"] = utc_iso(run["started_at"])
    return JSONResponse({"runs": runs, "next_cursor": cursor})


def _endpoint(request: Request, method: str, body: Any) -> Response:
    query = {key: value for key, value in list(request.query_params.items())[:MAX_QUERY_PARAMS]}
    response, status = run_endpoint(org(request), actor(request), request.path_params["name"], method, query, body)
    return _answer(response, status)


def _answer(response: Any, status: int) -> Response:
    if response is None and status == 200:
        return Response(status_code=204)
    return JSONResponse(response, status_code=status)
