"""``GET /admin``: Setup's landing page, linking to the parts of the admin UI the user may use.

Metadata pages (objects, revisions, the trash of moved-aside data, profiles and permission
sets) need ``manage_metadata``; users and API keys need ``manage_users``. The page itself
needs a session only, and answers 403 to a user who has neither permission.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from rapport.admin_ui.rendering import page
from rapport.admin_ui.routing import PageRoute
from rapport.platform.errors import Forbidden
from rapport.runtime.permissions import access_for


@dataclass(frozen=True)
class Area:
    title: str
    url: str
    what: str
    needs: str


AREAS = (
    Area("Objects and fields", "/admin/objects",
         "Objects, their fields, page layouts, list views and validation rules.", "manage_metadata"),
    Area("Revisions", "/admin/revisions",
         "Every applied change of the metadata: who, when and what; compare and revert.", "manage_metadata"),
    Area("Trash", "/admin/trash",
         "Data moved aside by deleted fields and objects, restorable until it is purged.", "manage_metadata"),
    Area("Scripts", "/admin/scripts",
         "The org's sandboxed scripts and the log of their runs: outcome, errors, limits used.", "manage_metadata"),
    Area("Profiles and permission sets", "/admin/profiles",
         "What users may do: object and field access, system permissions.", "manage_metadata"),
    Area("Users", "/admin/users", "People who sign in: their profile, permission sets and status.",
         "manage_users"),
    Area("API keys", "/admin/keys", "Keys integrations use to call the API, and revoking them.", "manage_users"),
)


def index(request: Request) -> Response:
    grants = access_for(request.state.org.model(), request.state.actor).grants
    areas = [area for area in AREAS if grants.has(area.needs)]
    if not areas:
        raise Forbidden("Setup needs the system permission 'manage_metadata' or 'manage_users', which your "
                        "profile and permission sets do not grant", code="permissions.system_permission")
    return page(request, "admin/index.html", areas=areas, org=request.state.org.name)


ROUTES = [PageRoute("/admin", index)]
