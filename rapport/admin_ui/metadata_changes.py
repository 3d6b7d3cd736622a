"""Every metadata change of the admin UI goes through one plan preview before it is applied.

An editor page (object manager, layout editor, …) builds the org's whole bundle as it would
be after the admin's change and answers :func:`propose`: the preview page lists the typed
changes and the steps, each marked safe / converting / data-losing with the rows it touches,
and what the planner refuses. The bundle travels in the preview's form with the revision it
was planned on; ``POST /admin/apply`` applies it only if the org is still at that revision,
and data-losing steps only with the admin's explicit confirmation.

A revert is previewed and applied by revision number instead (:func:`propose_revert`,
:func:`apply_revert`): reverting undoes later renames as renames, which the plain bundle of
the earlier revision cannot say, so the preview asks the service for the revert's own plan.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from rapport.admin_ui.rendering import page, redirect
from rapport.admin_ui.routing import PageRoute
from rapport.platform.errors import RapportError
from rapport.runtime.schema_sync.planner import Plan

ADMIN = "manage_metadata"


def current_bundle(request: Request) -> dict[str, Any]:
    """The org's bundle as JSON data, for an editor to change and :func:`propose`."""
    return request.state.org.metadata.bundle().to_dict()


def current_revision(request: Request) -> int:
    revisions = request.state.org.metadata.revisions()
    return revisions[-1].number if revisions else 0


def propose(request: Request, bundle: dict[str, Any], *, summary: str, back: str,
            revision: int | None = None) -> Response:
    """The plan preview page of changing the org's metadata to ``bundle``.

    ``summary`` says what the admin asked for ("Add field 'Amount' to Deal"); ``back`` is
    the editor page to return to (Cancel) and to go on to once applied.
    """
    base = current_revision(request) if revision is None else revision
    try:
        plan = request.state.org.metadata.plan(bundle)
    except RapportError as error:
        return _preview(request, bundle, summary, back, base, None, error, status=error.status)
    return _preview(request, bundle, summary, back, base, plan, None)


def apply(request: Request) -> Response:
    form = request.state.form
    summary, back = form.get("summary", "Change metadata"), _local(form.get("back", "/admin"))
    try:
        bundle = json.loads(form.get("bundle", ""))
    except ValueError:
        return page(request, "error.html", status=400, title="Bad request",
                    detail="The change to apply is missing or damaged; start again from the editor.")
    metadata = request.state.org.metadata
    return _carry_out(request, summary, back, bundle, "/admin/apply",
                      lambda **how: metadata.apply(bundle, **how), lambda: metadata.plan(bundle),
                      "Nothing changed: the metadata already was like this.")


def propose_revert(request: Request, number: int, *, back: str) -> Response:
    """The plan preview of reverting the org's metadata to revision ``number``; its form
    posts to ``/admin/revisions/{number}/revert`` (:func:`apply_revert`)."""
    base = current_revision(request)
    try:
        plan = request.state.org.metadata.plan_revert(number)
    except RapportError as error:
        return _preview(request, None, _revert_summary(number), back, base, None, error, status=error.status,
                        action=revert_url(number))
    return _preview(request, None, _revert_summary(number), back, base, plan, None, action=revert_url(number))


def apply_revert(request: Request, number: int) -> Response:
    """Revert to revision ``number`` if the org is still at the revision the preview was
    planned on (and with the confirmation, if data would be lost); else the preview again
    with what went wrong."""
    back = _local(request.state.form.get("back", "/admin/revisions"))
    metadata = request.state.org.metadata
    return _carry_out(request, _revert_summary(number), back, None, revert_url(number),
                      lambda **how: metadata.revert(number, **how), lambda: metadata.plan_revert(number),
                      f"Nothing changed: the metadata already was as in revision {number}.")


def _carry_out(request: Request, summary: str, back: str, bundle: dict[str, Any] | None, action: str,
               change: Callable[..., Any], replan: Callable[[], Plan], unchanged: str) -> Response:
    """Apply a previewed change at the revision it was planned on: on to ``back`` with a
    notice, or the preview again with what went wrong (planned anew)."""
    form = request.state.form
    try:
        base = int(form.get("revision", ""))
    except ValueError:
        return page(request, "error.html", status=400, title="Bad request",
                    detail="The change to apply is missing the revision it was planned on; preview it again.")
    try:
        applied = change(author=request.state.actor.name, message=form.get("message") or summary,
                         confirm_data_loss=form.get("confirm_data_loss") == "yes", expected_revision=base)
    except RapportError as error:
        try:
            plan: Plan | None = replan()
        except RapportError:
            plan = None
        return _preview(request, bundle, summary, back, current_revision(request), plan, error,
                        status=error.status, action=action)
    if applied.revision is None:
        return redirect(request, back, unchanged)
    return redirect(request, back, f"Applied as revision {applied.revision.number}: {summary}.")


def revert_url(number: int) -> str:
    return f"/admin/revisions/{number}/revert"


def _revert_summary(number: int) -> str:
    return f"Revert the metadata to revision {number}"


def _preview(request: Request, bundle: dict[str, Any] | None, summary: str, back: str, revision: int,
             plan: Plan | None, error: RapportError | None, status: int = 200,
             action: str = "/admin/apply") -> Response:
    steps = plan.step_dicts() if plan is not None else []
    return page(request, "admin/plan.html", status=status, summary=summary, back=back, revision=revision,
                action=action, bundle=json.dumps(bundle, separators=(",", ":")) if bundle is not None else None,
                error=error,
                changes=[c.describe() for c in plan.changes] if plan is not None else [],
                steps=steps, refusals=plan.refusals if plan is not None else [],
                data_losing=bool(plan and plan.data_losing))


def _local(path: str) -> str:
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/admin"


ROUTES = [PageRoute("/admin/apply", apply, methods=("POST",), needs=ADMIN)]
