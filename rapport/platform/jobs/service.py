"""Enqueue jobs and read their status: the API the rest of Rapport uses.

The ``jobs`` row is the record of a job; rq only carries its id. ``enqueue`` writes the
row (``queued``) first and then puts ``run_job(id)`` on the named rq queue, so a worker
never sees an id without a row.
"""

from __future__ import annotations

from datetime import timedelta

import json
import time
from collections.abc import Sequence

import redis
from rq import Queue, Retry

from rapport.platform.db import Database
from rapport.platform.errors import InvalidRequest
from rapport.platform.ids import new_id
from rapport.platform.jobs._store import JobStore
from rapport.platform.jobs.connection import SERIALIZER, connect
from rapport.platform.jobs.model import QUEUES, JobStatus, JobWaitTimeout, JSONValue
from rapport.platform.jobs.registry import JobRegistry
from rapport.platform.jobs.runner import run_job
from rapport.platform.settings import Settings
from rapport.platform.sqltypes import utcnow

# rq's default (180 s) would kill a large import or schema sync half way; progress shows
# that a long job is alive, so the limit only catches jobs that hang.
JOB_TIMEOUT_SECONDS = 60 * 60
#: a running job silent this much longer than rq's time limit has died with its worker
ABANDON_GRACE_SECONDS = 5 * 60


def backoff_intervals(retries: int, base: int) -> list[int]:
    """Seconds to wait before each retry: ``base * 2**n`` — 1, 2, 4... for ``base=1``."""
    return [base * 2**n for n in range(retries)]


class JobService:
    """Jobs of every org. ``connection`` is the seam: inject a (fake)redis for tests.

    ``backoff_base`` is the first retry delay in whole seconds (rq schedules in seconds);
    0 retries at once. ``queue_prefix`` namespaces the rq queues (tests on a shared Redis).
    """

    def __init__(self, db: Database, settings: Settings, registry: JobRegistry, *,
                 connection: redis.Redis | None = None, backoff_base: int = 1,
                 queue_prefix: str = "") -> None:
        if backoff_base < 0:
            raise ValueError(f"backoff_base must be 0 or more seconds, got {backoff_base}")
        self.db = db
        self.settings = settings
        self.registry = registry
        self.store = JobStore(db)
        self.connection = connection if connection is not None else connect(settings)
        self.backoff_base = backoff_base
        self.queue_prefix = queue_prefix

    # -- rq plumbing ---------------------------------------------------------------------
    def rq_queue(self, name: str) -> Queue:
        """The rq queue behind the named Rapport queue (JSON serializer, never pickle)."""
        if name not in QUEUES:
            raise InvalidRequest(f"queue {name!r} is not one of {', '.join(QUEUES)}",
                                 code="jobs.unknown_queue")
        return Queue(self.queue_prefix + name, connection=self.connection, serializer=SERIALIZER)

    def rq_queues(self, names: Sequence[str] = QUEUES) -> list[Queue]:
        return [self.rq_queue(name) for name in names]

    def retry_policy(self) -> Retry | None:
        retries = self.settings.job_max_retries
        if retries < 1:
            return None
        return Retry(max=retries, interval=backoff_intervals(retries, self.backoff_base))

    # -- the API -------------------------------------------------------------------------
    def enqueue(self, kind: str, *, org: str | None = None, queue: str | None = None,
                **params: JSONValue) -> str:
        """Record a job of ``kind`` and queue it; returns the job id.

        ``queue`` defaults to the queue the kind was registered with. ``params`` must be
        JSON (ids and plain values), as they are stored on the row and passed to the job.
        Call it after the caller's own transaction committed (the outbox pattern): the row
        is written in a transaction of its own, and a worker may start at once.
        """
        job_kind = self.registry.get(kind)
        if job_kind is None:
            raise InvalidRequest(
                f"job kind {kind!r} is not registered (known: {', '.join(self.registry.names()) or 'none'})",
                code="jobs.unknown_kind")
        rq_queue = self.rq_queue(queue or job_kind.queue)
        params = _json_params(kind, params)
        job_id = new_id()
        self.store.insert(job_id, org=org, kind=kind, queue=queue or job_kind.queue, params=params)
        try:
            rq_queue.enqueue(run_job, job_id, job_id=job_id, retry=self.retry_policy(),
                             job_timeout=JOB_TIMEOUT_SECONDS, description=f"{kind} {job_id}")
        except Exception as exc:
            self.store.fail(job_id, {"code": "jobs.enqueue_failed", "detail": repr(exc)}, retrying=False)
            raise
        return job_id

    def get(self, job_id: str) -> JobStatus:
        """The job's status row; ``NotFound`` (``jobs.not_found``) for an unknown id."""
        self._fail_abandoned()
        return self.store.get(job_id)

    def list(self, org: str | None = None, limit: int = 50) -> list[JobStatus]:
        """Newest first; only ``org``'s jobs when given."""
        if limit < 1:
            raise InvalidRequest(f"limit must be at least 1, got {limit}", code="jobs.invalid")
        self._fail_abandoned()
        return self.store.list(org, limit)

    def _fail_abandoned(self) -> None:
        self.store.fail_abandoned(utcnow() - timedelta(seconds=JOB_TIMEOUT_SECONDS + ABANDON_GRACE_SECONDS))

    def wait(self, job_id: str, timeout: float, *, poll: float = 0.05) -> JobStatus:
        """Poll the row until the job is ``finished`` or ``failed`` (for the CLI and tests).

        Raises ``JobWaitTimeout`` (``jobs.wait_timeout``) after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            status = self.get(job_id)
            if status.is_final:
                return status
            if time.monotonic() >= deadline:
                raise JobWaitTimeout(
                    f"job {job_id} ({status.kind}) is still {status.status.value!r} after {timeout:g}s",
                    code="jobs.wait_timeout")
            time.sleep(poll)


def _json_params(kind: str, params: dict[str, JSONValue]) -> dict[str, JSONValue]:
    try:
        return json.loads(json.dumps(params, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(
            f"job kind {kind!r}: params must be JSON (ids and plain values): {exc}",
            code="jobs.params_not_json") from None
