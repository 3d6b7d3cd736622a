"""Request ids and the request log: an ASGI middleware around the whole app.

Each request gets an id — the caller's ``X-Request-Id`` when it is a short printable token,
else a new one — returned in the ``X-Request-Id`` header, put into problem bodies, and
logged with the method, path, status, duration, org and user on logger ``rapport.requests``.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOG = logging.getLogger("rapport.requests")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        request_id = given if given and REQUEST_ID.match(given) else uuid.uuid4().hex
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            principal = state.get("principal")
            LOG.info("%s %s %s %.1fms org=%s user=%s id=%s", scope["method"], scope["path"], status,
                     (time.perf_counter() - started) * 1000,
                     principal.org.name if principal else "-", principal.user.username if principal else "-",
                     request_id)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None
