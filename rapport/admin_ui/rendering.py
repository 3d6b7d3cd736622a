"""The Jinja2 environment of every page, and one function to answer a page."""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

#: the vendored htmx, served from /static (see static/htmx.LICENSE)
HTMX_VERSION = "2.0.11"


@cache
def environment() -> Environment:
    return Environment(loader=PackageLoader("rapport.admin_ui", "templates"),
                       autoescape=select_autoescape(default=True), undefined=StrictUndefined)


def page(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """``template`` rendered with ``context``, the signed-in user (if any) and their CSRF token."""
    state = request.state
    html = environment().get_template(template).render(
        user=getattr(state, "principal", None), csrf_token=getattr(state, "csrf_token", ""),
        htmx_version=HTMX_VERSION, **context)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
