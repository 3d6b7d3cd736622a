"""The web host: the Starlette application factory, the gate (authentication, rate limits),
accounts endpoints and the request log."""

from __future__ import annotations

from rapport.platform.web.app import API_PREFIX, create_app

__all__ = ["API_PREFIX", "create_app"]
