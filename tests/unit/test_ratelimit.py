"""Rate limits: the sliding window counter, on a fake clock.

:class:`RateLimiterContract` is the behaviour every :class:`RateLimiter` has; this module runs
it on :class:`MemoryRateLimiter`, ``tests/integration/test_ratelimit_redis.py`` on fakeredis
and a real Redis. Worked numbers: with 3 events per 60 s all used at t=0, a hit is allowed
again at t=80, when 3 × 40/60 = 2 estimated events are left in the sliding window.
"""

from __future__ import annotations

import threading
from collections import Counter

import fakeredis
import pytest

from rapport.platform.ratelimit import (
    Decision,
    MemoryRateLimiter,
    RateLimiter,
    RedisRateLimiter,
    rate_limiter_for,
)
from rapport.platform.settings import Settings

START = 900_000.0  # a boundary of both 60 s and 900 s windows


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RateLimiterContract:
    """Behaviour tests for any rate limiter; a subclass provides the ``limiter`` fixture."""

    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    def test_allows_exactly_the_limit_then_refuses_until_retry_after(
        self, limiter: RateLimiter, clock: FakeClock
    ) -> None:
        assert [limiter.hit("k", 3, 60) for _ in range(3)] == [
            Decision(True, 3, 2, 0), Decision(True, 3, 1, 0), Decision(True, 3, 0, 0),
        ]
        assert limiter.hit("k", 3, 60) == Decision(False, 3, 0, 80)
        clock.advance(79)
        assert limiter.hit("k", 3, 60) == Decision(False, 3, 0, 1)
        clock.advance(1)
        assert limiter.hit("k", 3, 60) == Decision(True, 3, 0, 0)

    def test_refused_hits_are_not_counted(self, limiter: RateLimiter, clock: FakeClock) -> None:
        for _ in range(3):
            limiter.hit("k", 3, 60)
        for second in range(80):
            assert limiter.hit("k", 3, 60) == Decision(False, 3, 0, 80 - second)
            clock.advance(1)
        assert limiter.hit("k", 3, 60).allowed

    def test_previous_window_weighs_by_its_overlap(self, limiter: RateLimiter, clock: FakeClock) -> None:
        assert all(limiter.hit("k", 10, 60).allowed for _ in range(10))
        clock.advance(30)  # same fixed window: refused until 10 × (60 - 6)/60 = 9 at t=66
        assert limiter.hit("k", 10, 60) == Decision(False, 10, 0, 36)
        clock.advance(60)  # t=90: half of the previous window overlaps, 5 estimated events
        assert [limiter.hit("k", 10, 60).remaining for _ in range(5)] == [4, 3, 2, 1, 0]
        # 5 + 1 more fit once 10 × overlap/60 <= 4, i.e. overlap 24 s, at t=96
        assert limiter.hit("k", 10, 60) == Decision(False, 10, 0, 6)
        clock.advance(6)
        assert limiter.hit("k", 10, 60) == Decision(True, 10, 0, 0)
        clock.advance(144)  # t=240: both windows over, everything forgotten
        assert limiter.hit("k", 10, 60) == Decision(True, 10, 9, 0)

    def test_reset_forgets_the_key(self, limiter: RateLimiter) -> None:
        for _ in range(2):
            limiter.hit("k", 2, 60)
        assert not limiter.hit("k", 2, 60).allowed
        limiter.reset("k")
        limiter.reset("never-seen")
        assert limiter.hit("k", 2, 60) == Decision(True, 2, 1, 0)

    def test_peek_tells_what_a_hit_would_and_counts_nothing(self, limiter: RateLimiter, clock: FakeClock) -> None:
        assert [limiter.peek("k", 2, 60) for _ in range(5)] == [Decision(True, 2, 1, 0)] * 5
        assert limiter.hit("k", 2, 60) == Decision(True, 2, 1, 0)
        assert limiter.peek("k", 2, 60) == limiter.hit("k", 2, 60) == Decision(True, 2, 0, 0)
        assert limiter.peek("k", 2, 60) == limiter.hit("k", 2, 60) == Decision(False, 2, 0, 90)
        clock.advance(89)
        assert limiter.peek("k", 2, 60) == Decision(False, 2, 0, 1)

    def test_keys_are_independent(self, limiter: RateLimiter) -> None:
        limiter.hit("a", 1, 60)
        assert not limiter.hit("a", 1, 60).allowed
        assert limiter.hit("b", 1, 60).allowed
        limiter.reset("b")
        assert not limiter.peek("a", 1, 60).allowed

    def test_login_lockout_refuses_before_the_password_is_checked(
        self, limiter: RateLimiter, clock: FakeClock
    ) -> None:
        # the login flow: peek first; count only failed attempts; reset on success
        for _ in range(10):
            assert limiter.peek("login:ada", 10, 900).allowed
            limiter.hit("login:ada", 10, 900)
        assert limiter.peek("login:ada", 10, 900) == Decision(False, 10, 0, 990)
        clock.advance(990)
        assert limiter.peek("login:ada", 10, 900).allowed
        limiter.reset("login:ada")
        assert limiter.peek("login:ada", 10, 900) == Decision(True, 10, 9, 0)

    def test_concurrent_hits_never_exceed_the_limit(self, limiter: RateLimiter) -> None:
        outcomes: Counter[bool] = Counter()
        lock = threading.Lock()

        def work() -> None:
            for _ in range(25):
                allowed = limiter.hit("busy", 60, 60).allowed
                with lock:
                    outcomes[allowed] += 1

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert outcomes == Counter({True: 60, False: 140})

    @pytest.mark.parametrize(("limit", "window", "message"), [
        (0, 60, "rate limit: limit 0 is below the minimum 1 (skip the check for 'unlimited')"),
        (1, 0, "rate limit: window 0 is below the minimum 1 second"),
    ])
    def test_a_limit_and_a_window_are_positive(
        self, limiter: RateLimiter, limit: int, window: int, message: str
    ) -> None:
        for check in (limiter.hit, limiter.peek):
            with pytest.raises(ValueError) as caught:
                check("k", limit, window)
            assert str(caught.value) == message


class TestMemoryRateLimiter(RateLimiterContract):
    @pytest.fixture
    def limiter(self, clock: FakeClock) -> MemoryRateLimiter:
        return MemoryRateLimiter(clock)


def test_memory_limiter_sweeps_keys_whose_windows_are_over() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock)
    for number in range(MemoryRateLimiter.SWEEP_MIN - 2):
        limiter.hit(f"old-{number}", 1, 60)
    assert not limiter.hit("old-0", 1, 60).allowed  # refused hits of known keys add nothing
    clock.advance(60)
    limiter.hit("recent", 1, 60)
    clock.advance(60)  # the old keys' windows are over; "recent" is the previous window
    assert len(limiter) == MemoryRateLimiter.SWEEP_MIN - 1
    limiter.hit("new", 1, 60)  # reaches the threshold: sweep
    assert len(limiter) == 2
    assert limiter.peek("recent", 1, 60) == Decision(False, 1, 0, 60)
    assert limiter.hit("old-0", 1, 60).allowed


def test_settings_choose_memory_or_redis() -> None:
    assert isinstance(rate_limiter_for(Settings()), MemoryRateLimiter)
    assert isinstance(rate_limiter_for(Settings(), fakeredis.FakeRedis()), MemoryRateLimiter)
    with_redis = Settings(redis_url="redis://127.0.0.1:6379/15")
    assert isinstance(rate_limiter_for(with_redis), RedisRateLimiter)  # connects lazily
    assert isinstance(rate_limiter_for(with_redis, fakeredis.FakeRedis()), RedisRateLimiter)
