"""Which Redis the jobs use: a real server, or the in-process fakeredis of embedded mode.

Everything rq stores is JSON (:data:`SERIALIZER`): job payloads are just Rapport job ids,
results are JSON values, so nothing is ever unpickled from Redis.
"""

from __future__ import annotations

import threading

import redis
from rq.serializers import JSONSerializer

from rapport.platform.settings import Settings

SERIALIZER = JSONSerializer

_embedded_lock = threading.Lock()
_embedded_server: object | None = None


def connect(settings: Settings) -> redis.Redis:
    """Redis mode when ``settings.redis_url`` is set; else the process's embedded server.

    Every embedded connection made in one process talks to the same in-memory server, so
    the app's job service and the embedded worker thread see the same queues.
    """
    if settings.redis_url:
        return redis.Redis.from_url(settings.redis_url)
    return embedded_connection()


def embedded_connection(server: object | None = None) -> redis.Redis:
    """A fakeredis connection: to ``server`` if given (tests), else the process-wide one."""
    import fakeredis

    return fakeredis.FakeRedis(server=server or _shared_server())  # type: ignore[arg-type]


def _shared_server() -> object:
    global _embedded_server
    import fakeredis

    with _embedded_lock:
        if _embedded_server is None:
            _embedded_server = fakeredis.FakeServer()
        return _embedded_server


def is_embedded(connection: redis.Redis) -> bool:
    """True for a fakeredis connection (no Lua without ``lupa``, no other processes)."""
    import fakeredis

    return isinstance(connection, fakeredis.FakeRedis)
