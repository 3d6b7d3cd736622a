"""Every page of the end-user app and the admin UI, by module.

Routes are matched in order: a module's literal paths (``/o/{object}/new``) come before its
patterns (``/o/{object}/{id}``).
"""

from __future__ import annotations

from rapport.admin_ui import home, metadata_changes
from rapport.admin_ui.records import search_page
from rapport.admin_ui.routing import PageRoute

PAGE_ROUTES: list[PageRoute] = [
    *home.ROUTES,
    *metadata_changes.ROUTES,
    *search_page.ROUTES,
]
