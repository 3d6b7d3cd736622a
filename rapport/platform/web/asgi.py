"""The ASGI entry point uvicorn imports: ``rapport.platform.web.asgi:app_from_env`` (a factory).

Each server process builds its own :class:`~rapport.platform.app.Rapport` from the
``RAPPORT_*`` settings. In embedded mode (no ``RAPPORT_REDIS_URL``) the process also runs
background jobs in a thread, started and stopped with the server.
"""

from __future__ import annotations

import logging
import logging.handlers
import queue
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from rapport.platform.app import Rapport
from rapport.platform.settings import Settings
from rapport.platform.web.app import create_app


def app_from_env() -> Starlette:
    listener = _log_off_the_event_loop()
    rapport = Rapport(Settings.from_env())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        rapport.start_embedded_worker()
        try:
            yield
        finally:
            rapport.close()
            if listener is not None:
                listener.stop()

    return create_app(rapport, lifespan=lifespan)


def _log_off_the_event_loop() -> logging.handlers.QueueListener | None:
    """Rapport's log (the request log among it) to stderr, written by a thread of its own:
    a request only puts its record on a queue."""
    root = logging.getLogger()
    if root.handlers:  # the host configured logging: leave it as it is
        return None
    stderr = logging.StreamHandler()
    stderr.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    root.addHandler(logging.handlers.QueueHandler(records))
    root.setLevel(logging.INFO)
    listener = logging.handlers.QueueListener(records, stderr)
    listener.start()
    return listener
