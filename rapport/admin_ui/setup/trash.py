"""The trash: data a metadata change moved aside, and bringing it back.

    GET  /admin/trash                  what was moved aside: which object or field, how many
                                       rows, by which revision, when, and until when it is kept
    GET  /admin/trash/{id}/restore     what restoring this entry does and needs; confirm
    POST /admin/trash/{id}/restore     restore it (a new revision); a refusal is explained

Deleting an object or a field, or narrowing one (a shorter text, fewer picklist values),
moves the data aside first (see ``rapport.runtime.schema_sync.restore``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from rapport.admin_ui.metadata_changes import ADMIN
from rapport.admin_ui.rendering import page, redirect
from rapport.admin_ui.routing import PageRoute
from rapport.platform.errors import NotFound, RapportError

LIST_URL = "/admin/trash"


def trash(request: Request) -> Response:
    entries = [_entry(e) for e in reversed(request.state.org.metadata.trash())]
    return page(request, "admin/trash.html", entries=entries)


def confirm_restore(request: Request) -> Response:
    return page(request, "admin/trash_restore.html", entry=_entry(_find(request)))


def restore(request: Request) -> Response:
    entry = _entry(_find(request))
    runtime, actor = request.state.org, request.state.actor
    try:
        applied = runtime.metadata.restore(entry["id"], author=actor.name)
    except RapportError as error:
        return page(request, "admin/trash_restore.html", status=error.status, entry=entry, error=error)
    done = f"Restored {entry['what']}"
    if applied.revision is not None:
        done += f" as revision {applied.revision.number}"
    notes = "".join(f" Note: {note}." for note in applied.notes)
    return redirect(request, LIST_URL, f"{done}.{notes}")


def _find(request: Request) -> dict[str, Any]:
    number = request.path_params["id"]
    found = next((e for e in request.state.org.metadata.trash() if e["id"] == number), None)
    if found is None:
        raise NotFound(f"there is no moved-aside data #{number} (it may have been purged)",
                       code="schema.trash_not_found")
    return found


def _entry(raw: dict[str, Any]) -> dict[str, Any]:
    """A trash entry as the pages show it: what it is, and what restoring it needs."""
    kind, obj, field = raw["kind"], raw["object"], raw["field"]
    rows = raw["rows"]
    if kind == "object":
        what = f"object '{obj}'"
        holds = f"{rows} record(s)"
        effect = f"Object '{obj}' comes back with its records, and its fields as they were."
        needs = f"No object may be named '{obj}' now: rename or delete one that is, first."
    elif kind == "field":
        what = f"field '{obj}.{field}'"
        holds = f"{rows} value(s)"
        effect = (f"Field '{field}' comes back on object '{obj}' with its values (a required field "
                  "stays optional unless every record has a value).")
        needs = f"Object '{obj}' must exist, and it must not have a field named '{field}' again."
    else:
        what = f"the old values of field '{obj}.{field}'"
        holds = f"{rows} value(s) cut by a narrowing"
        effect = (f"Field '{obj}.{field}' gets its wider definition back, and each record its old value "
                  "unless the value was changed since.")
        needs = f"Field '{obj}.{field}' must still exist."
    return {"id": raw["id"], "kind": kind, "what": what, "holds": holds, "effect": effect, "needs": needs,
            "revision": raw["revision"], "created_at": _when(raw["created_at"]),
            "expires_at": _when(raw["expires_at"]), "restored_at": _when(raw["restored_at"]),
            "url": f"{LIST_URL}/{raw['id']}/restore"}


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


ROUTES = [
    PageRoute(LIST_URL, trash, needs=ADMIN),
    PageRoute(LIST_URL + "/{id:int}/restore", confirm_restore, needs=ADMIN),
    PageRoute(LIST_URL + "/{id:int}/restore", restore, methods=("POST",), needs=ADMIN),
]
