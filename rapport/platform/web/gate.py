"""Every API request passes the gate: who is calling (API key, or session cookie plus CSRF
token), within which limits, on behalf of which org. Then the handler runs, in a worker
thread (the services are synchronous), with ``request.state.org`` and ``.actor`` set.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from rapport.platform.errors import Forbidden, RapportError, TooManyRequests, Unauthorized
from rapport.platform.ratelimit import RateLimiter
from rapport.platform.users import Principal
from rapport.runtime.api.http import read_json
from rapport.runtime.api.routes import ApiRoute

if TYPE_CHECKING:
    from rapport.platform.app import Rapport

SESSION_COOKIE = "rapport_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MINUTE = 60


class Gate:
    def __init__(self, rapport: Rapport, limiter: RateLimiter) -> None:
        self.rapport = rapport
        self.settings = rapport.settings
        self.limiter = limiter

    def endpoint(self, route: ApiRoute) -> Callable[[Request], Awaitable[Response]]:
        """The Starlette endpoint for ``route``: body read here, the rest in a worker thread."""
        max_bytes = self.settings.max_body_bytes

        async def endpoint(request: Request) -> Response:
            body: Any = None
            body_error: RapportError | None = None
            if route.takes_body and not (route.optional_body and _no_body(request)):
                try:
                    body = await read_json(request, max_bytes=max_bytes)
                except RapportError as error:
                    body_error = error
            return await run_in_threadpool(self._run, route, request, body, body_error)

        endpoint.__name__ = route.name
        return endpoint

    def _run(self, route: ApiRoute, request: Request, body: Any, body_error: RapportError | None) -> Response:
        if not route.public:
            self.admit(request)
        if body_error is not None:  # after authentication: a stranger learns nothing from a 400
            raise body_error
        return route.handler(request, body)

    def admit(self, request: Request) -> Principal:
        principal, key_id = self.authenticate(request)
        self.check_limits(principal, key_id)
        request.state.principal = principal
        request.state.org = self.rapport.runtime_of(principal.org)
        request.state.actor = principal.actor
        return principal

    def authenticate(self, request: Request) -> tuple[Principal, str | None]:
        header = request.headers.get("authorization")
        users = self.rapport.users
        if header is not None:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized("the Authorization header must be 'Bearer <API key>'", code="auth.bad_header")
            token = token.strip()
            return users.authenticate_key(token), _key_id(token)
        session = request.cookies.get(SESSION_COOKIE)
        if session is None:
            raise Unauthorized("authentication required: send 'Authorization: Bearer <API key>', or log in "
                               "(POST /api/v1/auth/login) for a session cookie", code="auth.required")
        principal, csrf = users.authenticate_session(session)
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), csrf.encode()):
                raise Forbidden(f"a request with a session cookie that changes data needs the header "
                                f"'{CSRF_HEADER}' with the csrf_token from login", code="auth.csrf_failed")
        return principal, None

    def check_limits(self, principal: Principal, key_id: str | None) -> None:
        per_key, per_org = self.settings.rate_limit_key_per_minute, self.settings.rate_limit_org_per_minute
        if key_id is not None and per_key:
            self._hit(f"key:{key_id}", per_key, "this API key")
        if per_org:
            self._hit(f"org:{principal.org.id}", per_org, f"org '{principal.org.name}'")

    def _hit(self, key: str, limit: int, whose: str) -> None:
        decision = self.limiter.hit(key, limit, MINUTE)
        if not decision.allowed:
            raise TooManyRequests(f"{whose} has made more than {limit} requests in a minute; "
                                  f"try again in {decision.retry_after} s", retry_after=decision.retry_after)


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    """The session cookie of a new login (API or login page): HttpOnly, SameSite=Lax, Secure over HTTPS."""
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", path="/",
                        secure=request.url.scheme == "https")


def end_session(users: Any, request: Request, response: Response) -> None:
    """End the request's session (if any) and have the browser forget its cookie."""
    session = request.cookies.get(SESSION_COOKIE)
    if session is not None:
        users.end_session(session)
    response.delete_cookie(SESSION_COOKIE, path="/")


def _no_body(request: Request) -> bool:
    return "content-type" not in request.headers and request.headers.get("content-length", "0") == "0"


def _key_id(token: str) -> str:
    parts = token.split("_")
    return parts[1] if len(parts) >= 3 else token[:16]
