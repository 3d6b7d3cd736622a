"""The pages' host: session sign-in, CSRF on every form, and running page handlers.

    GET  /login    the login form (a login CSRF token in a cookie and the form: double submit)
    POST /login    sign in → a session cookie, then on to ``next`` (a path of this site)
    POST /logout   end the session (its CSRF token in the form)
    /static/...    the stylesheet, the pages' script and the vendored htmx
    ...            every page of ``rapport.admin_ui.routes.PAGE_ROUTES``

A page needs a session: without one it sends the browser to the login page. Every form
post carries the session's CSRF token (``csrf_token``), or is refused with 403; a page that
needs a system permission (the admin UI) answers 403 to anyone without it. Errors are pages
too, never JSON.
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

from starlette.datastructures import ImmutableMultiDict

from rapport.admin_ui.rendering import page
from rapport.admin_ui.routes import PAGE_ROUTES
from rapport.admin_ui.routing import PageRoute
from rapport.platform.errors import Forbidden, PayloadTooLarge, RapportError, TooManyRequests, Unauthorized
from rapport.runtime.permissions import access_for
from rapport.platform.web.gate import SESSION_COOKIE, end_session, set_session_cookie

if TYPE_CHECKING:
    from rapport.platform.web.accounts import Accounts

LOGIN_COOKIE = "rapport_login_csrf"
#: the login form is small; a signed-in user's forms may be as big as an API request body
LOGIN_FORM_BYTES = 64_000
Form = ImmutableMultiDict[str, str]


class Pages:
    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts
        self.users = accounts.users
        self.rapport = accounts.rapport

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/login", self.login_form, methods=["GET"], name="login"),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.signed_in(PageRoute("/logout", self.logout)), methods=["POST"], name="logout"),
            Mount("/static", StaticFiles(packages=[("rapport.admin_ui", "static")]), name="static"),
            *(Route(r.path, self.signed_in(r), methods=list(r.methods)) for r in PAGE_ROUTES),
        ]

    # -- signing in and out --------------------------------------------------------------
    async def login_form(self, request: Request) -> Response:
        return self._login_page(request, next_path=_local(request.query_params.get("next", "/")))

    async def login(self, request: Request) -> Response:
        try:
            form = await _form(request, LOGIN_FORM_BYTES)
        except PayloadTooLarge as error:
            return self._login_page(request, "/", "", _sentence(error.message), error.status)
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
    def signed_in(self, route: PageRoute) -> Callable[[Request], Awaitable[Response]]:
        """``route``'s handler behind the session check, the CSRF check of a form post, and
        the check of the system permission the page needs."""

        async def endpoint(request: Request) -> Response:
            try:
                form = await _form(request, self.rapport.settings.max_body_bytes) \
                    if request.method == "POST" else Form()
                return await run_in_threadpool(self._run, route, request, form)
            except Unauthorized:
                return RedirectResponse(f"/login?next={quote(_local(request.url.path))}", status_code=303)
            except RapportError as error:
                return page(request, "error.html", status=error.status, title=error.title,
                            detail=_sentence(error.message))

        endpoint.__name__ = route.handler.__name__
        return endpoint

    def _run(self, route: PageRoute, request: Request, form: Form) -> Response:
        session = request.cookies.get(SESSION_COOKIE)
        if session is None:
            raise Unauthorized("log in first", code="auth.required")
        principal, csrf = self.users.authenticate_session(session)
        state = request.state
        state.principal, state.csrf_token = principal, csrf
        state.org, state.actor = self.rapport.runtime_of(principal.org), principal.actor
        state.form = form
        if request.method == "POST" and not _same(form.get("csrf_token", ""), csrf):
            raise Forbidden("the form was not sent from a page of this site (its CSRF token is missing or "
                            "stale); go back, reload the page and try again", code="auth.csrf_failed")
        if route.needs is not None:
            access_for(state.org.model(), state.actor).require_system(route.needs)
        return route.handler(request)


async def _form(request: Request, max_bytes: int) -> Form:
    """The posted form's text fields (files are not taken), or 413 above ``max_bytes``."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"the form is larger than {max_bytes} bytes")
    form = await request.form(max_files=0, max_fields=20_000)
    return Form([(k, v) for k, v in form.multi_items() if isinstance(v, str)])


def _same(given: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def _local(path: Any) -> str:
    """``path`` if it is a path of this site, else the home page (no open redirects)."""
    if isinstance(path, str) and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return "/"


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")
