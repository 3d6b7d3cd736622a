"""Workers: the embedded worker thread, in-process bursts, and ``rapport worker`` on Redis.

- Embedded mode (no ``RAPPORT_REDIS_URL``): :class:`EmbeddedWorker` runs a daemon thread
  that repeatedly promotes due retries and runs an rq ``SimpleWorker`` (no fork) in burst
  mode against the in-process fakeredis. fakeredis has no Lua (rq's scheduler locks are Lua
  scripts), so instead of rq's scheduler the thread itself moves due jobs from each queue's
  ``ScheduledJobRegistry`` back onto the queue (:func:`promote_due_jobs`); that is how retry
  backoff works in embedded mode.
- Redis mode: :func:`run_worker` runs a real forking rq ``Worker`` with rq's scheduler.

Every worker binds its :class:`JobService` around each job, so :func:`run_job` finds it.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any
from collections.abc import Sequence

import redis
from rq import Queue, SimpleWorker, Worker
from rq.job import Job
from rq.timeouts import TimerDeathPenalty
from rq.utils import current_timestamp

from rapport.platform.db import Database
from rapport.platform.errors import SettingsError
from rapport.platform.jobs.connection import SERIALIZER, is_embedded
from rapport.platform.jobs.model import QUEUES
from rapport.platform.jobs.registry import JobRegistry
from rapport.platform.jobs.runner import bound
from rapport.platform.jobs.service import JobService
from rapport.platform.settings import Settings

log = logging.getLogger(__name__)


class _BindsService:
    """rq worker mixin: the JobService is bound while a job performs."""

    service: JobService

    def perform_job(self, job: Job, queue: Queue, execution: Any) -> bool:
        with bound(self.service):
            return super().perform_job(job, queue, execution)  # type: ignore[misc]


class InProcessWorker(_BindsService, SimpleWorker):
    """A SimpleWorker safe in any thread: no signal handlers, timeouts by timer, not SIGALRM."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass  # signal.signal() only works in the main thread; stop it with stop events instead


class RapportWorker(_BindsService, Worker):
    """The forking rq Worker of ``rapport worker``: each job runs in a forked work horse."""

    def perform_job(self, job: Job, queue: Queue, execution: Any) -> bool:
        if self.is_horse:
            # Never share the parent's pooled database connections across the fork.
            self.service.db.platform.dispose(close=False)
        return super().perform_job(job, queue, execution)


def promote_due_jobs(queues: Sequence[Queue]) -> int:
    """Move jobs whose scheduled time (e.g. a retry backoff) has come back onto their queue."""
    moved = 0
    for queue in queues:
        registry = queue.scheduled_job_registry
        due = registry.get_jobs_to_schedule(current_timestamp())
        if not due:
            continue
        jobs = Job.fetch_many(due, connection=queue.connection, serializer=queue.serializer)
        for job_id, job in zip(due, jobs):
            # Removing first is the claim: of two promoters only one gets a 1 back.
            if registry.remove(job_id) and job is not None:
                queue.enqueue_job(job, at_front=job.should_enqueue_at_front())
                moved += 1
    return moved


def work_burst(service: JobService, queues: Sequence[str] = QUEUES, *,
               max_jobs: int | None = None, logging_level: str | None = None) -> bool:
    """Run the jobs waiting on ``queues`` in this thread, then return (rq burst mode).

    Due retries are promoted first. Returns whether any job ran. Used by the embedded
    worker thread, by tests, and for one-off runs; retries scheduled for later are left
    for a later call.
    """
    rq_queues = service.rq_queues(queues)
    promote_due_jobs(rq_queues)
    if not any(queue.count for queue in rq_queues):
        return False
    worker = InProcessWorker(rq_queues, connection=service.connection, serializer=SERIALIZER,
                             name=f"{service.queue_prefix}rapport-inproc-{uuid.uuid4().hex[:12]}")
    worker.service = service
    return worker.work(burst=True, max_jobs=max_jobs, logging_level=logging_level)


class EmbeddedWorker:
    """Embedded mode's job runner: a daemon thread looping over :func:`work_burst`.

    ``start()`` and ``stop()`` are idempotent. ``stop()`` lets the running job finish.
    """

    def __init__(self, service: JobService, queues: Sequence[str] = QUEUES, *,
                 poll_interval: float = 0.05, burst_size: int = 20) -> None:
        service.rq_queues(queues)  # fail now on an unknown queue name
        self.service = service
        self.queues = tuple(queues)
        self.poll_interval = poll_interval
        self.burst_size = burst_size
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.is_running:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="rapport-embedded-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("embedded job worker: still running a job after %.0fs; left as daemon", timeout)
            self._thread = None

    def __enter__(self) -> EmbeddedWorker:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                worked = work_burst(self.service, self.queues, max_jobs=self.burst_size,
                                    logging_level="WARNING")
            except Exception:  # keep the thread alive: one bad burst must not stop all jobs
                log.exception("embedded job worker: a burst failed; carrying on")
                worked = False
            if not worked:
                self._stopping.wait(self.poll_interval)


def make_worker(service: JobService, queues: Sequence[str] = QUEUES) -> RapportWorker:
    """A forking rq Worker for ``service``'s queues (the worker of ``rapport worker``)."""
    name = f"{service.queue_prefix}{uuid.uuid4().hex}" if service.queue_prefix else None
    worker = RapportWorker(service.rq_queues(queues), connection=service.connection,
                           serializer=SERIALIZER, name=name)
    worker.service = service
    return worker


def run_worker(settings: Settings, queues: Sequence[str] = QUEUES, *, registry: JobRegistry,
               db: Database | None = None, connection: redis.Redis | None = None,
               burst: bool = False) -> bool:
    """Run ``rapport worker``: a real rq Worker with rq's scheduler, on Redis. Blocks.

    Stops on SIGINT/SIGTERM (warm shutdown), or when the queues are empty with ``burst``.
    Returns whether any job ran. ``registry`` must hold the same job kinds as the app's.
    """
    if connection is None:
        if not settings.redis_url:
            raise SettingsError(
                "setting RAPPORT_REDIS_URL: `rapport worker` needs a Redis server; without one, "
                "jobs run inside the app process (embedded mode)")
        connection = redis.Redis.from_url(settings.redis_url)
    service = JobService(db or Database(settings), settings, registry, connection=connection)
    worker = make_worker(service, queues)
    return worker.work(burst=burst, with_scheduler=not is_embedded(connection))
