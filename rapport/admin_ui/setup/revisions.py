"""The revision history of an org's metadata, each revision's changes, and reverting to one.

    GET  /admin/revisions                 every revision: number, when, author, message, steps
    GET  /admin/revisions/{n}             what revision n changed and the steps it applied
    GET  /admin/revisions/{n}/revert      the plan preview of reverting to revision n
    POST /admin/revisions/{n}/revert      revert (from the preview's form)

Reverting goes through the plan preview like every change (``metadata_changes``), planned by
revision number so that renames made since are undone as renames.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from rapport.admin_ui.metadata_changes import ADMIN, apply_revert, current_revision, propose_revert
from rapport.admin_ui.rendering import page
from rapport.admin_ui.routing import PageRoute
from rapport.metadata.diff import Change, ComponentChanged
from rapport.metadata.revisions import Revision

LIST_URL = "/admin/revisions"
SAFETY_LABELS = {"safe": "safe", "converting": "converting", "data_losing": "data-losing"}


def revisions(request: Request) -> Response:
    history = request.state.org.metadata.revisions()
    return page(request, "admin/revisions.html", revisions=[_summary(r) for r in reversed(history)])


def revision(request: Request) -> Response:
    number = request.path_params["number"]
    metadata = request.state.org.metadata
    shown = metadata.revision(number)  # 404 for a number the org does not have
    latest = current_revision(request)
    return page(request, "admin/revision.html", revision=_summary(shown), latest=latest,
                changes=[_change(c) for c in metadata.revision_changes(number)],
                steps=[_step(s) for s in shown.plan], safety_labels=SAFETY_LABELS)


def preview_revert(request: Request) -> Response:
    number = request.path_params["number"]
    request.state.org.metadata.revision(number)  # 404 for a number the org does not have
    return propose_revert(request, number, back=LIST_URL)


def revert(request: Request) -> Response:
    number = request.path_params["number"]
    request.state.org.metadata.revision(number)
    return apply_revert(request, number)


def _summary(revision: Revision) -> dict[str, Any]:
    return {"number": revision.number, "author": revision.author, "message": revision.message,
            "created_at": revision.created_at, "steps": len(revision.plan),
            "url": f"{LIST_URL}/{revision.number}"}


def _change(change: Change) -> dict[str, Any]:
    """A change as the page lists it; a changed layout, list view or rule also says which of
    its keys changed."""
    keys: list[str] = []
    if isinstance(change, ComponentChanged) and change.old is not None and change.new is not None:
        keys = sorted(k for k in change.old.keys() | change.new.keys() if change.old.get(k) != change.new.get(k))
    return {"text": change.describe(), "kind": change.kind, "changed_keys": keys}


def _step(step: dict[str, Any]) -> dict[str, Any]:
    return {"description": step.get("description", step.get("step", "")), "safety": step.get("safety", "safe"),
            "rows": step.get("affected_rows")}


ROUTES = [
    PageRoute(LIST_URL, revisions, needs=ADMIN),
    PageRoute(LIST_URL + "/{number:int}", revision, needs=ADMIN),
    PageRoute(LIST_URL + "/{number:int}/revert", preview_revert, needs=ADMIN),
    PageRoute(LIST_URL + "/{number:int}/revert", revert, methods=("POST",), needs=ADMIN),
]
