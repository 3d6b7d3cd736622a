"""Background jobs: status rows, progress, permanent failures, retries, run-once, JSON payloads.

The core tests run twice: on the embedded backend (fakeredis + the EmbeddedWorker thread)
and, when ``RAPPORT_TEST_REDIS_URL`` is set, on a real Redis with an in-process rq
SimpleWorker in burst mode (queues under a unique prefix; every key removed afterwards).
"""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
import zlib
from datetime import timedelta
from collections import Counter
from typing import Any
from collections.abc import Callable, Iterator

import fakeredis
import pytest
import redis
from rq.job import Job
from rq.job import JobStatus as RqJobStatus
from rq.serializers import JSONSerializer

from rapport.platform.db import Database
from rapport.platform.errors import InvalidRequest, NotFound, RapportError, SettingsError
from rapport.platform.jobs import (
    RECORDS,
    EmbeddedWorker,
    JobQueue,
    JobContext,
    JobRegistry,
    JobService,
    JobState,
    JobStatus,
    JobWaitTimeout,
    backoff_intervals,
    bound,
    embedded_connection,
    make_worker,
    run_job,
    run_worker,
    work_burst,
)
from rapport.platform.jobs.model import error_body, is_permanent
from rapport.platform.orgs import OrgService
from rapport.platform.settings import Settings

REDIS_URL = Settings.from_env().extra.get("RAPPORT_TEST_REDIS_URL")
RQ_GLOBAL_KEYS = ("rq:clean_groups",)


