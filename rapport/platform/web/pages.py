"""The pages' host: session sign-in, CSRF on every form, and running page handlers.

    GET  /login    the login form (a login CSRF token in a cookie and the form: double submit)
    POST /login    sign in → a session cookie, then on to ``next`` (a path of this site)
    POST /logout   end the session (its CSRF token in the form)
    GET  /         the home page (``rapport.admin_ui.home``)
    /static/...    the stylesheet and the vendored htmx

A page needs a session: without one it sends the browser to the login page. Every form
post carries the session's CSRF token (``csrf_token``), or is refused with 403. Errors are
pages too, never JSON.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from rapport.admin_ui.home import home
from rapport.admin_ui.rendering import page
from rapport.platform.errors import Forbidden, RapportError, TooManyRequests, Unauthorized
from rapport.platform.web.gate import SESSION_COOKIE, end_session, set_session_cookie

if TYPE_CHECKING:
    from rapport.platform.web.accounts import Accounts

LOGIN_COOKIE = "rapport_login_csrf"
MAX_FORM_BYTES = 64_000
PageHandler = Callable[[Request], Response]


class Pages:
    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts
        self.users = accounts.users
        self.rapport = accounts.rapport

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.signed_in(home), methods=["GET"], name="home"),
            Route("/login", self.login_form, methods=["GET"], name="login"),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.signed_in(self.logout), methods=["POST"], name="logout"),
            Mount("/static", StaticFiles(packages=[("rapport.admin_ui", "static")]), name="static"),
        ]

    # -- signing in and out --------------------------------------------------------------
    async def login_form(self, request: Request) -> Response:
        return self._login_page(request, next_path=_local(request.query_params.get("next", "/")))

    async def login(self, request: Request) -> Response:
        form = await _form(request)
        next_path = _local(form.get("next", "/"))
        username, password = form.get("username", ""), form.get("password", "")
        if not _same(form.get("csrf_token", ""), request.cookies.get(LOGIN_COOKIE, "")):
            return self._login_page(request, next_path, username, "The form expired; please log in again.", 403)
        client = request.client.host if request.client else "unknown"
        try:
            _, token, _ = await run_in_threadpool(self.accounts.sign_in, username, password, client)
        except (Unauthorized, TooManyRequests) as error:
            return self._login_page(request, next_path, username, _sentence(error.message), error.status)
        response = RedirectResponse(next_path, status_code=303)
        set_session_cookie(response, request, token)
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response

    def logout(self, request: Request) -> Response:
        response = RedirectResponse("/login", status_code=303)
        end_session(self.users, request, response)
        return response

    def _login_page(self, request: Request, next_path: str, username: str = "", error: str | None = None,
                    status: int = 200) -> Response:
        token = secrets.token_urlsafe(32)
        response = page(request, "login.html", status=status, login_token=token, next=next_path,
                        username=username, error=error)
        response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/login",
                            secure=request.url.scheme == "https")
        return response

    # -- pages of a signed-in user -------------------------------------------------------
    def signed_in(self, handler: PageHandler) -> Callable[[Request], Awaitable[Response]]:
        """``handler`` behind the session check (and, for a form post, the CSRF check)."""

        async def endpoint(request: Request) -> Response:
            form = await _form(request) if request.method == "POST" else {}
            try:
                return await run_in_threadpool(self._run, handler, request, form)
            except Unauthorized:
                return RedirectResponse(f"/login?next={quote(_local(request.url.path))}", status_code=303)
            except RapportError as error:
                return page(request, "error.html", status=error.status, title=error.title,
                            detail=_sentence(error.message))

        endpoint.__name__ = handler.__name__
        return endpoint

    def _run(self, handler: PageHandler, request: Request, form: dict[str, str]) -> Response:
        session = request.cookies.get(SESSION_COOKIE)
        if session is None:
            raise Unauthorized("log in first", code="auth.required")
        principal, csrf = self.users.authenticate_session(session)
        state = request.state
        state.principal, state.csrf_token = principal, csrf
        state.org, state.actor = self.rapport.runtime_of(principal.org), principal.actor
        if request.method == "POST" and not _same(form.get("csrf_token", ""), csrf):
            raise Forbidden("the form was not sent from a page of this site (its CSRF token is missing or "
                            "stale); go back, reload the page and try again", code="auth.csrf_failed")
        return handler(request)


async def _form(request: Request) -> dict[str, str]:
    """The posted form's text fields (at most ``MAX_FORM_BYTES``; files are not taken)."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        return {}
    form = await request.form(max_files=0, max_fields=200)
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _same(given: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def _local(path: Any) -> str:
    """``path`` if it is a path of this site, else the home page (no open redirects)."""
    if isinstance(path, str) and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return "/"


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")
