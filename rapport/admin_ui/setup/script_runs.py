"""``GET /admin/scripts``: the org's scripts and the log of their runs.

Each script of the metadata (kind, object, whether active, whose permissions it runs with),
and the runs log newest first — script, kind, records, who, when, duration, CPU, queries,
rows, writes, output, outcome and the error with its line — filtered by script and outcome,
a page at a time (``?cursor=``). Reads the same log as ``GET /api/v1/scripts/runs``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from rapport.admin_ui.rendering import page
from rapport.admin_ui.routing import PageRoute
from rapport.platform.errors import InvalidRequest
from rapport.sandbox.runs import OUTCOMES

PAGE = 50


def script_runs(request: Request) -> Response:
    runtime = request.state.org
    params = request.query_params
    script, outcome = params.get("script") or None, params.get("outcome") or None
    scripts = [s.to_dict() for s in runtime.metadata.bundle().scripts]
    error = None
    try:
        runs, cursor = runtime.scripts.runs.page(runtime.location.org_id, script=script, outcome=outcome,
                                                 limit=PAGE, cursor=params.get("cursor") or None)
    except InvalidRequest as refused:
        runs, cursor, error = [], None, refused.message[:1].upper() + refused.message[1:] + "."
    filters = {k: v for k, v in (("script", script), ("outcome", outcome)) if v}
    return page(request, "admin/script_runs.html", status=400 if error else 200, scripts=scripts,
                runs=[_shown(run) for run in runs], script=script or "", outcome=outcome or "",
                outcomes=OUTCOMES, error=error,
                next_url=f"/admin/scripts?{urlencode({**filters, 'cursor': cursor})}" if cursor else None,
                first_url=f"/admin/scripts?{urlencode(filters)}" if params.get("cursor") else None)


def _shown(run: dict[str, Any]) -> dict[str, Any]:
    started = run["started_at"]
    return {**run, "started": started.strftime("%Y-%m-%d %H:%M:%S UTC") if hasattr(started, "strftime") else started}


ROUTES = [PageRoute("/admin/scripts", script_runs, needs="manage_metadata")]