class Kinds:
    """The test job kinds, counting how often each job actually ran."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.gate = threading.Event()
        self.registry = JobRegistry()
        self.registry.register("test.echo", self.echo)
        self.registry.register("test.count", self.count, queue=RECORDS)
        self.registry.register("test.gated", self.gated)
        self.registry.register("test.reject", self.reject)
        self.registry.register("test.flaky", self.flaky)
        self.registry.register("test.not_json", self.not_json)

    def echo(self, ctx: JobContext, **params: Any) -> dict[str, Any]:
        self.calls[ctx.job_id] += 1
        return {"org": ctx.org, "params": params, "attempt": ctx.attempt}

    def count(self, ctx: JobContext, *, n: int) -> int:
        self.calls[ctx.job_id] += 1
        for i in range(n):
            ctx.progress(i + 1, n, f"item {i + 1}")
        return n

    def gated(self, ctx: JobContext) -> str:
        ctx.progress(1, 2, "half way")
        if not self.gate.wait(10):
            raise RuntimeError("the test never opened the gate")
        ctx.progress(2, 2)
        return "done"

    def reject(self, ctx: JobContext, *, amount: int) -> None:
        self.calls[ctx.job_id] += 1
        raise InvalidRequest(f"amount must be positive, got {amount}", code="test.bad_amount")

    def flaky(self, ctx: JobContext, *, fail_times: int) -> dict[str, int]:
        self.calls[ctx.job_id] += 1
        if self.calls[ctx.job_id] <= fail_times:
            raise RuntimeError("boom")
        return {"runs": self.calls[ctx.job_id]}

    def not_json(self, ctx: JobContext) -> object:
        self.calls[ctx.job_id] += 1
        return {1, 2}


class Harness:
    """A JobService on one backend, and a way to run a job to its end."""

    def __init__(self, service: JobService, kinds: Kinds, finish: Callable[[str], JobStatus]) -> None:
        self.service = service
        self.kinds = kinds
        self.finish = finish


@pytest.fixture
def settings(tmp_path: Any, fresh_database_url: str | None) -> Settings:
    """Job rows live in the platform database: SQLite, or a fresh PostgreSQL database."""
    return Settings(data_dir=tmp_path, database_url=fresh_database_url)


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings)
    OrgService(database).setup()
    yield database
    database.dispose()


@pytest.fixture
def kinds() -> Kinds:
    return Kinds()


@pytest.fixture
def embedded(db: Database, settings: Settings, kinds: Kinds) -> Iterator[Harness]:
    connection = embedded_connection(fakeredis.FakeServer())
    service = JobService(db, settings, kinds.registry, connection=connection, backoff_base=0)
    with EmbeddedWorker(service, poll_interval=0.01):
        yield Harness(service, kinds, lambda job_id: service.wait(job_id, timeout=10))


@pytest.fixture
def real_redis(db: Database, settings: Settings, kinds: Kinds) -> Iterator[Harness]:
    if not REDIS_URL:
        pytest.skip("RAPPORT_TEST_REDIS_URL is not set")
    connection = redis.Redis.from_url(REDIS_URL)
    connection.ping()
    prefix = f"rapport-test-{uuid.uuid4().hex[:10]}:"
    had_global_keys = {key for key in RQ_GLOBAL_KEYS if connection.exists(key)}
    service = JobService(db, settings, kinds.registry, connection=connection, backoff_base=0,
                         queue_prefix=prefix)

    def finish(job_id: str) -> JobStatus:
        work_burst(service)
        return service.wait(job_id, timeout=5)

    try:
        yield Harness(service, kinds, finish)
    finally:
        _remove_keys(connection, prefix, [job.id for job in service.list(limit=1000)])
        for key in set(RQ_GLOBAL_KEYS) - had_global_keys:
            connection.delete(key)  # rq's maintenance locks, if our workers took them
        connection.close()


def _remove_keys(connection: redis.Redis, prefix: str, job_ids: list[str]) -> None:
    for pattern in [f"*{prefix}*", *(f"*{job_id}*" for job_id in job_ids)]:
        keys = list(connection.scan_iter(match=pattern))
        if keys:
            connection.delete(*keys)
    for member in connection.smembers("rq:queues"):
        if prefix.encode() in member:
            connection.srem("rq:queues", member)


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def jobs(request: pytest.FixtureRequest, backend: str) -> Harness:
    # ``backend`` (SQLite / PostgreSQL for the job rows) is requested here so that pytest
    # parametrizes over it before ``embedded`` / ``real_redis`` are looked up by name
    return request.getfixturevalue("embedded" if request.param == "embedded" else "real_redis")


# -- core behaviour, on both backends ------------------------------------------------------
def test_enqueued_job_runs_and_finishes_with_its_result(jobs: Harness) -> None:
    job_id = jobs.service.enqueue("test.echo", org="acme", name="Ada", tags=["a", "b"], n=3)

    status = jobs.finish(job_id)

    assert status.status is JobState.FINISHED
    assert status.result == {"org": "acme", "params": {"name": "Ada", "tags": ["a", "b"], "n": 3},
                             "attempt": 1}
    assert (status.kind, status.org, status.queue, status.attempts) == ("test.echo", "acme", "default", 1)
    assert status.error is None
    assert jobs.kinds.calls[job_id] == 1
    assert json.loads(json.dumps(status.to_dict()))["status"] == "finished"


def test_progress_is_written_to_the_job_row(jobs: Harness) -> None:
    job_id = jobs.service.enqueue("test.count", n=4)

    status = jobs.finish(job_id)

    assert status.queue == "records"  # the kind's registered queue
    assert (status.status, status.progress, status.total, status.message) == (JobState.FINISHED, 4, 4, "item 4")
    assert status.result == 4


def test_rapport_4xx_error_fails_at_once_with_its_code(jobs: Harness) -> None:
    job_id = jobs.service.enqueue("test.reject", amount=-5)

    status = jobs.finish(job_id)

    assert status.status is JobState.FAILED
    assert status.attempts == 1
    assert jobs.kinds.calls[job_id] == 1
    assert status.error is not None
    assert (status.error["code"], status.error["detail"]) == ("test.bad_amount", "amount must be positive, got -5")
    assert _final_rq_status(jobs.service, job_id) == RqJobStatus.FAILED  # rq did not retry it


def test_other_errors_are_retried_until_the_job_succeeds(jobs: Harness) -> None:
    job_id = jobs.service.enqueue("test.flaky", fail_times=2)

    status = jobs.finish(job_id)

    assert status.status is JobState.FINISHED
    assert status.attempts == 3
    assert status.result == {"runs": 3}
    assert status.error is None


def test_job_fails_after_the_last_retry(jobs: Harness) -> None:
    job_id = jobs.service.enqueue("test.flaky", fail_times=99)

    status = jobs.finish(job_id)

    assert status.status is JobState.FAILED
    assert status.attempts == 1 + jobs.service.settings.job_max_retries == 4
    assert status.error == {"code": "jobs.crashed", "detail": "RuntimeError('boom')"}


def test_finished_job_never_runs_twice(jobs: Harness) -> None:
    job_id = jobs.service.enqueue("test.echo", x=1)
    first = jobs.finish(job_id)

    with bound(jobs.service):
        again = run_job(job_id)

    assert again == first.result
    assert jobs.kinds.calls[job_id] == 1
    assert jobs.service.get(job_id).attempts == 1


def test_rq_payload_is_json_with_only_the_job_id(jobs: Harness) -> None:
    job_id = jobs.service.enqueue("test.echo", secret="params stay in the database")

    raw = jobs.service.connection.hget(f"rq:job:{job_id}", "data")
    assert jobs.service.rq_queue("default").serializer is JSONSerializer
    assert json.loads(zlib.decompress(raw)) == ["rapport.platform.jobs.runner.run_job", None, [job_id], {}]
    rq_job = Job.fetch(job_id, connection=jobs.service.connection, serializer=JSONSerializer)
    assert rq_job.timeout == 3600
    assert jobs.finish(job_id).status is JobState.FINISHED


def test_result_that_is_not_json_fails_the_job(jobs: Harness) -> None:
    job_id = jobs.service.enqueue("test.not_json")

    status = jobs.finish(job_id)

    assert (status.status, status.attempts) == (JobState.FAILED, 1)
    assert status.error is not None and status.error["code"] == "jobs.result_not_json"


# -- embedded mode ---------------------------------------------------------------------------
def test_progress_is_visible_while_the_job_runs(embedded: Harness) -> None:
    job_id = embedded.service.enqueue("test.gated")

    status = _poll(embedded.service, job_id, lambda s: s.progress == 1)
    assert (status.status, status.total, status.message) == (JobState.RUNNING, 2, "half way")

    embedded.kinds.gate.set()
    done = embedded.service.wait(job_id, timeout=10)
    assert (done.status, done.progress, done.message, done.result) == (JobState.FINISHED, 2, "half way", "done")


def test_retry_waits_for_its_backoff_in_embedded_mode(db: Database, tmp_path: Any, kinds: Kinds) -> None:
    # rq schedules in whole seconds, so a 2 s backoff waits between 1 and 2 s.
    settings = Settings(data_dir=tmp_path, job_max_retries=1)
    service = JobService(db, settings, kinds.registry,
                         connection=embedded_connection(fakeredis.FakeServer()), backoff_base=2)
    policy = service.retry_policy()
    assert policy is not None and (policy.max, policy.intervals) == (1, [2])

    with EmbeddedWorker(service, poll_interval=0.01):
        job_id = service.enqueue("test.flaky", fail_times=1)
        retrying = _poll(service, job_id, lambda s: s.status is JobState.RETRYING)
        failed_at = time.monotonic()
        assert retrying.error == {"code": "jobs.crashed", "detail": "RuntimeError('boom')"}
        scheduled = service.rq_queue("default").scheduled_job_registry
        _poll(service, job_id, lambda s: job_id in scheduled or s.is_final)
        status = service.wait(job_id, timeout=10)

    assert time.monotonic() - failed_at >= 1.0
    assert (status.status, status.attempts, status.result) == (JobState.FINISHED, 2, {"runs": 2})


def test_no_retries_when_max_retries_is_zero(db: Database, tmp_path: Any, kinds: Kinds) -> None:
    settings = Settings(data_dir=tmp_path, job_max_retries=0)
    service = JobService(db, settings, kinds.registry,
                         connection=embedded_connection(fakeredis.FakeServer()))
    assert service.retry_policy() is None
    job_id = service.enqueue("test.flaky", fail_times=1)

    work_burst(service)

    status = service.get(job_id)
    assert (status.status, status.attempts) == (JobState.FAILED, 1)


def test_backoff_is_exponential() -> None:
    assert backoff_intervals(4, 1) == [1, 2, 4, 8]
    assert backoff_intervals(3, 0) == [0, 0, 0]


# -- the service API ---------------------------------------------------------------------------
@pytest.fixture
def idle(db: Database, settings: Settings, kinds: Kinds) -> JobService:
    """A service with no worker: jobs stay queued."""
    return JobService(db, settings, kinds.registry, connection=embedded_connection(fakeredis.FakeServer()))


def test_unknown_job_id_is_not_found(idle: JobService) -> None:
    with pytest.raises(NotFound) as caught:
        idle.get("no-such-job")
    assert caught.value.code == "jobs.not_found"
    assert str(caught.value) == "job 'no-such-job' does not exist"


@pytest.mark.parametrize(("kind", "options", "code"), [
    ("test.nope", {}, "jobs.unknown_kind"),
    ("test.echo", {"queue": "urgent"}, "jobs.unknown_queue"),
    ("test.echo", {"when": object()}, "jobs.params_not_json"),
    ("test.echo", {"ratio": float("nan")}, "jobs.params_not_json"),
])
def test_enqueue_rejects_bad_requests(idle: JobService, kind: str, options: dict[str, Any], code: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        idle.enqueue(kind, **options)
    assert caught.value.code == code
    assert idle.list() == []


def test_list_is_newest_first_and_filters_by_org(idle: JobService) -> None:
    first = idle.enqueue("test.echo", org="acme")
    second = idle.enqueue("test.echo", org="globex")
    third = idle.enqueue("test.echo", org="acme", queue="metadata")

    assert [job.id for job in idle.list()] == [third, second, first]
    assert [job.id for job in idle.list(org="acme")] == [third, first]
    assert [job.id for job in idle.list(limit=1)] == [third]
    assert [(job.status, job.queue) for job in idle.list(org="acme")] == [
        (JobState.QUEUED, "metadata"), (JobState.QUEUED, "default")]


def test_wait_gives_up_after_its_timeout(idle: JobService) -> None:
    job_id = idle.enqueue("test.echo")
    with pytest.raises(JobWaitTimeout) as caught:
        idle.wait(job_id, timeout=0.1)
    assert caught.value.code == "jobs.wait_timeout"
    assert str(caught.value) == f"job {job_id} (test.echo) is still 'queued' after 0.1s"


def test_run_job_of_a_missing_row_is_not_found(idle: JobService) -> None:
    with bound(idle), pytest.raises(NotFound) as caught:
        run_job("01a20000-0000-7000-8000-000000000000")
    assert caught.value.code == "jobs.not_found"


def test_job_service_is_a_job_queue(idle: JobService) -> None:
    queue: JobQueue = idle  # the seam other areas type against
    assert queue.get(queue.enqueue("test.echo")).status is JobState.QUEUED


def test_run_job_needs_a_bound_service() -> None:
    with pytest.raises(RuntimeError, match="no JobService is bound"):
        run_job("any")


def test_run_worker_needs_redis(settings: Settings, kinds: Kinds) -> None:
    with pytest.raises(SettingsError) as caught:
        run_worker(settings, registry=kinds.registry, burst=True)
    assert caught.value.code == "settings.invalid"
    assert "RAPPORT_REDIS_URL" in str(caught.value)


def test_registry_rejects_bad_and_duplicate_kinds(kinds: Kinds) -> None:
    with pytest.raises(ValueError, match="already registered"):
        kinds.registry.register("test.echo", kinds.echo)
    with pytest.raises(ValueError, match="dotted lower-case"):
        kinds.registry.register("Test Echo", kinds.echo)
    with pytest.raises(ValueError, match="queue 'urgent'"):
        kinds.registry.register("test.other", kinds.echo, queue="urgent")


def test_permanent_failure_is_a_rapport_4xx() -> None:
    assert is_permanent(InvalidRequest("bad", code="x.bad"))
    assert is_permanent(RapportError("the base error is a 400"))
    server_error = SettingsError("setting X: missing")
    assert not is_permanent(server_error)  # status 500: retried
    assert not is_permanent(RuntimeError("boom"))
    assert error_body(server_error)["code"] == "settings.invalid"


# -- the forking worker of `rapport worker`, on a real Redis ----------------------------------
@pytest.mark.redis
def test_forking_worker_runs_jobs_on_redis(real_redis: Harness) -> None:
    service = real_redis.service
    ok = service.enqueue("test.echo", org="acme", n=1)
    retried = service.enqueue("test.flaky", fail_times=99)
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        make_worker(service).work(burst=True, with_scheduler=True, logging_level="WARNING")
    finally:
        signal.signal(signal.SIGINT, handlers[0])
        signal.signal(signal.SIGTERM, handlers[1])

    assert service.get(ok).status is JobState.FINISHED
    assert service.get(ok).result["params"] == {"n": 1}
    # Each attempt ran in its own forked work horse; the row counts them all.
    status = service.get(retried)
    assert (status.status, status.attempts) == (JobState.FAILED, 4)


def _final_rq_status(service: JobService, job_id: str) -> RqJobStatus:
    # The row is final a moment before the (embedded) rq worker records its own view.
    rq_job = Job.fetch(job_id, connection=service.connection, serializer=JSONSerializer)
    deadline = time.monotonic() + 5
    while rq_job.get_status() not in (RqJobStatus.FINISHED, RqJobStatus.FAILED) and time.monotonic() < deadline:
        time.sleep(0.01)
    return rq_job.get_status()


def _poll(service: JobService, job_id: str, condition: Callable[[JobStatus], bool],
          timeout: float = 10) -> JobStatus:
    deadline = time.monotonic() + timeout
    while True:
        status = service.get(job_id)
        if condition(status):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} never met the condition; last seen {status.to_dict()}")
        time.sleep(0.01)


def test_a_job_whose_worker_died_is_failed_not_left_running(db: Database, settings: Settings, kinds: Kinds) -> None:

    from rapport.platform.jobs.service import ABANDON_GRACE_SECONDS, JOB_TIMEOUT_SECONDS
    from rapport.platform.sqltypes import utcnow
    from rapport.platform.tables import jobs as job_rows

    service = JobService(db, settings, kinds.registry, connection=embedded_connection(fakeredis.FakeServer()))
    job_id = service.enqueue("test.echo", x=1)
    long_ago = utcnow() - timedelta(seconds=JOB_TIMEOUT_SECONDS + ABANDON_GRACE_SECONDS + 1)
    with db.platform.begin() as conn:  # as a worker killed mid-job leaves it
        conn.execute(job_rows.update().where(job_rows.c.id == job_id).values(status="running", updated_at=long_ago))
    status = service.get(job_id)
    assert status.status == "failed" and status.error["code"] == "jobs.abandoned"


def test_a_worker_stopping_mid_job_fails_the_job(db: Database, settings: Settings, kinds: Kinds) -> None:
    def stop(ctx: JobContext) -> None:
        raise SystemExit(1)

    kinds.registry.register("test.stop", stop)
    service = JobService(db, settings, kinds.registry, connection=embedded_connection(fakeredis.FakeServer()))
    job_id = service.enqueue("test.stop")
    with bound(service), pytest.raises(SystemExit):
        run_job(job_id)
    status = service.get(job_id)
    assert status.status == "failed" and status.error["code"] == "jobs.interrupted"
