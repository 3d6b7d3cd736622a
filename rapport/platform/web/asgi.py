"""The ASGI entry point uvicorn imports: ``rapport.platform.web.asgi:app_from_env`` (a factory).

Each server process builds its own :class:`~rapport.platform.app.Rapport` from the
``RAPPORT_*`` settings. In embedded mode (no ``RAPPORT_REDIS_URL``) the process also runs
background jobs in a thread, started and stopped with the server.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from rapport.platform.app import Rapport
from rapport.platform.settings import Settings
from rapport.platform.web.app import create_app


def app_from_env() -> Starlette:
    if not logging.getLogger().handlers:  # the request log goes to stderr beside uvicorn's
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    rapport = Rapport(Settings.from_env())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        rapport.start_embedded_worker()
        try:
            yield
        finally:
            rapport.close()

    return create_app(rapport, lifespan=lifespan)
