"""Setup › Profiles and permission sets: the list, and the editor of each (``new`` for a new one).

    GET        /admin/profiles                        the profiles (built-in ones first) and permission sets
    GET, POST  /admin/profiles/{name}                 a profile's editor; ``admin`` and ``standard`` read-only
    GET, POST  /admin/permission_sets/{name}          a permission set's editor

Both are metadata, so saving goes the way of every metadata change: the editor builds the
org's whole bundle with the component changed, the loader checks it (a dry-run plan; its
problems are shown at their controls, with everything chosen kept), and only a valid bundle
goes on to the plan preview, which applies it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from rapport.admin_ui.metadata_changes import current_bundle, propose
from rapport.admin_ui.rendering import page
from rapport.admin_ui.routing import PageRoute
from rapport.admin_ui.setup.grant_form import (
    ACCESS_LABELS, OBJECT_PERMISSIONS, PERMISSION_SETS, PROFILES, GrantForm, Kind,
)
from rapport.platform.errors import Forbidden, NotFound, RapportError, pointer
from rapport.runtime.permissions import BUILTIN_PROFILES, SYSTEM_PERMISSIONS, compile_grants

MANAGE_METADATA = "manage_metadata"
LIST_URL = "/admin/profiles"
#: what each system permission lets a user do (the editor's help text)
SYSTEM_PERMISSION_HELP = {
    "manage_metadata": "Change the org's metadata: objects, fields, layouts, profiles (plan and apply).",
    "manage_users": "Manage users and everyone's API keys.",
    "view_all_data": "Read every record of every object, every field.",
    "modify_all_data": "Read, edit and delete every record of every object.",
}
#: what the built-in profiles grant (they are defined by the permission engine, not by metadata)
BUILTIN_HELP = {
    "admin": "Every system permission: everything, every record, every field.",
    "standard": "Read, create, edit and delete on every object, every field editable, within record sharing.",
}
PERMISSION_LABELS = {"read": "Read", "create": "Create", "edit": "Edit", "delete": "Delete",
                     "view_all": "View all", "modify_all": "Modify all"}


def list_profiles(request: Request) -> Response:
    bundle = request.state.org.model().bundle
    builtins = [{"name": name, "label": name.capitalize(), "description": BUILTIN_HELP[name], "builtin": True}
                for name in BUILTIN_PROFILES]
    return page(request, "admin/profiles.html", profiles=builtins + [_summary(p.to_dict()) for p in bundle.profiles],
                permission_sets=[_summary(p.to_dict()) for p in bundle.permission_sets])


def new_profile(request: Request) -> Response:
    return _editor(request, PROFILES, None)


def edit_profile(request: Request) -> Response:
    name = request.path_params["name"]
    if name in BUILTIN_PROFILES:
        return _builtin(request, name)
    return _editor(request, PROFILES, name)


def new_permission_set(request: Request) -> Response:
    return _editor(request, PERMISSION_SETS, None)


def edit_permission_set(request: Request) -> Response:
    return _editor(request, PERMISSION_SETS, request.path_params["name"])


def _builtin(request: Request, name: str) -> Response:
    if request.method == "POST":
        raise Forbidden(f"profile {name!r} is built in and cannot be changed; create a profile of your own instead",
                        code="metadata.reserved_name")
    model = request.state.org.model()
    form = GrantForm.of_grants(PROFILES, model, name, compile_grants(model.bundle, name, ()))
    return _page(request, form, creating=False, readonly=True, about=BUILTIN_HELP[name])


def _editor(request: Request, kind: Kind, name: str | None) -> Response:
    model = request.state.org.model()
    bundle = current_bundle(request)
    components: list[dict[str, Any]] = bundle.setdefault(kind.key, [])
    index = next((i for i, c in enumerate(components) if c["name"] == name), None) if name is not None else None
    if name is not None and index is None:
        raise NotFound(f"org '{model.org_name}' has no {kind.noun} {name!r}", code="metadata.not_found")
    original = components[index] if index is not None else None
    if request.method == "GET":
        return _page(request, GrantForm.of_component(kind, model, original or {}), creating=original is None)
    posted = request.state.form
    form = GrantForm.posted(kind, model, posted, name if name is not None else posted.get("name", "").strip())
    component, entry_objects = form.component(original, model)
    if index is None:
        index = len(components)
        components.append(component)
    else:
        components[index] = component
    try:
        request.state.org.metadata.plan(bundle)  # the loader's problems first, shown at their controls
    except RapportError as error:
        form.place(error, pointer(kind.key, index), entry_objects)
        return _page(request, form, creating=original is None, status=error.status)
    label = form.label.strip() or form.name
    if original is None:
        return propose(request, bundle, summary=f"Add {kind.noun} '{label}'", back=LIST_URL)
    return propose(request, bundle, summary=f"Change {kind.noun} '{label}'", back=kind.url(form.name))


def _page(request: Request, form: GrantForm, *, creating: bool, readonly: bool = False, about: str = "",
          status: int = 200) -> Response:
    noun = form.kind.noun
    heading = f"New {noun}" if creating else f"{noun.capitalize()}: {form.label.strip() or form.name}"
    return page(request, "admin/profile_edit.html", status=status, form=form, creating=creating, readonly=readonly,
                heading=heading,
                about=about, permissions=OBJECT_PERMISSIONS, permission_labels=PERMISSION_LABELS,
                access_labels=ACCESS_LABELS, system_permissions=SYSTEM_PERMISSIONS,
                system_help=SYSTEM_PERMISSION_HELP,
                action=form.kind.path + "/new" if creating else form.kind.url(form.name))


def _summary(component: dict[str, Any]) -> dict[str, Any]:
    name = component["name"]
    return {"name": name, "label": component.get("label") or name.replace("_", " ").capitalize(),
            "description": component.get("description", ""), "builtin": False,
            "system_permissions": component.get("system_permissions", []),
            "objects": [e["object"] for e in component.get("objects", ())]}


ROUTES = [
    PageRoute(LIST_URL, list_profiles, needs=MANAGE_METADATA),
    PageRoute("/admin/profiles/new", new_profile, methods=("GET", "POST"), needs=MANAGE_METADATA),
    PageRoute("/admin/profiles/{name}", edit_profile, methods=("GET", "POST"), needs=MANAGE_METADATA),
    PageRoute("/admin/permission_sets/new", new_permission_set, methods=("GET", "POST"), needs=MANAGE_METADATA),
    PageRoute("/admin/permission_sets/{name}", edit_permission_set, methods=("GET", "POST"), needs=MANAGE_METADATA),
]
