"""Driving the pages as a browser would, without one: log in, read a form's CSRF token, post forms."""

from __future__ import annotations

import re
from typing import Any

from starlette.testclient import TestClient

from tests.support.api import PASSWORD, ApiOrg, ApiUser


def token_in(html: str) -> str:
    """The CSRF token of the first form in ``html``."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def log_in(org: ApiOrg, user: ApiUser, next_path: str = "/") -> tuple[TestClient, Any]:
    """A browser signed in as ``user`` (made with ``password=PASSWORD``), and the login's answer."""
    browser = org.client()
    form = browser.get(f"/login?next={next_path}")
    answer = browser.post("/login", data={"username": user.username, "password": PASSWORD,
                                          "csrf_token": token_in(form.text), "next": next_path},
                          follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return browser, answer


def browser_for(org: ApiOrg, user: ApiUser) -> TestClient:
    return log_in(org, user)[0]


def submit(browser: TestClient, page_path: str, action: str | None = None, data: dict[str, Any] | None = None,
           **kwargs: Any) -> Any:
    """Open ``page_path``, then post ``data`` (with the page's CSRF token) to ``action``
    (default: the same path), as a browser submitting the page's form would."""
    opened = browser.get(page_path)
    assert opened.status_code == 200, opened.text
    return browser.post(action or page_path, data={"csrf_token": token_in(opened.text), **(data or {})}, **kwargs)
