"""The web application factory: the generated API under ``/api/v1``, behind the gate.

Errors become problem+json in one place: Rapport's own errors with their status and code,
Starlette's (unknown path, wrong method) as ``api.not_found`` / ``api.method_not_allowed``,
and anything unexpected as a 500 ``api.internal_error`` naming the request id (and logged).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Mount, Route

from rapport.platform.errors import RapportError
from rapport.platform.ratelimit import RateLimiter, rate_limiter_for
from rapport.platform.web.accounts import Accounts
from rapport.platform.web.gate import Gate
from rapport.platform.web.pages import Pages
from rapport.platform.web.requests_log import RequestLog
from rapport.runtime.api.http import problem_response
from rapport.runtime.api.routes import ROUTES, ApiRoute

if TYPE_CHECKING:
    from rapport.platform.app import Rapport

API_PREFIX = "/api/v1"
LOG = logging.getLogger("rapport.web")


class _HttpError(RapportError):
    """Starlette's routing errors, in Rapport's shape."""


def create_app(rapport: Rapport, *, limiter: RateLimiter | None = None, lifespan: Any = None) -> Starlette:
    # `is None`, not `or`: a MemoryRateLimiter with no keys yet has len() 0, so it is falsy
    gate = Gate(rapport, limiter if limiter is not None else rate_limiter_for(rapport.settings))
    accounts = Accounts(gate)
    api_routes: tuple[ApiRoute, ...] = (*accounts.routes(), *ROUTES)
    routes = [Route(r.path, gate.endpoint(r), methods=[r.method], name=r.name) for r in api_routes]
    app = Starlette(
        routes=[Mount(API_PREFIX, routes=routes), *Pages(accounts).routes()],
        middleware=[Middleware(RequestLog)],
        exception_handlers={RapportError: _rapport_error, HTTPException: _http_error, Exception: _unexpected},
        lifespan=lifespan,
    )
    app.state.rapport = rapport
    app.state.api_routes = api_routes
    app.state.gate = gate
    return app


async def _rapport_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RapportError)
    return problem_response(error, getattr(request.state, "request_id", None))


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if error.status_code == 405:
        problem = _HttpError(f"{request.method} is not allowed on {request.url.path}", code="api.method_not_allowed")
    elif error.status_code == 404:
        problem = _HttpError(f"there is no endpoint {request.url.path}; the API lives under {API_PREFIX}, described "
                             f"by {API_PREFIX}/openapi.json", code="api.not_found")
    else:
        problem = _HttpError(str(error.detail), code="api.http_error")
    problem.status = error.status_code
    response = problem_response(problem, getattr(request.state, "request_id", None))
    if error.headers:
        response.headers.update(error.headers)
    if error.status_code == 405:
        response.headers["Allow"] = _allowed_methods(request)
    return response


def _allowed_methods(request: Request) -> str:
    """Every method served at the request's path: Starlette's ``Allow`` names only those of the
    first route that matches it (``GET, HEAD`` for ``/records/deal``, though POST is served too)."""
    methods: set[str] = set()
    top = {**request.scope, "root_path": request.scope.get("app_root_path", "")}  # as it came to the app
    for mount in request.app.routes:
        match, child_scope = mount.matches(top)
        if match is Match.NONE or not isinstance(mount, Mount):
            continue
        scope = {**top, **child_scope}
        for route in mount.routes:
            if isinstance(route, Route) and route.methods and route.matches(scope)[0] is not Match.NONE:
                methods |= route.methods
    return ", ".join(sorted(methods))


async def _unexpected(request: Request, error: Exception) -> Response:
    request_id = getattr(request.state, "request_id", None)
    LOG.exception("unexpected error in %s %s (request %s)", request.method, request.url.path, request_id)
    problem = _HttpError(f"an unexpected error happened; it has been logged as request {request_id}",
                         code="api.internal_error")
    problem.status = 500
    return problem_response(problem, request_id)
