"""The Jinja2 environment of every page, one function to answer a page, and one to send the
browser on with a notice for the next page ("Saved.")."""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import quote, unquote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from rapport.runtime.permissions import SYSTEM_PERMISSIONS, access_for

#: the vendored htmx, served from /static (see static/htmx.LICENSE)
HTMX_VERSION = "2.0.11"
NOTICE_COOKIE = "rapport_notice"


@cache
def environment() -> Environment:
    return Environment(loader=PackageLoader("rapport.admin_ui", "templates"),
                       autoescape=select_autoescape(default=True), undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True)


def page(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """``template`` rendered with ``context``, the signed-in user (if any), their CSRF token
    and the notice the previous page left (shown once)."""
    state = request.state
    notice = request.cookies.get(NOTICE_COOKIE)
    html = environment().get_template(template).render(
        user=getattr(state, "principal", None), csrf_token=getattr(state, "csrf_token", ""),
        can=_system_permissions(state), htmx_version=HTMX_VERSION, notice=unquote(notice) if notice else None,
        **context)
    response = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
    if notice:
        response.delete_cookie(NOTICE_COOKIE, path="/")
    return response


def _system_permissions(state: Any) -> dict[str, bool]:
    """Which system permissions the signed-in user has (for the header's links)."""
    org, actor = getattr(state, "org", None), getattr(state, "actor", None)
    if org is None or actor is None:
        return {}
    grants = access_for(org.model(), actor).grants
    return {name: grants.has(name) for name in SYSTEM_PERMISSIONS}


def fragment(template: str, **context: Any) -> HTMLResponse:
    """A piece of a page (for htmx to swap in), without the page around it."""
    html = environment().get_template(template).render(**context)
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


def redirect(request: Request, location: str, notice: str | None = None) -> RedirectResponse:
    """Send the browser to ``location`` (after a form post: 303), showing ``notice`` there."""
    response = RedirectResponse(location, status_code=303)
    if notice:
        response.set_cookie(NOTICE_COOKIE, quote(notice), httponly=True, samesite="lax", path="/",
                            secure=request.url.scheme == "https", max_age=60)
    return response
