"""Every page of the end-user app and the admin UI, by module.

Routes are matched in order: a module's literal paths (``/o/{object}/new``) come before its
patterns (``/o/{object}/{id}``).
"""

from __future__ import annotations

from rapport.admin_ui import home, metadata_changes
from rapport.admin_ui.records import listing, search_page
from rapport.admin_ui.records import lookup, record_form, record_page
from rapport.admin_ui.routing import PageRoute
from rapport.admin_ui.setup import keys, profiles, users
from rapport.admin_ui.setup import fields, formula_check, index, objects
from rapport.admin_ui.setup import layout_editor, list_view_editor, revisions, rule_editor, script_runs, trash

PAGE_ROUTES: list[PageRoute] = [
    *home.ROUTES,
    *metadata_changes.ROUTES,
    *search_page.ROUTES,
    *listing.ROUTES,
    *lookup.ROUTES,  # /o/{object}/lookup and /o/{object}/new before /o/{object}/{id}
    *record_form.ROUTES,
    *record_page.ROUTES,
    *index.ROUTES,
    *objects.ROUTES,  # /admin/objects/new before /admin/objects/{object}
    *fields.ROUTES,  # .../fields/new before .../fields/{field}
    *formula_check.ROUTES,
    *users.ROUTES,
    *keys.ROUTES,
    *profiles.ROUTES,
    *revisions.ROUTES,
    *trash.ROUTES,
    *layout_editor.ROUTES,
    *list_view_editor.ROUTES,
    *rule_editor.ROUTES,
    *script_runs.ROUTES,
]
