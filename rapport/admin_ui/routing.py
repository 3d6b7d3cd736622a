"""A page's route: its path, its handler, its methods and the system permission it needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

#: a page handler runs in a worker thread, after the host has checked the session (and, for
#: a post, the form's CSRF token); ``request.state`` holds ``org``, ``actor``, ``principal``,
#: ``csrf_token`` and ``form`` (the posted fields, a multi-dict; empty for a GET)
PageHandler = Callable[[Request], Response]


@dataclass(frozen=True)
class PageRoute:
    path: str
    handler: PageHandler
    methods: tuple[str, ...] = ("GET",)
    #: the system permission the page needs (``manage_metadata``, ``manage_users``), if any
    needs: str | None = None
