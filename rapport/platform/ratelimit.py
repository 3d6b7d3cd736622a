"""Rate limits: how many events a key (an API key, an org, a login name) may have per window.

The algorithm is the *sliding window counter* (as described by Cloudflare and the Redis
docs): two fixed windows approximate a sliding one. The estimated number of events in the
last ``window`` seconds is::

    previous_window_count * (fraction of the previous window still inside the sliding one)
    + current_window_count

A hit is allowed when that estimate, counting the hit, is at most ``limit``. Refused hits are
not counted, so ``retry_after`` is exactly when a hit would be allowed again if nothing else
happens, and a client that keeps retrying while refused does not lock itself out for longer.

Two implementations of the :class:`RateLimiter` protocol: :class:`MemoryRateLimiter` for one
process (embedded mode, tests) and :class:`RedisRateLimiter` shared by every process talking
to one Redis. :func:`rate_limiter_for` picks one from the settings.

Each key is meant to be used with one ``window``; a caller that wants several windows for the
same subject (per minute and per hour) puts the window in the key.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Protocol
from collections.abc import Callable, Mapping

import redis

from rapport.platform.settings import Settings

__all__ = ["Decision", "MemoryRateLimiter", "RateLimiter", "RedisRateLimiter", "rate_limiter_for"]

# Tolerance for float clocks, so that a hit made exactly ``retry_after`` seconds later is allowed.
_EPSILON = 1e-9


@dataclass(frozen=True)
class Decision:
    """The answer for one hit: allowed or not, the limit, hits left, seconds to wait if refused."""

    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # whole seconds, >= 1 when refused, 0 when allowed


class RateLimiter(Protocol):
    def hit(self, key: str, limit: int, window: int) -> Decision:
        """Count one event for ``key`` if it is within ``limit`` events per ``window`` seconds."""
        ...

    def peek(self, key: str, limit: int, window: int) -> Decision:
        """The decision :meth:`hit` would return now, without counting anything."""
        ...

    def reset(self, key: str) -> None:
        """Forget every event of ``key`` (e.g. failed logins, after a successful one)."""
        ...


class MemoryRateLimiter:
    """Counters in this process's memory; thread-safe, and forgets keys whose windows are over.

    Stale keys are swept when the number of keys tracked doubles since the last sweep
    (at least :attr:`SWEEP_MIN`), so memory stays proportional to the keys in use.
    """

    SWEEP_MIN = 1024

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._slots: dict[str, _Slot] = {}
        self._sweep_at = self.SWEEP_MIN

    def hit(self, key: str, limit: int, window: int) -> Decision:
        _check(limit, window)
        with self._lock:
            now = self._clock()
            index = _index(now, window)
            previous, current = self._counts(key, window, index)
            decision = _decide(now, index, window, limit, previous, current + 1)
            if decision.allowed:
                self._slots[key] = _Slot(window, index, previous, current + 1)
                if len(self._slots) >= self._sweep_at:
                    self._sweep(now)
            return decision

    def peek(self, key: str, limit: int, window: int) -> Decision:
        _check(limit, window)
        with self._lock:
            now = self._clock()
            index = _index(now, window)
            previous, current = self._counts(key, window, index)
            return _decide(now, index, window, limit, previous, current + 1)

    def reset(self, key: str) -> None:
        with self._lock:
            self._slots.pop(key, None)

    def __len__(self) -> int:
        """How many keys are tracked (including stale ones not swept yet)."""
        with self._lock:
            return len(self._slots)

    def _counts(self, key: str, window: int, index: int) -> tuple[int, int]:
        slot = self._slots.get(key)
        if slot is None or slot.window != window:
            return 0, 0
        if slot.index == index:
            return slot.previous, slot.current
        if slot.index == index - 1:
            return slot.current, 0
        return 0, 0

    def _sweep(self, now: float) -> None:
        stale = [key for key, slot in self._slots.items() if _index(now, slot.window) > slot.index + 1]
        for key in stale:
            del self._slots[key]
        self._sweep_at = max(self.SWEEP_MIN, 2 * len(self._slots))


@dataclass(frozen=True)
class _Slot:
    window: int
    index: int  # which fixed window ``current`` counts: floor(time / window)
    previous: int
    current: int


class RedisRateLimiter:
    """Counters in Redis, shared by every process; works on fakeredis too.

    One hash per key (``{prefix}{key}``), one field per fixed window (its index), expiring
    2 × ``window`` after the last hit; ``reset`` deletes the hash. A hit is one MULTI/EXEC
    transaction (HINCRBY, EXPIRE, HGETALL) and the decision is made in Python. A refused hit
    is then taken back (HINCRBY -1): meanwhile a concurrent hit may see one event too many
    and be refused, never allowed beyond the limit. (A Lua script would decide in one round
    trip, but fakeredis runs Lua only with ``lupa``, which is not a dependency.)
    """

    def __init__(self, client: redis.Redis, prefix: str = "rapport:rl:",
                 clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._prefix = prefix
        self._clock = clock

    def hit(self, key: str, limit: int, window: int) -> Decision:
        _check(limit, window)
        name = self._prefix + key
        now = self._clock()
        index = _index(now, window)
        pipe = self._client.pipeline(transaction=True)
        pipe.hincrby(name, str(index), 1)
        pipe.expire(name, 2 * window)
        pipe.hgetall(name)
        counts = _parse(pipe.execute()[2])
        decision = _decide(now, index, window, limit, counts.get(index - 1, 0), counts.get(index, 0))
        stale = [str(field) for field in counts if field < index - 1]
        if decision.allowed and not stale:
            return decision
        pipe = self._client.pipeline(transaction=True)
        if not decision.allowed:
            # EXPIRE again: after a concurrent reset, HINCRBY recreates the hash
            pipe.hincrby(name, str(index), -1)
            pipe.expire(name, 2 * window)
        if stale:
            pipe.hdel(name, *stale)
        pipe.execute()
        return decision

    def peek(self, key: str, limit: int, window: int) -> Decision:
        _check(limit, window)
        now = self._clock()
        index = _index(now, window)
        counts = _parse(self._client.hgetall(self._prefix + key))
        return _decide(now, index, window, limit, counts.get(index - 1, 0), counts.get(index, 0) + 1)

    def reset(self, key: str) -> None:
        self._client.delete(self._prefix + key)


def rate_limiter_for(settings: Settings, redis_client: redis.Redis | None = None) -> RateLimiter:
    """A Redis limiter when ``settings.redis_url`` is set (``redis_client`` if given), else memory."""
    if settings.redis_url is None:
        return MemoryRateLimiter()
    return RedisRateLimiter(redis_client or redis.Redis.from_url(settings.redis_url))


# -- the sliding window counter -----------------------------------------------------------
def _check(limit: int, window: int) -> None:
    if limit < 1:
        raise ValueError(f"rate limit: limit {limit} is below the minimum 1 (skip the check for 'unlimited')")
    if window < 1:
        raise ValueError(f"rate limit: window {window} is below the minimum 1 second")


def _index(now: float, window: int) -> int:
    return int(now // window)


def _parse(fields: Mapping[bytes | str, bytes | str]) -> dict[int, int]:
    # clamp: a take-back racing a reset can leave -1 behind
    return {int(field): max(0, int(count)) for field, count in fields.items()}


def _decide(now: float, index: int, window: int, limit: int, previous: int, current: int) -> Decision:
    """The decision for a hit at ``now``; ``current`` counts that hit."""
    overlap = window - (now - index * window)  # seconds of the previous window still inside
    # estimate = previous * overlap / window + current, compared multiplied by window
    spare = limit * window - previous * overlap - current * window
    if spare >= -_EPSILON:
        return Decision(True, limit, max(0, math.floor(spare / window + _EPSILON)), 0)
    wait = _allowed_at(index, window, limit, previous, current - 1) - now
    return Decision(False, limit, 0, max(1, math.ceil(wait - _EPSILON)))


def _allowed_at(index: int, window: int, limit: int, previous: int, stored: int) -> float:
    """When a hit becomes allowed if nothing else happens; ``stored`` events in this window."""
    start = index * window
    if stored + 1 <= limit:
        # later in this window, once enough of the previous window has slid out
        # (previous > 0 here, else the hit would have been allowed)
        return start + window * (previous - (limit - stored - 1)) / previous
    # in the next window, where this window's events become the previous ones
    return start + window + window * (stored - limit + 1) / stored
