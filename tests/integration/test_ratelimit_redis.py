"""The rate limiter contract on Redis: fakeredis always, a real server when configured.

The real Redis (``RAPPORT_TEST_REDIS_URL``) gets a unique key prefix per test, and every key
under it is removed afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import fakeredis
import pytest
import redis

from rapport.platform.ratelimit import RedisRateLimiter
from tests.conftest import IN_CI, service_url
from tests.unit.test_ratelimit import START, FakeClock, RateLimiterContract


@pytest.fixture
def real_redis() -> Iterator[redis.Redis]:
    url = service_url("RAPPORT_TEST_REDIS_URL")
    assert url is not None
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.ConnectionError as error:
        client.close()
        if IN_CI:
            pytest.fail(f"Redis at {url} is unreachable: {error}")
        pytest.skip(f"Redis is unreachable: {error}")
    yield client
    client.close()


@pytest.fixture
def prefix() -> str:
    return f"rapport-test-rl-{uuid.uuid4().hex[:10]}:"


class TestRedisRateLimiter(RateLimiterContract):
    @pytest.fixture(params=["fakeredis", pytest.param("redis", marks=pytest.mark.redis)])
    def client(self, request: pytest.FixtureRequest, prefix: str) -> Iterator[redis.Redis]:
        if request.param == "fakeredis":
            yield fakeredis.FakeRedis()
            return
        client: redis.Redis = request.getfixturevalue("real_redis")
        yield client
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)

    @pytest.fixture
    def limiter(self, client: redis.Redis, prefix: str, clock: FakeClock) -> RedisRateLimiter:
        return RedisRateLimiter(client, prefix=prefix, clock=clock)

    def test_one_hash_per_key_expiring_after_two_windows(
        self, limiter: RedisRateLimiter, client: redis.Redis, prefix: str, clock: FakeClock
    ) -> None:
        window = int(START // 60)
        limiter.hit("k", 5, 60)
        limiter.hit("k", 5, 60)
        assert client.hgetall(f"{prefix}k") == {str(window).encode(): b"2"}
        assert 110 <= client.ttl(f"{prefix}k") <= 120
        clock.advance(60)
        limiter.hit("k", 5, 60)
        clock.advance(60)  # the first window is over: its field goes on the next hit
        limiter.hit("k", 5, 60)
        assert client.hgetall(f"{prefix}k") == {str(window + 1).encode(): b"1", str(window + 2).encode(): b"1"}
        limiter.reset("k")
        assert not client.exists(f"{prefix}k")

    def test_a_refused_hit_is_taken_back(
        self, limiter: RedisRateLimiter, client: redis.Redis, prefix: str
    ) -> None:
        limiter.hit("k", 1, 60)
        assert not limiter.hit("k", 1, 60).allowed
        assert client.hgetall(f"{prefix}k") == {str(int(START // 60)).encode(): b"1"}
