"""What people do on Rapport's pages, as small steps for the browser tests: log in and out,
review and apply a metadata change, add a field in Setup, read a form field's wrapper.

Every step goes through the page as a person would: links and buttons by their role and
name, inputs by their label; each waits for the page it leads to.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tests.e2e.conftest import snap
from tests.support.api import PASSWORD, ApiUser

#: how the label of a required field reads to ``get_by_label`` (the label's text: the "*" shown
#: to the eye, and "(required)" said to a screen reader)
REQUIRED = " * (required)"


def log_in(page: Any, base_url: str, user: ApiUser, start: str = "/") -> None:
    """Open ``start``, get sent to the login form, log in and come back to ``start``."""
    page.goto(f"{base_url}{start}")
    page.wait_for_url(re.compile(r"/login\?"))
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}{start}")


def log_out(page: Any, base_url: str) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{base_url}/login")


def apply_change(page: Any, shot: str, summary: str, back: str) -> None:
    """On the plan preview of ``summary``: check it, keep a screenshot, apply it and land on
    ``back`` with the notice saying which revision it became."""
    page.get_by_role("heading", name="Review the change").wait_for()
    shown = page.locator(".lead").inner_text()
    assert shown == summary, f"the preview is of {shown!r}, not {summary!r}"
    assert page.get_by_role("heading", name="Steps").is_visible(), "the preview lists the steps"
    assert page.locator("table.steps .badge.data_losing").count() == 0, "an additive change loses no data"
    snap(page, shot)
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(back)
    notice = page.get_by_role("status").first.inner_text()
    assert re.fullmatch(rf"Applied as revision \d+: {re.escape(summary)}\.", notice), notice


def add_field(page: Any, object_url: str, object_label: str, type_label: str, label: str,
              fill_options: Callable[[Any], None] | None = None, *, shot: str) -> None:
    """From the object's Setup page: "New field", its type, the label (the API name follows
    it), the type's options; then review and apply the change."""
    page.get_by_role("link", name="New field").click()
    page.wait_for_url(f"{object_url}/fields/new")
    if not page.get_by_role("link", name=type_label, exact=True).is_visible():
        raise AssertionError(f"the type picker does not offer '{type_label}'")
    page.get_by_role("link", name=type_label, exact=True).click()
    page.wait_for_url(f"{object_url}/fields/new?type=*")
    page.get_by_role("heading", name=f"New {type_label.lower()} field").wait_for()
    page.get_by_label("Label" + REQUIRED, exact=True).fill(label)
    if fill_options is not None:
        fill_options(page)
    snap(page, shot)
    page.get_by_role("button", name="Review the change").click()
    apply_change(page, f"{shot}-preview", f"Add field '{label}' to {object_label}", object_url)
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=label, exact=True))
    assert row.count() == 1, f"the object page lists field '{label}' once"


def wrapper_of(page: Any, label: str) -> Any:
    """The ``.field`` wrapper of a form's input labelled ``label``: its label, control, help
    and the error message shown at it."""
    return page.locator("div.field").filter(has=page.get_by_label(label, exact=True))


def column_texts(page: Any, column: int = 0) -> list[str]:
    """The texts of one column of a list page's records table."""
    cells = page.locator(f"table.records tbody tr td:nth-child({column + 1})")
    return [str(text).strip() for text in cells.all_inner_texts()]
